// Package emulator puts the simulated Bedrock fleet behind one loopback HTTP
// server that speaks the AWS wire protocols: Bedrock Runtime (Converse and
// InvokeModel), CloudWatch Logs Insights (StartQuery, GetQueryResults,
// DescribeQueries, DescribeLogGroups) and STS GetCallerIdentity. Any AWS
// client can use it: Spillway's own SDK path, the AWS CLI, boto3 or a
// gateway under test.
//
// The account of a request is the one whose access key signed it, and the
// source Region is the Region of the SigV4 credential scope. Signatures are
// not verified: the emulator is a stand-in on loopback, not a security
// boundary.
//
// Time is the emulator's own clock unless a request carries the
// X-Spillway-Time header. Spillway's engine sends it when it drives the
// embedded emulator on simulated time: the emulator then answers at once and
// reports the simulated latency, so a run at any speed gives the same
// outcome for the same seed.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"spillway/engine/fleet"
	"spillway/scenarios"
)

// TimeHeader carries the simulated time of a request, in Unix nanoseconds.
const TimeHeader = "X-Spillway-Time"

// RegionHeader tells Spillway where a call ran. Bedrock itself reveals that
// only in the invocation logs; the emulator adds it so the dashboard can
// show the Region before the logs arrive.
const RegionHeader = "X-Spillway-Inference-Region"

// SecretAccessKey is the secret of every simulated account. The emulator
// does not check signatures, so it only has to look plausible to clients.
const SecretAccessKey = "spillway-emulator-secret-access-key"

// MaxBodyBytes is the largest request body the emulator reads.
const MaxBodyBytes = 8 << 20

// Options tunes the emulator.
type Options struct {
	// Clock is the emulator's time when a request carries no TimeHeader;
	// nil means the wall clock.
	Clock func() time.Time
	// Sleep makes calls without a TimeHeader take their simulated latency on
	// the wall clock, as a real endpoint would. Off, they answer at once.
	Sleep bool
	// QueryTime is how long a Logs Insights query stays Running on the
	// emulator's clock before it completes.
	QueryTime time.Duration
}

// Account is a simulated account as a client sees it.
type Account struct {
	Name, Profile, Region, AccountID string
	AccessKeyID                      string
}

// Server is the emulator for one world: a scenario's accounts, models and
// logs. It is an http.Handler.
type Server struct {
	world  *scenarios.Scenario
	fleet  *fleet.Fleet
	opts   Options
	byKey  map[string]scenarios.Account
	logs   *queries
	epoch  time.Time
	nextID atomic.Uint64
	// regions interns source Region names. A name cut from the
	// Authorization header would keep the whole header alive in every
	// invocation log record: 300 bytes a request over a long run.
	regions sync.Map

	mu       sync.Mutex
	listener net.Listener
	http     *http.Server
}

// New builds the emulator for world. fileModels are the scenario file's
// latency entries; seed fixes every random choice; epoch is when quotas
// start to count.
func New(world *scenarios.Scenario, fileModels []scenarios.Model, seed uint64, epoch time.Time, opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{
		world: world,
		fleet: fleet.New(world, fileModels, seed, epoch),
		opts:  opts,
		byKey: map[string]scenarios.Account{},
		logs:  newQueries(),
		epoch: epoch,
	}
	for _, a := range world.Accounts {
		s.byKey[AccessKeyID(a.Name)] = a
	}
	return s
}

// AccessKeyID is the access key of the simulated account called name. It
// has the shape of a real one, so clients that check the format accept it.
func AccessKeyID(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte("AKIASPLW")
	for v := h.Sum64(); len(b) < 20; v >>= 5 {
		b = append(b, alphabet[v&31])
	}
	return string(b)
}

// Accounts lists the simulated accounts with their access keys.
func (s *Server) Accounts() []Account {
	var out []Account
	for _, a := range s.world.Accounts {
		out = append(out, Account{Name: a.Name, Profile: a.Profile, Region: a.Region, AccountID: a.AccountID,
			AccessKeyID: AccessKeyID(a.Name)})
	}
	return out
}

// Fleet is the simulated fleet behind the server.
func (s *Server) Fleet() *fleet.Fleet { return s.fleet }

// Listen serves on addr, which must be a loopback address; port 0 picks a
// free port. It returns the endpoint URL to give clients.
func (s *Server) Listen(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %v; use HOST:PORT such as 127.0.0.1:4599", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("address %q is not loopback; the emulator listens on 127.0.0.1 or ::1 only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cannot listen on %s: %v; choose another port with --addr", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.listener, s.http = ln, srv
	s.mu.Unlock()
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving and drops open connections.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http == nil {
		return nil
	}
	return s.http.Close()
}

// request is one incoming call with what the emulator worked out about it.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	id      string
	now     time.Time
	virtual bool // the client drives time with TimeHeader
	account scenarios.Account
	region  string // source Region, from the credential scope
}

// ServeHTTP routes a request by protocol: Bedrock by its /model/ path, Logs
// by X-Amz-Target, STS by its form body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, id: s.requestID()}
	defer func() {
		if p := recover(); p != nil {
			// A bug in one handler must not take the emulator down for every
			// other client; the SDK sees a retryable 500.
			writeJSONError(q, jsonProtocol, "InternalServerException", fmt.Sprintf("emulator internal error: %v", p))
		}
	}()
	w.Header().Set("x-amzn-RequestId", q.id)
	q.now, q.virtual = s.opts.Clock(), false
	if v := r.Header.Get(TimeHeader); v != "" {
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeJSONError(q, jsonProtocol, "ValidationException", fmt.Sprintf("%s must be Unix nanoseconds, got %q", TimeHeader, v))
			return
		}
		q.now, q.virtual = time.Unix(0, ns), true
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/model/"):
		s.bedrock(q)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), logsTargetPrefix):
		s.logsAPI(q)
	case r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		s.sts(q)
	default:
		writeJSONError(q, jsonProtocol, "UnknownOperationException", fmt.Sprintf(
			"the emulator serves Bedrock Runtime (POST /model/{modelId}/converse or /invoke), CloudWatch Logs (X-Amz-Target: %s…) and STS GetCallerIdentity; %s %s is none of them",
			logsTargetPrefix, r.Method, r.URL.Path))
	}
}

// authenticate finds the account and source Region from the SigV4
// credential scope: Credential=AKID/date/region/service/aws4_request.
func (s *Server) authenticate(q *request) (code, msg string) {
	auth := q.r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return "MissingAuthenticationTokenException", "Missing Authentication Token: sign requests with SigV4 using an emulator access key (spillway emulator prints them)"
	}
	scope := auth[i+len("Credential="):]
	if j := strings.IndexAny(scope, ", "); j >= 0 {
		scope = scope[:j]
	}
	parts := strings.Split(scope, "/")
	if len(parts) != 5 {
		return "IncompleteSignatureException", fmt.Sprintf("credential scope %q is not AKID/date/region/service/aws4_request", scope)
	}
	acct, ok := s.byKey[parts[0]]
	if !ok {
		var keys []string
		for k, a := range s.byKey {
			keys = append(keys, k+" ("+a.Name+")")
		}
		sort.Strings(keys)
		return "UnrecognizedClientException", fmt.Sprintf(
			"The security token included in the request is invalid: access key %s is not an emulator account; use one of %s",
			parts[0], strings.Join(keys, ", "))
	}
	region, ok := s.regions.Load(parts[2])
	if !ok {
		region, _ = s.regions.LoadOrStore(strings.Clone(parts[2]), strings.Clone(parts[2]))
	}
	q.account, q.region = acct, region.(string)
	return "", ""
}

// signedBody authenticates a Bedrock Runtime or Logs request and reads its
// body. ok is false when either failed; the AWS JSON error has been written.
func (s *Server) signedBody(q *request, proto protocol) (body []byte, ok bool) {
	if code, msg := s.authenticate(q); code != "" {
		writeJSONError(q, proto, code, msg)
		return nil, false
	}
	return readBody(q, proto)
}

// readBody reads at most MaxBodyBytes; ok is false when the body is larger
// or unreadable, and the error has been written.
func readBody(q *request, proto protocol) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		code := map[protocol]string{restProtocol: "ValidationException", jsonProtocol: "InvalidParameterException"}[proto]
		writeJSONError(q, proto, code, fmt.Sprintf("request body is larger than the %d-byte limit", MaxBodyBytes))
		return nil, false
	case err != nil:
		// The client went away mid-request; nobody is left to answer.
		return nil, false
	}
	return body, true
}

// protocol is the JSON dialect of a reply.
type protocol uint8

const (
	restProtocol protocol = iota // Bedrock Runtime: restJson1
	jsonProtocol                 // CloudWatch Logs: awsJson1.1
)

// statusOf is the HTTP status AWS sends with each error code.
var statusOf = map[string]int{
	"MissingAuthenticationTokenException": 403,
	"IncompleteSignatureException":        400,
	"UnrecognizedClientException":         403,
	"UnknownOperationException":           404,
	"SerializationException":              400,
	"InvalidParameterException":           400,
	"MalformedQueryException":             400,
	"LimitExceededException":              400,
}

func status(code string) int {
	if s := fleet.Status[code]; s != 0 {
		return s
	}
	if s := statusOf[code]; s != 0 {
		return s
	}
	return 400
}

// writeJSONError answers in the AWS JSON error shape: the type in the
// X-Amzn-ErrorType header and again in the body's __type, beside message.
func writeJSONError(q *request, proto protocol, code, msg string) {
	h := q.w.Header()
	h.Set("X-Amzn-ErrorType", code)
	writeJSON(q, proto, status(code), map[string]string{"__type": code, "message": msg})
}

func writeJSON(q *request, proto protocol, status int, v any) {
	ct := "application/json"
	if proto == jsonProtocol {
		ct = "application/x-amz-json-1.1"
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own reply types always marshal
	}
	h := q.w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	q.w.WriteHeader(status)
	q.w.Write(b) // a client that hung up gets nothing; the emulator carries on
}

func (s *Server) requestID() string {
	n := s.nextID.Add(1)
	return fmt.Sprintf("5b111a40-0000-4000-8000-%012x", n)
}

// sleep waits d on the wall clock, or until the client gives up.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
