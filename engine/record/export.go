package record

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 256<<10)
	if err := r.Encode(w); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	// CreateTemp makes the file private; an export is meant to be shared.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// Encode writes the export as JSON to w.
func (r *Recorder) Encode(w io.Writer) error {
	summary := r.Summary()
	r.mu.Lock()
	defer r.mu.Unlock()

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
	for i := range r.requests {
		line, err := json.Marshal(&r.requests[i])
		if err != nil {
			return err
		}
		sep := ",\n    "
		if i == 0 {
			sep = "\n    "
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
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

// writeEvents copies the spooled timeline into the export.
func (r *Recorder) writeEvents(w io.Writer) error {
	if r.spool == nil {
		return nil
	}
	if r.spoolErr != nil {
		return fmt.Errorf("event timeline: %w", r.spoolErr)
	}
	if err := r.spoolBuf.Flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, ",\n  \"events\": ["); err != nil {
		return err
	}
	// The spool has no name any more: read it through its descriptor, up
	// to what has been written, without moving the write offset.
	sc := bufio.NewScanner(io.NewSectionReader(r.spool, 0, r.spoolSize))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	first := true
	for sc.Scan() {
		sep := ",\n    "
		if first {
			sep, first = "\n    ", false
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n  ]")
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
	b = strconv.AppendFloat(b, millis(ev.At), 'f', -1, 64)
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
		b = strconv.AppendFloat(b, millis(ev.Until), 'f', -1, 64)
	}
	if ev.Kind == engine.RPMChanged {
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
		b = strconv.AppendFloat(b, millis(ev.TTFT), 'f', -1, 64)
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
	}
	if ev.Kind.Final() {
		b = append(b, `,"latency_ms":`...)
		b = strconv.AppendFloat(b, millis(ev.Latency), 'f', -1, 64)
	}
	if ev.Fallback {
		b = append(b, `,"fallback":true`...)
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
	return append(b, '}')
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
