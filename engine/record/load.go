package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"spillway/engine"
	"spillway/engine/bucket"
	"spillway/scenarios"
)

// Loaded is an export read back: everything the file says, with its event
// timeline decoded into the engine's events, so that the consumers that
// watched the run (the dashboard, the printer, a recorder) can watch it
// again.
type Loaded struct {
	Path        string
	Schema      string
	Scenario    string
	Title       string
	Backend     string // simulated, endpoint or aws
	Endpoint    string
	Seed        uint64
	Speed       float64 // +Inf for "max"
	StartedAt   time.Time
	EndedAt     time.Time
	Duration    time.Duration
	Interrupted bool
	InProgress  bool
	Summary     Summary
	Buckets     []BucketSpec
	RPMChanges  []RPMChange
	Controls    []Control
	Faults      []FaultWindow
	Requests    []Request
	// ScenarioFile is the scenario file the run was read from, when the
	// export carries it (every export from this version on).
	ScenarioFile *ScenarioFile
	// Events is the timeline; nil when the export has none.
	Events []engine.Event
	// Partial says what the export lacks, one notice per line, for a
	// replay to show; empty for a whole record.
	Partial []string
}

// BucketSpec is a bucket as an export lists it.
type BucketSpec struct {
	ID       engine.BucketID
	Semantic scenarios.Limiter
	Limit    scenarios.RPM // RPM, or TPM for a token bucket
	Counting scenarios.Counting
}

// LoadError is an export that cannot be read, with what to do about it.
type LoadError struct {
	Path string
	Why  string
}

func (e *LoadError) Error() string { return e.Path + ": " + e.Why }

// MaxExportSize bounds what Load reads: ten hours at 600 requests a
// minute are well under it, and a stranger's file cannot take the memory.
const MaxExportSize = 2 << 30

// Load reads the export at path. A file that is not a Spillway run record,
// is cut short, or comes from a newer Spillway gets a *LoadError that says
// so. An export without events loads, with a Partial notice; replaying
// needs them, comparing does not.
func Load(path string) (*Loaded, error) { return load(path, parts{requests: true, events: true}) }

// LoadTimeline is Load without the per-request records, which a replay
// does not need (its events hold them): it opens a long record in two
// thirds of the time. Requests is nil.
func LoadTimeline(path string) (*Loaded, error) { return load(path, parts{events: true}) }

// LoadRequests is Load without the event timeline, which a comparison
// does not need: the head holds the limit changes, controls and faults,
// and the requests everything else. Events is nil, and Partial says
// nothing of the timeline.
func LoadRequests(path string) (*Loaded, error) { return load(path, parts{requests: true}) }

// parts are what a load decodes besides the head.
type parts struct{ requests, events bool }

func load(path string, want parts) (*Loaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LoadError{Path: path, Why: fmt.Sprintf("cannot open it: %v", errors.Unwrap(err))}
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, &LoadError{Path: path, Why: "is not a regular file; give the path of a run's JSON export"}
	} else if err == nil && st.Size() > MaxExportSize {
		return nil, &LoadError{Path: path, Why: fmt.Sprintf("is %d MiB, over the %d MiB a record may be", st.Size()>>20, MaxExportSize>>20)}
	}
	data := make([]byte, 0, 512)
	if st, err := f.Stat(); err == nil {
		// Room for the file and the MinRead bytes ReadFrom asks for
		// before it sees the end: one read, no regrowth (with less, the
		// buffer doubles to take the last few bytes).
		data = make([]byte, 0, st.Size()+bytes.MinRead)
	}
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxExportSize)); err != nil {
		return nil, &LoadError{Path: path, Why: fmt.Sprintf("cannot read it: %v", err)}
	}
	data = buf.Bytes()
	out, laidOut, err := decodeLaidOut(data, want)
	if !laidOut {
		out, err = decode(bytes.NewReader(data), want)
	}
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			le.Path = path
			return nil, le
		}
		return nil, &LoadError{Path: path, Why: err.Error()}
	}
	out.Path = path
	return out, nil
}

// Decode reads an export from r; see Load.
func Decode(r io.Reader) (*Loaded, error) { return decode(r, parts{requests: true, events: true}) }

func decode(r io.Reader, want parts) (*Loaded, error) {
	c := &countingReader{r: r}
	dec := json.NewDecoder(c)
	tok, err := dec.Token()
	if err != nil {
		return nil, notRecord(err, c.n)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &LoadError{Why: "is JSON but not a Spillway run record: it is not an object with \"schema\": \"" + Schema + "\""}
	}
	out := &Loaded{}
	fields := map[string]json.RawMessage{} // the head, decoded at the end into exportIn
	sawSchema, sawRequests := false, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, cutShort(err, c.n)
		}
		key, _ := tok.(string)
		switch key {
		case "schema":
			var id string
			if err := dec.Decode(&id); err != nil {
				return nil, cutShort(err, c.n)
			}
			if err := checkSchema(id); err != nil {
				return nil, err
			}
			sawSchema, out.Schema = true, id
		case "requests":
			if err := decodeArray(dec, func() error {
				var q Request
				if !want.requests {
					return dec.Decode(&skipped{})
				}
				if err := dec.Decode(&q); err != nil {
					return err
				}
				out.Requests = append(out.Requests, q)
				return nil
			}); err != nil {
				return nil, notOurs(err, c.n, sawSchema)
			}
			sawRequests = true
		case "events":
			if want.events {
				out.Events = []engine.Event{}
			}
			var in eventIn
			if err := decodeArray(dec, func() error {
				if !want.events {
					return dec.Decode(&skipped{})
				}
				in = eventIn{}
				if err := dec.Decode(&in); err != nil {
					return err
				}
				out.Events = append(out.Events, in.event())
				return nil
			}); err != nil {
				return nil, notOurs(err, c.n, sawSchema)
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, cutShort(err, c.n)
			}
			fields[key] = raw
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, cutShort(err, c.n)
	}
	if !sawSchema {
		return nil, &LoadError{Why: fmt.Sprintf("is JSON but not a Spillway run record: it has no \"schema\": %q", Schema)}
	}
	var head exportIn
	doc, _ := json.Marshal(fields) // raw values the decoder has just checked
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil, &LoadError{Why: fmt.Sprintf("is damaged: %v", err)}
	}
	if !sawRequests || head.Summary == nil {
		return nil, &LoadError{Why: "is a Spillway record without its summary or requests; it was not written by spillway run --json"}
	}
	head.fill(out)
	if want.events {
		out.fixEvents()
	}
	return out, nil
}

// skipped is an array item a load does not keep: the decoder still checks
// that it is an object, so a damaged record is not read as a sound one.
type skipped struct{}

// checkSchema accepts the schema this version writes and refuses another
// tool's or a newer one's, saying which.
func checkSchema(id string) error {
	const prefix = "spillway/run/v"
	switch {
	case id == Schema:
		return nil
	case strings.HasPrefix(id, prefix):
		return &LoadError{Why: fmt.Sprintf("was written by a newer Spillway (schema %s); this one reads %s: upgrade Spillway to read it", id, Schema)}
	}
	return &LoadError{Why: fmt.Sprintf("is JSON but not a Spillway run record: its schema is %q, not %q", id, Schema)}
}

func decodeArray(dec *json.Decoder, each func() error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("expected an array")
	}
	for dec.More() {
		if err := each(); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// notRecord explains a file whose first token is not JSON.
func notRecord(err error, at int64) error {
	if errors.Is(err, io.EOF) {
		return &LoadError{Why: "is empty; a run's record is the JSON that spillway run --json writes"}
	}
	return &LoadError{Why: fmt.Sprintf("is not JSON (%v at byte %d); a run's record is the JSON that spillway run --json writes", err, at)}
}

// cutShort explains a decoding error in the middle of a record: most
// often a copy that stopped early.
func cutShort(err error, at int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &LoadError{Why: fmt.Sprintf("is cut short: it ends at byte %d in the middle of the record; copy it again, or export the run again", at)}
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return &LoadError{Why: fmt.Sprintf("is damaged: %v near byte %d", err, at)}
	}
	return &LoadError{Why: fmt.Sprintf("is not a run record Spillway can read: %v (near byte %d)", err, at)}
}

// notOurs explains an error in a part of the file read before its schema
// was: a field of another tool's that happens to share a name with ours
// is no damage of a Spillway record.
func notOurs(err error, at int64, sawSchema bool) error {
	if sawSchema || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		var le *LoadError
		if errors.As(err, &le) {
			return le
		}
		return cutShort(err, at)
	}
	return &LoadError{Why: fmt.Sprintf("is JSON but not a Spillway run record: it has no \"schema\": %q", Schema)}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// exportIn is the head of an export as Encode writes it, with the
// summary a pointer, so that a head without one is told apart.
type exportIn struct {
	export
	Summary *Summary `json:"summary"`
}

func (h *exportIn) fill(out *Loaded) {
	out.Scenario, out.Title, out.Backend, out.Endpoint, out.Seed = h.Scenario, h.Title, h.Backend, h.Endpoint, h.Seed
	out.Speed = speedOf(h.Speed)
	out.StartedAt, out.EndedAt = h.StartedAt, h.EndedAt
	out.Duration = exactDuration(h.DurationMS)
	out.Interrupted, out.InProgress = h.Interrupted, h.InProgress
	out.Summary = *h.Summary
	out.RPMChanges, out.Controls, out.Faults, out.ScenarioFile = h.RPMChanges, h.Controls, h.Faults, h.ScenarioFile
	for _, b := range h.Buckets {
		spec := BucketSpec{ID: engine.BucketID(b.ID), Semantic: scenarios.Limiter(b.Semantic), Counting: scenarios.Counting(b.Counting)}
		switch {
		case b.TPM != nil:
			spec.Limit = *b.TPM
		case b.RPM != nil:
			spec.Limit = *b.RPM
		}
		out.Buckets = append(out.Buckets, spec)
	}
}

// fixEvents completes what the timeline's JSON leaves to the head: the
// run's start, its buckets' semantics and units. It notes what is missing.
func (l *Loaded) fixEvents() {
	switch {
	case l.Events == nil:
		l.Partial = append(l.Partial, "this record has no event timeline, so it cannot be played back (it was exported without one, or by an older Spillway); compare and report read its summary and requests")
		return
	case len(l.Events) == 0 || l.Events[0].Kind != engine.RunStarted:
		l.Partial = append(l.Partial, "this record's timeline does not start with the run's start; it cannot be played back")
		return
	}
	info := l.Events[0].Info
	info.Start = l.StartedAt.Local()
	info.Title = l.Title
	info.Buckets = l.startLevels()
	sampled := false
	for i := range l.Events {
		ev := &l.Events[i]
		if ev.Kind != engine.Levels {
			continue
		}
		for j := range ev.Levels {
			l.complete(&ev.Levels[j])
		}
		if !sampled {
			// Arrival rates are first written with the levels.
			for j := range info.Buckets {
				for _, lv := range ev.Levels {
					if lv.ID == info.Buckets[j].ID {
						info.Buckets[j].Rate = lv.Rate
					}
				}
			}
		}
		sampled = true
	}
	if last := l.Events[len(l.Events)-1]; last.Kind != engine.RunEnded {
		l.Partial = append(l.Partial, fmt.Sprintf("this record stops at %s without the run's end (it was exported while the run went on, or cut short): it plays what there is", fmt.Sprintf("%.1fs", last.At.Seconds())))
	}
	if !sampled {
		l.Partial = append(l.Partial, "this record has no bucket levels (an older Spillway wrote it): the gauges show each limit, not its fill")
	}
}

// startLevels are the buckets as the run started: full.
func (l *Loaded) startLevels() []engine.BucketLevel {
	out := make([]engine.BucketLevel, 0, len(l.Buckets))
	for _, b := range l.Buckets {
		lv := engine.BucketLevel{ID: b.ID, Counting: b.Counting}
		lv.Semantic, lv.RPM, lv.Unit = b.Semantic, b.Limit, bucket.Requests
		if b.ID.Tokens() {
			lv.Unit = bucket.Tokens
		}
		lv.Available, lv.Capacity = float64(b.Limit), float64(b.Limit)
		out = append(out, lv)
	}
	return out
}

// complete gives a sampled level what the head knows of its bucket.
func (l *Loaded) complete(lv *engine.BucketLevel) {
	for _, b := range l.Buckets {
		if b.ID == lv.ID {
			lv.Semantic, lv.Counting = b.Semantic, b.Counting
			break
		}
	}
	lv.Unit = bucket.Requests
	if lv.ID.Tokens() {
		lv.Unit = bucket.Tokens
	}
}

func speedOf(raw json.RawMessage) float64 {
	if string(raw) == `"max"` {
		return math.Inf(1)
	}
	var v float64
	if json.Unmarshal(raw, &v) != nil {
		return 1
	}
	return v
}

// exactDuration is the inverse of appendExactMS.
func exactDuration(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }

// eventIn is one event of the timeline as appendEvent writes it.
type eventIn struct {
	TMS          float64                  `json:"t_ms"`
	Kind         string                   `json:"kind"`
	Request      int                      `json:"request"`
	Attempt      int                      `json:"attempt"`
	Tenant       string                   `json:"tenant"`
	Group        string                   `json:"group"`
	Deployment   string                   `json:"deployment"`
	Model        string                   `json:"model"`
	Account      string                   `json:"account"`
	Region       string                   `json:"region"`
	Bucket       string                   `json:"bucket"`
	Reason       string                   `json:"reason"`
	Health       string                   `json:"health"`
	UntilMS      float64                  `json:"until_ms"`
	RPM          scenarios.RPM            `json:"rpm"`
	InputTokens  int                      `json:"input_tokens"`
	OutputTokens int                      `json:"output_tokens"`
	MaxTokens    int                      `json:"max_tokens"`
	TTFTMS       float64                  `json:"ttft_ms"`
	Streamed     int                      `json:"streamed"`
	Rate         float64                  `json:"rate"`
	Speed        json.RawMessage          `json:"speed"`
	FaultID      int                      `json:"fault_id"`
	Fault        string                   `json:"fault"`
	Live         bool                     `json:"live"`
	FaultDetail  *FaultDetail             `json:"fault_detail"`
	LatencyMS    float64                  `json:"latency_ms"`
	Fallback     bool                     `json:"fallback"`
	Error        string                   `json:"error"`
	Message      string                   `json:"message"`
	Scenario     string                   `json:"scenario"`
	Seed         uint64                   `json:"seed"`
	Planned      int                      `json:"planned"`
	Regions      map[string]int           `json:"regions"`
	Unaccounted  int                      `json:"unaccounted"`
	Final        bool                     `json:"final"`
	TimedOut     bool                     `json:"timed_out"`
	Interrupted  bool                     `json:"interrupted"`
	Levels       []LevelSample            `json:"levels"`
	Buckets      map[string]scenarios.RPM `json:"buckets"`
	Replica      int                      `json:"replica"`
	Fleet        *fleetIn                 `json:"fleet"`
}

// fleetIn is a run_started event's fleet: a run as replicas.
type fleetIn struct {
	Replicas int    `json:"replicas"`
	Limits   string `json:"limits"`
	Where    string `json:"where"`
}

var kindByName = func() map[string]engine.Kind {
	out := map[string]engine.Kind{}
	for k := engine.RunStarted; k <= engine.RunEnded; k++ {
		out[k.String()] = k
	}
	return out
}()

// event is the engine's event the JSON was written from.
func (in *eventIn) event() engine.Event {
	kind, known := kindByName[in.Kind]
	if !known {
		// A kind a newer v1 added: kept, and ignored by every consumer.
		kind = engine.RunEnded + 1
	}
	ev := engine.Event{
		At: exactDuration(in.TMS), Kind: kind, Request: in.Request, Attempt: in.Attempt,
		Tenant: in.Tenant, Group: in.Group, Deployment: in.Deployment, Model: in.Model, Account: in.Account, Region: in.Region,
		Bucket: engine.BucketID(in.Bucket), Reason: in.Reason, Until: exactDuration(in.UntilMS), RPM: in.RPM,
		InputTokens: in.InputTokens, OutputTokens: in.OutputTokens, MaxTokens: in.MaxTokens,
		TTFT: exactDuration(in.TTFTMS), Streamed: in.Streamed, Rate: in.Rate,
		Latency: exactDuration(in.LatencyMS), Fallback: in.Fallback, Code: in.Error, Message: in.Message,
		Interrupted: in.Interrupted, Replica: in.Replica,
	}
	switch kind {
	case engine.HealthChanged:
		ev.Health = in.Health
		if ev.Health == "healthy" {
			ev.Health = engine.Healthy
		}
	case engine.SpeedChanged:
		ev.Speed = speedOf(in.Speed)
	case engine.FaultStarted, engine.FaultEnded:
		f := scenarios.Fault{Kind: scenarios.FaultKind(strings.Fields(in.Fault + " ?")[0])}
		if in.FaultDetail != nil {
			f = in.FaultDetail.fault()
		}
		ev.Fault = &engine.FaultInfo{ID: in.FaultID, Fault: f, Live: in.Live}
	case engine.RunStarted:
		ev.Info = &engine.RunInfo{Scenario: in.Scenario, Seed: in.Seed, Speed: speedOf(in.Speed), Planned: in.Planned}
		if f := in.Fleet; f != nil {
			ev.Info.Fleet = &engine.FleetInfo{Replicas: f.Replicas, Limits: f.Limits, Where: f.Where}
		}
	case engine.RegionsPolled:
		p := &engine.RegionPoll{Account: in.Account, Unaccounted: in.Unaccounted, Error: in.Error, Final: in.Final, TimedOut: in.TimedOut}
		for region, n := range in.Regions {
			p.Counts = append(p.Counts, engine.RegionCount{Region: region, Count: n})
		}
		sortCounts(p.Counts)
		ev.Regions, ev.Code = p, ""
	case engine.Levels:
		ev.Levels = make([]engine.BucketLevel, len(in.Levels))
		for i, s := range in.Levels {
			ev.Levels[i] = s.level()
		}
	}
	return ev
}

func sortCounts(counts []engine.RegionCount) {
	slices.SortFunc(counts, func(a, b engine.RegionCount) int { return strings.Compare(a.Region, b.Region) })
}

// level is the sample as a bucket level; the caller adds what the head
// knows (semantic, unit, counting).
func (s LevelSample) level() engine.BucketLevel {
	lv := engine.BucketLevel{ID: engine.BucketID(s.Bucket), Health: s.Health, HealthUntil: exactDuration(s.UntilMS), Rate: s.Rate}
	lv.RPM, lv.Admitted, lv.Rejected, lv.Used = s.RPM, s.Admitted, s.Rejected, s.Used
	lv.WindowResetsIn = exactDuration(s.ResetsInMS)
	lv.Available, lv.Capacity = math.Inf(1), math.Inf(1)
	if s.Available != nil && s.Capacity != nil {
		lv.Available, lv.Capacity = *s.Available, *s.Capacity
	}
	return lv
}

// Head is the start of an export: enough to list it.
type Head struct {
	Scenario, Title, Backend string
	StartedAt                time.Time
}

// Peek reads only the head of the export at path, for a list of recorded
// runs: it stops at the summary, so a large record costs no more than a
// small one. A file that is not a Spillway record is an error.
func Peek(path string) (Head, error) {
	f, err := os.Open(path)
	if err != nil {
		return Head{}, err
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Head{}, &LoadError{Path: path, Why: "is not a Spillway run record"}
	}
	var h Head
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Head{}, &LoadError{Path: path, Why: "is cut short"}
		}
		key, _ := tok.(string)
		var target any
		switch key {
		case "schema":
			var id string
			if err := dec.Decode(&id); err != nil {
				return Head{}, &LoadError{Path: path, Why: "is cut short"}
			}
			if err := checkSchema(id); err != nil {
				return Head{}, err
			}
			first = false
			continue
		case "scenario":
			target = &h.Scenario
		case "title":
			target = &h.Title
		case "backend":
			target = &h.Backend
		case "started_at":
			target = &h.StartedAt
		case "summary":
			return h, nil
		}
		if first {
			return Head{}, &LoadError{Path: path, Why: "is not a Spillway run record"}
		}
		if target == nil {
			var skip json.RawMessage
			target = &skip
		}
		if err := dec.Decode(target); err != nil {
			return Head{}, &LoadError{Path: path, Why: "is cut short"}
		}
	}
	return h, nil
}
