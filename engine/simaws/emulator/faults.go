package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

// FaultsPath is where the fault API lives: Spillway's own control plane,
// on the emulator's port beside the AWS protocols, under a path no AWS
// protocol uses. It makes the simulated fleet fail on demand, with the
// failures a scenario file declares under [[scenario.fault]], for any
// client: the CLI (spillway fault), curl, FaultClient, or a Spillway run
// driving its embedded emulator.
//
//	GET    /_spillway/faults        200 {"faults":[FaultState…]}: those in effect or still to start
//	POST   /_spillway/faults        201 FaultState: start one
//	DELETE /_spillway/faults/{id}   200 FaultState: stop one; 404 if none by that id is on
//
// A POST body has the keys of a file's [[scenario.fault]] table (kind,
// account, region, model, rate, quota_rpm, factor, error, duration),
// checked by the same code with the same rules and messages
// (scenarios.Scenario.CheckFault), and two of its own that place the fault
// in time:
//
//   - from_ns, Unix nanoseconds: when it starts. Absent or 0: the
//     request's time, which is its wire.TimeHeader if it has one, else the
//     emulator's clock.
//   - to_ns, Unix nanoseconds: when it ends. Or duration, as in the file:
//     how long after its start. Neither, or 0: until it is stopped.
//
// A client on simulated time, such as Spillway's engine scheduling a
// declared fault's whole window when a run starts, gives from_ns and to_ns;
// a person gives a duration or nothing. A DELETE ends the fault, and a GET
// lists, at the request's time by the same rule. Ids are the emulator's,
// from 1 up, never reused. Errors are {"message": "…"}, naming the key at
// fault.
//
// Like the rest of the emulator the API has no keys, since it listens on
// loopback only. What it refuses is a web page: a browser may send a
// request to 127.0.0.1 from any site, so a POST must say Content-Type:
// application/json (which a page cannot send to another site without
// asking first), and the Host must be a loopback name, which a DNS-rebound
// page's is not.
const FaultsPath = controlPrefix + "faults"

// controlPrefix starts every path of Spillway's own API. No AWS protocol
// the emulator speaks uses it: Bedrock's paths start /model/, and Logs and
// STS post to /.
const controlPrefix = "/_spillway/"

// MaxFaults caps the faults in effect or still to start at once. Every
// call is checked against each, and a scenario declares a handful; the cap
// keeps a client in a loop from slowing every call without bound. Faults
// that are over are kept only to judge calls that arrive late with a
// simulated time inside them, at most MaxFaults of them, the newest.
const MaxFaults = 256

// maxFaultBody bounds a fault API request body: a fault is a few hundred
// bytes.
const maxFaultBody = 16 << 10

// faultBodyTooLarge marks, for readBody, a body over maxFaultBody.
const faultBodyTooLarge = "PayloadTooLarge"

// maxFaultName bounds the kind, account, Region and error code a client
// names, so that a message quoting one stays short; a model id may be as
// long as Bedrock allows.
const maxFaultName = maxQuoted

// FaultState is a fault the emulator holds, as the fault API shows it: the
// scenario file's keys, and its window in Unix nanoseconds.
type FaultState struct {
	ID       int                 `json:"id"`
	Kind     scenarios.FaultKind `json:"kind"`
	Account  string              `json:"account,omitempty"`
	Region   string              `json:"region,omitempty"`
	Model    string              `json:"model,omitempty"`
	Rate     float64             `json:"rate,omitempty"`
	QuotaRPM scenarios.RPM       `json:"quota_rpm,omitempty"`
	Factor   float64             `json:"factor,omitempty"`
	Error    string              `json:"error,omitempty"`
	Tokens   int                 `json:"tokens,omitempty"`
	StallNS  int64               `json:"stall_ns,omitempty"`
	FromNS   int64               `json:"from_ns"`
	ToNS     int64               `json:"to_ns"` // 0: until stopped
	// Description names the fault as the dashboard and the run's JSON do,
	// such as "region-outage us-east-1".
	Description string `json:"description"`
}

// Fault is the fault itself, without its window.
func (s FaultState) Fault() scenarios.Fault {
	return scenarios.Fault{Kind: s.Kind, Account: s.Account, Region: s.Region, Model: s.Model,
		Rate: s.Rate, QuotaRPM: s.QuotaRPM, Factor: s.Factor, Error: s.Error, Tokens: s.Tokens, Stall: time.Duration(s.StallNS)}
}

// From is when the fault starts.
func (s FaultState) From() time.Time { return time.Unix(0, s.FromNS) }

// To is when the fault ends; zero while it lasts until stopped.
func (s FaultState) To() time.Time {
	if s.ToNS == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.ToNS)
}

func faultState(w fleet.FaultWindow) FaultState {
	f := w.Fault
	s := FaultState{ID: w.ID, Kind: f.Kind, Account: f.Account, Region: f.Region, Model: f.Model,
		Rate: f.Rate, QuotaRPM: f.QuotaRPM, Factor: f.Factor, Error: f.Error, Tokens: f.Tokens, StallNS: int64(f.Stall),
		FromNS: w.From.UnixNano(), Description: f.String()}
	if !w.To.IsZero() {
		s.ToNS = w.To.UnixNano()
	}
	return s
}

// faultRequest is a POST body: a file's fault keys and the window's.
type faultRequest struct {
	scenarios.FaultInput
	FromNS int64 `json:"from_ns"`
	ToNS   int64 `json:"to_ns"`
}

// faultKeys lists what a POST body may hold, for the message about one it
// may not.
const faultKeys = "kind, account, region, model, rate, quota_rpm, factor, error, duration, from_ns, to_ns"

// faultProblem is a fault API request refused: the HTTP status and why.
type faultProblem struct {
	status int
	msg    string
}

func faultErrorf(status int, format string, args ...any) *faultProblem {
	return &faultProblem{status, fmt.Sprintf(format, args...)}
}

// faultAPI serves a request under controlPrefix.
func (s *Server) faultAPI(q *request) {
	if p := s.serveFaults(q); p != nil {
		writeFaultError(q, p.status, p.msg)
	}
}

// writeFaultError answers as the fault API refuses: {"message": "…"}.
func writeFaultError(q *request, status int, msg string) {
	writeJSON(q, restProtocol, status, map[string]string{"message": msg})
}

func (s *Server) serveFaults(q *request) *faultProblem {
	r := q.r
	if !loopbackHost(r.Host) {
		return faultErrorf(http.StatusForbidden,
			"the fault API answers requests addressed to a loopback host, such as 127.0.0.1 or localhost, not %q", clip(r.Host))
	}
	if r.URL.Path == FaultsPath {
		switch r.Method {
		case http.MethodGet:
			return s.listFaults(q)
		case http.MethodPost:
			return s.startFault(q)
		}
		q.w.Header().Set("Allow", "GET, POST")
		return faultErrorf(http.StatusMethodNotAllowed, "%s takes GET (list the faults) or POST (start one), not %s", FaultsPath, clip(r.Method))
	}
	idText, ok := strings.CutPrefix(r.URL.Path, FaultsPath+"/")
	if !ok {
		return faultErrorf(http.StatusNotFound, "no such path %s; the fault API is %s and %s/{id}", clip(r.URL.Path), FaultsPath, FaultsPath)
	}
	if r.Method != http.MethodDelete {
		q.w.Header().Set("Allow", "DELETE")
		return faultErrorf(http.StatusMethodNotAllowed, "%s/{id} takes DELETE (stop the fault), not %s", FaultsPath, clip(r.Method))
	}
	id, err := strconv.Atoi(idText)
	if err != nil || id < 1 {
		return faultErrorf(http.StatusNotFound, "no fault %q: ids are whole numbers from 1; GET %s lists them", clip(idText), FaultsPath)
	}
	return s.stopFault(q, id)
}

// loopbackHost reports whether a request's Host names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) listFaults(q *request) *faultProblem {
	states := []FaultState{} // [] rather than null when there are none
	for _, w := range s.fleet.Faults(q.now) {
		states = append(states, faultState(w))
	}
	writeJSON(q, restProtocol, http.StatusOK, map[string][]FaultState{"faults": states})
	return nil
}

func (s *Server) startFault(q *request) *faultProblem {
	if mt, _, err := mime.ParseMediaType(q.r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return faultErrorf(http.StatusUnsupportedMediaType, "send the fault as JSON with Content-Type: application/json, not %q", clip(q.r.Header.Get("Content-Type")))
	}
	body, problem := s.readBody(q, maxFaultBody, faultBodyTooLarge)
	switch {
	case problem == nil:
	case problem.code == "":
		return nil // the client has gone
	case problem.code == faultBodyTooLarge:
		return faultErrorf(http.StatusRequestEntityTooLarge, "%s", problem.msg)
	default:
		return faultErrorf(status(problem.code), "%s", problem.msg)
	}
	in, p := decodeFault(body)
	if p != nil {
		return p
	}
	from, to, p := faultWindow(in, q.now)
	if p != nil {
		return p
	}

	// Checking the cap and the slowdowns against the faults on, then
	// adding, is one step: two clients must not both take the last place.
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	on := s.fleet.Faults(q.now)
	if len(on) >= MaxFaults {
		return faultErrorf(http.StatusConflict, "%d faults are in effect or scheduled, the most the emulator holds; stop one first (DELETE %s/{id})", len(on), FaultsPath)
	}
	others := make([]scenarios.Fault, len(on))
	for i, w := range on {
		others[i] = w.Fault
	}
	fault, err := s.world.CheckFault(in.FaultInput, others)
	if err != nil {
		return faultErrorf(http.StatusBadRequest, "%s", faultErrorMessage(err))
	}
	switch {
	case !to.IsZero():
		fault.Duration = to.Sub(from)
	case fault.Duration > 0:
		to = from.Add(fault.Duration)
	}
	s.fleet.ForgetEndedFaults(q.now, MaxFaults)
	id := s.fleet.StartFault(fault, from, to)
	q.w.Header().Set("Location", FaultsPath+"/"+strconv.Itoa(id))
	writeJSON(q, restProtocol, http.StatusCreated, faultState(fleet.FaultWindow{ID: id, Fault: fault, From: from, To: to}))
	return nil
}

// decodeFault reads a POST body strictly, as a scenario file is read: one
// JSON object, no keys it does not know, names of bounded length.
func decodeFault(body []byte) (faultRequest, *faultProblem) {
	var in faultRequest
	const example = `{"kind":"region-outage","region":"us-east-1","duration":"30s"}`
	if len(bytes.TrimSpace(body)) == 0 {
		return in, faultErrorf(http.StatusBadRequest, "the body is empty; send a fault as JSON, such as %s", example)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more follows the fault's JSON object")
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return in, faultErrorf(http.StatusBadRequest, "the body must be one JSON object, not a JSON %s; send a fault such as %s", clip(typeErr.Value), example)
	case errors.As(err, &typeErr):
		key := typeErr.Field[strings.LastIndexByte(typeErr.Field, '.')+1:]
		want := "a string"
		if typeErr.Type.Kind() == reflect.Int64 {
			want = "a whole number of Unix nanoseconds"
		}
		return in, faultErrorf(http.StatusBadRequest, "%s: must be %s, not a JSON %s", key, want, clip(typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return in, faultErrorf(http.StatusBadRequest, "unknown key %s; a fault's keys are %s",
			clip(strings.TrimPrefix(err.Error(), "json: unknown field ")), faultKeys)
	default:
		return in, faultErrorf(http.StatusBadRequest, "the body is not one JSON object (%s); send a fault such as %s", clip(err.Error()), example)
	}
	for _, kv := range []struct{ key, v string }{{"kind", in.Kind}, {"account", in.Account}, {"region", in.Region}, {"error", in.Error}} {
		if len(kv.v) > maxFaultName {
			return in, faultErrorf(http.StatusBadRequest, "%s: %q is longer than %d bytes", kv.key, clip(kv.v), maxFaultName)
		}
	}
	if len(in.Model) > maxModelIDLength {
		return in, faultErrorf(http.StatusBadRequest, "model: a model id is at most %d characters, as on Bedrock", maxModelIDLength)
	}
	if in.At != nil {
		// A file's at counts from its run's start; the API has no run.
		return in, faultErrorf(http.StatusBadRequest, "at: the fault API has no run to count from; give from_ns (Unix nanoseconds), or leave it out to start now")
	}
	return in, nil
}

// faultWindow works out when the fault starts and ends from from_ns,
// to_ns and duration; now is the request's time. to is zero for a fault
// that lasts until stopped.
func faultWindow(in faultRequest, now time.Time) (from, to time.Time, p *faultProblem) {
	from = now
	if in.FromNS != 0 {
		if from, p = windowEnd("from_ns", in.FromNS); p != nil {
			return from, to, p
		}
	}
	if in.ToNS == 0 {
		return from, to, nil // a duration, if any, is checked and applied with the fault, as in a file
	}
	if in.Duration != nil {
		return from, to, faultErrorf(http.StatusBadRequest, "to_ns: give duration or to_ns, not both")
	}
	if to, p = windowEnd("to_ns", in.ToNS); p != nil {
		return from, to, p
	}
	if span := to.Sub(from); !(0 < span && span <= scenarios.MaxSpan) {
		return from, to, faultErrorf(http.StatusBadRequest,
			"to_ns: the fault would end %s after it starts (at from_ns, or the request's time); it must end after it starts, and at most %s after, as a fault's duration is",
			span, scenarios.FormatDuration(scenarios.MaxSpan))
	}
	return from, to, nil
}

// windowEnd reads from_ns or to_ns: Unix nanoseconds within the years
// simulated time may take.
func windowEnd(key string, ns int64) (time.Time, *faultProblem) {
	at := time.Unix(0, ns)
	if at.Before(earliestTime) || !at.Before(latestTime) {
		return at, faultErrorf(http.StatusBadRequest, "%s: %d is not Unix nanoseconds from %s up to %s",
			key, ns, earliestTime.Format(time.DateOnly), latestTime.Format(time.DateOnly))
	}
	return at, nil
}

// faultErrorMessage joins the checker's errors, each "key: message".
func faultErrorMessage(err error) string {
	var es scenarios.Errors
	if !errors.As(err, &es) {
		return err.Error()
	}
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (s *Server) stopFault(q *request, id int) *faultProblem {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	w, ok := s.fleet.StopFault(id, q.now)
	if !ok {
		return faultErrorf(http.StatusNotFound, "no fault %d is in effect or scheduled; GET %s lists those that are", id, FaultsPath)
	}
	s.fleet.ForgetEndedFaults(q.now, MaxFaults)
	writeJSON(q, restProtocol, http.StatusOK, faultState(w))
	return nil
}
