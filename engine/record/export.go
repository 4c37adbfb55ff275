package record

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"spillway/engine"
	"spillway/scenarios"
)

// export is the top of the JSON document. Requests and events are streamed
// after it rather than built in memory.
type export struct {
	Schema      string          `json:"schema"`
	Scenario    string          `json:"scenario"`
	Title       string          `json:"title"`
	Backend     string          `json:"backend"`
	Endpoint    string          `json:"endpoint,omitempty"`
	Seed        uint64          `json:"seed"`
	Speed       json.RawMessage `json:"speed"`
	StartedAt   time.Time       `json:"started_at"`
	EndedAt     time.Time       `json:"ended_at"`
	DurationMS  float64         `json:"duration_ms"`
	Interrupted bool            `json:"interrupted"`
	// InProgress marks an export taken while the run was still going: the
	// duration is up to the latest event, and some requests are pending.
	InProgress bool          `json:"in_progress,omitempty"`
	Summary    Summary       `json:"summary"`
	Buckets    []bucketOut   `json:"buckets"`
	RPMChanges []RPMChange   `json:"rpm_changes"`
	Controls   []Control     `json:"controls"`
	Faults     []FaultWindow `json:"faults"`
	// ScenarioFile is the file the scenario was read from, whole.
	ScenarioFile *ScenarioFile `json:"scenario_file,omitempty"`
}

type bucketOut struct {
	ID       string         `json:"id"`
	Semantic string         `json:"semantic"`
	RPM      *scenarios.RPM `json:"rpm,omitempty"`
	TPM      *scenarios.RPM `json:"tpm,omitempty"`
	Counting string         `json:"counting,omitempty"` // a TPM bucket's: reserve or after-success
}

// WriteFile writes the export to path atomically: a temporary file in the
// same directory, then a rename, so a reader never sees half a file. A
// symbolic link is followed to the file it names; a path that is not a
// regular file (a device, a pipe) is refused, see ExportTarget.
func (r *Recorder) WriteFile(path string) error {
	target, err := ExportTarget(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := WriteAtomically(target, r.Encode); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// Encode writes the export as JSON to w.
func (r *Recorder) Encode(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	summary := r.summary()

	endAt := r.endAt
	if !r.ended {
		endAt = r.lastAt
	}
	head := export{
		Schema:      Schema,
		Scenario:    r.info.Scenario,
		Title:       r.info.Title,
		Backend:     r.meta.Backend,
		Endpoint:    r.meta.Endpoint,
		Seed:        r.info.Seed,
		Speed:       speedJSON(r.info.Speed),
		StartedAt:   r.info.Start.UTC(),
		EndedAt:     r.info.Start.Add(endAt).UTC(),
		DurationMS:  millis(endAt),
		Interrupted: r.interrupt,
		InProgress:  !r.ended,
		Summary:     summary,
		RPMChanges:  r.rpm,
		Controls:    r.controls,
		Faults:      r.faults,
	}
	if r.meta.Source.TOML != "" {
		source := r.meta.Source
		head.ScenarioFile = &source
	}
	if head.RPMChanges == nil {
		head.RPMChanges = []RPMChange{}
	}
	if head.Controls == nil {
		head.Controls = []Control{}
	}
	if head.Faults == nil {
		head.Faults = []FaultWindow{}
	}
	for _, b := range r.info.Buckets {
		out := bucketOut{ID: string(b.ID), Semantic: string(b.Semantic), Counting: string(b.Counting)}
		if limit := b.RPM; b.ID.Tokens() {
			out.TPM = &limit
		} else {
			out.RPM = &limit
		}
		head.Buckets = append(head.Buckets, out)
	}
	top, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// Reopen the object to append the two long arrays.
	if _, err := w.Write(top[:len(top)-2]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, ",\n  \"requests\": ["); err != nil {
		return err
	}
	if err := r.writeRequests(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\n  ]"); err != nil {
		return err
	}
	if err := r.writeEvents(w); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n}\n")
	return err
}

// writeRequests writes the records in id order: the spooled ones as they
// were spooled, those in memory encoded now, with the same bytes.
func (r *Recorder) writeRequests(w io.Writer) error {
	sep := "\n    "
	return r.requests.each(func(q *Request, line []byte) error {
		if line == nil {
			var err error
			if line, err = json.Marshal(q); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		sep = ",\n    "
		_, err := w.Write(line)
		return err
	})
}

// writeEvents copies the spooled timeline into the export.
func (r *Recorder) writeEvents(w io.Writer) error {
	if r.events == nil {
		return nil
	}
	contents, err := r.events.contents()
	if err != nil {
		return fmt.Errorf("event timeline: %w", err)
	}
	if _, err := io.WriteString(w, ",\n  \"events\": ["); err != nil {
		return err
	}
	lines := newLineReader(contents)
	sep := "\n    "
	for {
		line, _, err := lines.next()
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("event timeline: %w", err)
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		sep = ",\n    "
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "\n  ]")
	return err
}

func speedJSON(speed float64) json.RawMessage {
	if math.IsInf(speed, 1) {
		return json.RawMessage(`"max"`)
	}
	return json.RawMessage(strconv.FormatFloat(speed, 'f', -1, 64))
}

func rpmJSON(b []byte, rpm scenarios.RPM) []byte {
	text, _ := rpm.MarshalJSON()
	return append(b, text...)
}

// appendEvent encodes one event as a JSON object, omitting zero fields. It is
// hand-written because it runs for every event of every recorded run.
func appendEvent(b []byte, ev engine.Event) []byte {
	b = append(b, `{"t_ms":`...)
	b = appendExactMS(b, ev.At)
	b = append(b, `,"kind":"`...)
	b = append(b, ev.Kind.String()...)
	b = append(b, '"')
	if ev.Request > 0 {
		b = append(b, `,"request":`...)
		b = strconv.AppendInt(b, int64(ev.Request), 10)
	}
	if ev.Attempt > 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(ev.Attempt), 10)
	}
	b = appendField(b, "tenant", ev.Tenant)
	b = appendField(b, "group", ev.Group)
	b = appendField(b, "deployment", ev.Deployment)
	b = appendField(b, "model", ev.Model)
	b = appendField(b, "account", ev.Account)
	b = appendField(b, "region", ev.Region)
	b = appendField(b, "bucket", string(ev.Bucket))
	b = appendField(b, "reason", ev.Reason)
	if ev.Kind == engine.HealthChanged {
		health := ev.Health
		if health == engine.Healthy {
			health = "healthy"
		}
		b = appendField(b, "health", health)
	}
	if ev.Until > 0 {
		b = append(b, `,"until_ms":`...)
		b = appendExactMS(b, ev.Until)
	}
	// The limit a retune set, or the one a refusal or a skip for budget
	// met, which the dashboard names in the lane.
	if ev.Kind == engine.RPMChanged || ev.Bucket != "" && (ev.Kind == engine.RateLimited || ev.Kind == engine.Skipped) {
		b = append(b, `,"rpm":`...)
		b = rpmJSON(b, ev.RPM)
	}
	if ev.InputTokens > 0 {
		b = append(b, `,"input_tokens":`...)
		b = strconv.AppendInt(b, int64(ev.InputTokens), 10)
	}
	if ev.OutputTokens > 0 {
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, int64(ev.OutputTokens), 10)
	}
	if ev.MaxTokens > 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, int64(ev.MaxTokens), 10)
	}
	if ev.TTFT > 0 {
		b = append(b, `,"ttft_ms":`...)
		b = appendExactMS(b, ev.TTFT)
	}
	if ev.Streamed > 0 {
		b = append(b, `,"streamed":`...)
		b = strconv.AppendInt(b, int64(ev.Streamed), 10)
	}
	if ev.Kind == engine.RateChanged {
		b = append(b, `,"rate":`...)
		b = strconv.AppendFloat(b, ev.Rate, 'f', -1, 64)
	}
	if ev.Kind == engine.SpeedChanged {
		b = append(b, `,"speed":`...)
		b = append(b, speedJSON(ev.Speed)...)
	}
	if f := ev.Fault; f != nil {
		b = append(b, `,"fault_id":`...)
		b = strconv.AppendInt(b, int64(f.ID), 10)
		b = appendField(b, "fault", f.Fault.String())
		if f.Live {
			b = append(b, `,"live":true`...)
		}
		b = append(b, `,"fault_detail":`...)
		b = appendFaultDetail(b, f.Fault)
	}
	if ev.Kind.Final() {
		b = append(b, `,"latency_ms":`...)
		b = appendExactMS(b, ev.Latency)
	}
	if ev.Fallback {
		b = append(b, `,"fallback":true`...)
	}
	if ev.Replica > 0 {
		b = append(b, `,"replica":`...)
		b = strconv.AppendInt(b, int64(ev.Replica), 10)
	}
	b = appendField(b, "error", ev.Code)
	b = appendField(b, "message", ev.Message)
	if ev.Info != nil {
		b = appendField(b, "scenario", ev.Info.Scenario)
		b = append(b, `,"seed":`...)
		b = strconv.AppendUint(b, ev.Info.Seed, 10)
		b = append(b, `,"speed":`...)
		b = append(b, speedJSON(ev.Info.Speed)...)
		b = append(b, `,"planned":`...)
		b = strconv.AppendInt(b, int64(ev.Info.Planned), 10)
		b = append(b, `,"buckets":{`...)
		for i, l := range ev.Info.Buckets {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, string(l.ID))
			b = append(b, ':')
			b = rpmJSON(b, l.RPM)
		}
		b = append(b, '}')
		if f := ev.Info.Fleet; f != nil {
			b = append(b, `,"fleet":{"replicas":`...)
			b = strconv.AppendInt(b, int64(f.Replicas), 10)
			b = appendField(b, "limits", f.Limits)
			b = appendField(b, "where", f.Where)
			b = append(b, '}')
		}
	}
	if p := ev.Regions; p != nil {
		b = append(b, `,"regions":{`...)
		for i, c := range p.Counts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c.Region)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(c.Count), 10)
		}
		b = append(b, `},"unaccounted":`...)
		b = strconv.AppendInt(b, int64(p.Unaccounted), 10)
		if p.Final {
			b = append(b, `,"final":true`...)
		}
		if p.TimedOut {
			b = append(b, `,"timed_out":true`...)
		}
		b = appendField(b, "error", p.Error)
	}
	if ev.Interrupted {
		b = append(b, `,"interrupted":true`...)
	}
	if ev.Kind == engine.Levels {
		b = append(b, `,"levels":`...)
		b = appendLevels(b, ev.Levels)
	}
	return append(b, '}')
}

// LevelSample is one bucket's level in a "levels" event. The bucket's
// semantic, unit and counting are the export's "buckets"; Available and
// Capacity are absent for an unlimited bucket.
type LevelSample struct {
	Bucket     string        `json:"bucket"`
	RPM        scenarios.RPM `json:"rpm"`
	Available  *float64      `json:"available,omitempty"`
	Capacity   *float64      `json:"capacity,omitempty"`
	Admitted   int           `json:"admitted"`
	Rejected   int           `json:"rejected"`
	Used       float64       `json:"used"`
	ResetsInMS float64       `json:"resets_in_ms,omitempty"` // a fixed window's next reset
	Health     string        `json:"health,omitempty"`       // a deployment's, when not healthy
	UntilMS    float64       `json:"until_ms,omitempty"`     // when its cooldown or open circuit ends
	Rate       float64       `json:"rate,omitempty"`         // a tenant's arrival rate per minute
}

// appendLevels encodes a levels event's samples. A sample comes once a
// simulated second, so encoding/json's cost does not matter here.
func appendLevels(b []byte, levels []engine.BucketLevel) []byte {
	out := make([]LevelSample, len(levels))
	for i, l := range levels {
		s := LevelSample{Bucket: string(l.ID), RPM: l.RPM, Admitted: l.Admitted, Rejected: l.Rejected,
			Used: round3(l.Used), ResetsInMS: millis(l.WindowResetsIn), Health: l.Health, Rate: l.Rate}
		if l.HealthUntil > 0 {
			s.UntilMS = millis(l.HealthUntil)
		}
		if !math.IsInf(l.Capacity, 1) && !math.IsInf(l.Available, 1) {
			available, capacity := round3(l.Available), round3(l.Capacity)
			s.Available, s.Capacity = &available, &capacity
		}
		out[i] = s
	}
	text, err := json.Marshal(out)
	if err != nil {
		return append(b, "[]"...)
	}
	return append(b, text...)
}

// round3 keeps three decimals: a gauge needs no more, and the export stays
// small.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// appendExactMS writes d in milliseconds to the nanosecond, so that a
// timeline played back puts every event at the instant it happened.
func appendExactMS(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/1e6, 'f', -1, 64)
}

// FaultDetail is a fault event's fault in full, so that a replay knows
// what it touched (the Region an outage took down) and not only its name.
type FaultDetail struct {
	Kind     string        `json:"kind"`
	Account  string        `json:"account,omitempty"`
	Region   string        `json:"region,omitempty"`
	Model    string        `json:"model,omitempty"`
	Rate     float64       `json:"rate,omitempty"`
	QuotaRPM scenarios.RPM `json:"quota_rpm,omitempty"`
	Factor   float64       `json:"factor,omitempty"`
	Error    string        `json:"error,omitempty"`
	Tokens   int           `json:"tokens,omitempty"`
	StallMS  float64       `json:"stall_ms,omitempty"`
}

func appendFaultDetail(b []byte, f scenarios.Fault) []byte {
	text, err := json.Marshal(FaultDetail{Kind: string(f.Kind), Account: f.Account, Region: f.Region, Model: f.Model,
		Rate: f.Rate, QuotaRPM: f.QuotaRPM, Factor: f.Factor, Error: f.Error, Tokens: f.Tokens, StallMS: millis(f.Stall)})
	if err != nil {
		return append(b, "{}"...)
	}
	return append(b, text...)
}

// fault is the detail as a scenario's fault, without its timing, which
// the events carry.
func (d FaultDetail) fault() scenarios.Fault {
	return scenarios.Fault{Kind: scenarios.FaultKind(d.Kind), Account: d.Account, Region: d.Region, Model: d.Model,
		Rate: d.Rate, QuotaRPM: d.QuotaRPM, Factor: d.Factor, Error: d.Error, Tokens: d.Tokens,
		Stall: time.Duration(math.Round(d.StallMS * 1e6))}
}

func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
