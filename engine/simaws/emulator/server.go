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
//
// Beside the AWS protocols, on the same port, the fault API under
// /_spillway/faults makes the simulated fleet fail on demand (see
// FaultsPath), and FaultClient is its Go client.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/semaphore"

	"spillway/engine/simaws/fleet"
	"spillway/scenarios"

	"spillway/engine/wire"
)

// SecretAccessKey is the secret of every simulated account. The emulator
// does not check signatures, so it only has to look plausible to clients.
const SecretAccessKey = "spillway-emulator-secret-access-key"

// MaxBodyBytes is the largest Bedrock Runtime request body the emulator
// reads; larger ones get ValidationException.
const MaxBodyBytes = 8 << 20

// MaxLogsBodyBytes is the largest CloudWatch Logs or STS request body the
// emulator reads; larger ones get InvalidParameterException (Logs) or
// ValidationError (STS). The largest legitimate one, a StartQuery with a
// query of MaxQueryLength characters, is under 50 KB.
const MaxLogsBodyBytes = 1 << 20

// MaxHeaderBytes bounds a request's header block. AWS SDKs send a few
// kilobytes; the 1 MB net/http allows by default would let a thousand
// connections pin a gigabyte.
const MaxHeaderBytes = 64 << 10

// bodyBudget bounds the bytes of request bodies held at once, across all
// connections: eight of the largest, or hundreds of thousands of ordinary
// ones. Bytes are counted as they arrive, not as a Content-Length
// promises, so connections that promise much and send little hold nothing.
const bodyBudget = 64 << 20

// defaultBusyWait is how long a call waits for room in a shared budget
// (request bodies, Logs calls) before it is answered that the emulator is
// busy: a clear error soon, never a hang, even while a stranger fills the
// budget.
const defaultBusyWait = 5 * time.Second

// maxConcurrentLogsCalls bounds the Logs calls served at once. They take
// turns on the query store anyway; the bound keeps the replies being built
// and written, up to megabytes each, from piling up behind clients that read
// slowly.
const maxConcurrentLogsCalls = 8

// Defaults for the HTTP limits in Options.
const (
	// DefaultReadTimeout bounds reading a whole request, body included. On
	// loopback the largest body takes milliseconds; 30 s still leaves room
	// for a client paused in a debugger, and cuts off one trickling a body a
	// byte at a time. It does not bound a call's simulated latency, which is
	// slept after the body has been read.
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout closes a kept-alive connection after two minutes
	// without a request: longer than the 90 s after which Go's and the AWS
	// SDKs' transports drop idle connections themselves, so a client in good
	// standing closes first and never sends on a connection being closed.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultWriteTimeout bounds writing one reply, from when it is ready, so
	// a client that stops reading gives its connection back.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxConnections caps open connections, so a flood cannot exhaust
	// file descriptors or memory; connections past it wait to be accepted.
	// A Spillway run keeps one per concurrent call, tens at most.
	DefaultMaxConnections = 1024
)

// readHeaderTimeout bounds reading a request's headers.
const readHeaderTimeout = 10 * time.Second

// Retention a standalone emulator (spillway emulator) should pass in
// Options, as one that runs for days must not grow without bound. A day is
// longer than any run's Region query looks back, and 200,000 records, about
// 40 MB per account, hold more than five hours at 600 calls a minute.
const (
	StandaloneLogRetention  = 24 * time.Hour
	StandaloneMaxLogRecords = 200_000
)

// Options tunes the emulator.
type Options struct {
	// Clock is the emulator's time when a request carries no wire.TimeHeader;
	// nil means the wall clock.
	Clock func() time.Time
	// Sleep makes calls without a wire.TimeHeader take their simulated latency on
	// the wall clock, as a real endpoint would. Off, they answer at once.
	Sleep bool
	// QueryTime is how long a Logs Insights query stays Running on the
	// emulator's clock before it completes.
	QueryTime time.Duration

	// LogRetention drops invocation log records whose call ended longer ago
	// than this on the emulator's clock, and MaxLogRecords keeps at most that
	// many per account, oldest dropped first. Zero keeps every record. Both
	// the standalone and a run's embedded emulator pass
	// StandaloneLogRetention and StandaloneMaxLogRecords: a polled query
	// keeps counting what it folded in before the records expired, so a
	// run's Region histogram still counts every call since it began.
	LogRetention  time.Duration
	MaxLogRecords int
	// LogVisibleFor drops a record once it has been visible this long on
	// the calls' simulated clock (fleet.LogRetention.VisibleFor): for the
	// embedded emulator of a run, whose polled query has counted it by
	// then. Zero keeps it.
	LogVisibleFor time.Duration

	// Pace divides the latencies of models the world does not describe,
	// those from the model catalog, as World divides the world's own: a
	// standalone emulator at --speed X. Zero means 1.
	Pace float64

	// The HTTP limits; zero (or less) means the Default… constant of the
	// same name: they cannot be turned off.
	ReadTimeout    time.Duration // reading a request, body included
	IdleTimeout    time.Duration // a kept-alive connection waiting for its next request
	WriteTimeout   time.Duration // writing one reply, once it is ready
	MaxConnections int           // connections open at once
}

// withDefaults fills the clock and the HTTP limits left unset.
func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	o.ReadTimeout = positiveOr(o.ReadTimeout, DefaultReadTimeout)
	o.IdleTimeout = positiveOr(o.IdleTimeout, DefaultIdleTimeout)
	o.WriteTimeout = positiveOr(o.WriteTimeout, DefaultWriteTimeout)
	o.MaxConnections = positiveOr(o.MaxConnections, DefaultMaxConnections)
	return o
}

func positiveOr[T int | time.Duration](v, otherwise T) T {
	if v > 0 {
		return v
	}
	return otherwise
}

// Account is a simulated account as a client sees it.
type Account struct {
	Name, Profile, Region, AccountID string
	AccessKeyID                      string
}

// Server is the emulator for one world: a scenario's accounts, models and
// logs. It is an http.Handler.
type Server struct {
	world   *scenarios.Scenario
	fleet   *fleet.Fleet
	opts    Options
	byKey   map[string]scenarios.Account
	logs    *queries
	epoch   time.Time
	nextID  atomic.Uint64
	regions regionNames
	bodies  *semaphore.Weighted // bodyBudget
	// busyWait is defaultBusyWait; tests shorten it.
	busyWait time.Duration
	// logsCalls holds a token for each Logs call being served.
	logsCalls chan struct{}

	mu       sync.Mutex
	listener net.Listener
	http     *http.Server

	// faultsMu makes checking the faults on and adding one a single step.
	faultsMu sync.Mutex
}

// New builds the emulator for world. fileModels are the scenario file's
// latency entries; seed fixes every random choice; epoch is when quotas
// start to count.
func New(world *scenarios.Scenario, fileModels []scenarios.Model, seed uint64, epoch time.Time, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		world:     world,
		fleet:     fleet.New(world, fileModels, seed, epoch),
		opts:      opts,
		byKey:     map[string]scenarios.Account{},
		logs:      newQueries(),
		epoch:     epoch,
		bodies:    semaphore.NewWeighted(bodyBudget),
		busyWait:  defaultBusyWait,
		logsCalls: make(chan struct{}, maxConcurrentLogsCalls),
	}
	s.fleet.SetLogRetention(fleet.LogRetention{MaxAge: opts.LogRetention, MaxRecords: opts.MaxLogRecords, VisibleFor: opts.LogVisibleFor})
	s.fleet.SetPace(opts.Pace)
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
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	s.mu.Lock()
	s.listener, s.http = ln, srv
	s.mu.Unlock()
	go srv.Serve(netutil.LimitListener(ln, s.opts.MaxConnections))
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
	w            http.ResponseWriter
	r            *http.Request
	id           string
	now          time.Time
	virtual      bool // the client drives time with wire.TimeHeader
	account      scenarios.Account
	region       string        // source Region, from the credential scope
	writeTimeout time.Duration // how long writing the reply may take
	bodyHeld     int64         // bytes of bodyBudget held for this request's body
}

// ServeHTTP routes a request by protocol: Bedrock by its /model/ path,
// Spillway's fault API by its /_spillway/ path, Logs by X-Amz-Target, STS
// by its form body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, id: s.requestID(), writeTimeout: s.opts.WriteTimeout}
	defer s.releaseBody(q)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // a stream cut on purpose: net/http drops the connection
			}
			// A bug in one handler must not take the emulator down for every
			// other client; the SDK sees a retryable 500.
			writeJSONError(q, jsonProtocol, "InternalServerException", fmt.Sprintf("emulator internal error: %v", p))
		}
	}()
	w.Header().Set("x-amzn-RequestId", q.id)
	q.now, q.virtual = s.opts.Clock(), false
	if v := r.Header.Get(wire.TimeHeader); v != "" {
		at, err := simulatedTime(v)
		if err != nil {
			if strings.HasPrefix(r.URL.Path, controlPrefix) {
				writeFaultError(q, http.StatusBadRequest, err.Error())
			} else {
				writeJSONError(q, jsonProtocol, "ValidationException", err.Error())
			}
			return
		}
		q.now, q.virtual = at, true
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/model/"):
		s.bedrock(q)
	case r.URL.Path == profilesPath || strings.HasPrefix(r.URL.Path, profilesPath+"/"):
		s.inferenceProfiles(q)
	case strings.HasPrefix(r.URL.Path, controlPrefix):
		s.faultAPI(q)
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), logsTargetPrefix):
		s.logsAPI(q)
	case r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		s.sts(q)
	default:
		writeJSONError(q, jsonProtocol, "UnknownOperationException", fmt.Sprintf(
			"the emulator serves Bedrock Runtime (POST /model/{modelId}/converse or /invoke), CloudWatch Logs (X-Amz-Target: %s…) and STS GetCallerIdentity; %s %s is none of them",
			logsTargetPrefix, clip(r.Method), clip(r.URL.Path)))
	}
}

// Simulated time must fall in these years, so that no arithmetic on it
// (a latency added, a retention subtracted) leaves the years int64
// nanoseconds can hold, 1678 to 2262.
var (
	earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// simulatedTime reads a wire.TimeHeader value.
func simulatedTime(v string) (time.Time, error) {
	ns, err := strconv.ParseInt(v, 10, 64)
	at := time.Unix(0, ns)
	if err != nil || at.Before(earliestTime) || !at.Before(latestTime) {
		return time.Time{}, fmt.Errorf("%s must be Unix nanoseconds from %s up to %s, got %q",
			wire.TimeHeader, earliestTime.Format(time.DateOnly), latestTime.Format(time.DateOnly), clip(v))
	}
	return at, nil
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
	parts := strings.SplitN(scope, "/", 6)
	if len(parts) != 5 {
		return "IncompleteSignatureException", fmt.Sprintf("credential scope %q is not AKID/date/region/service/aws4_request", clip(scope))
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
			clip(parts[0]), strings.Join(keys, ", "))
	}
	region, err := s.regions.intern(parts[2])
	if err != nil {
		return "InvalidSignatureException", err.Error()
	}
	q.account, q.region = acct, region
	return "", ""
}

// signedBody authenticates a Bedrock Runtime or Logs request and reads its
// body. ok is false when either failed; the AWS JSON error has been written
// if anyone is left to read it.
func (s *Server) signedBody(q *request, proto protocol) (body []byte, ok bool) {
	if code, msg := s.authenticate(q); code != "" {
		writeJSONError(q, proto, code, msg)
		return nil, false
	}
	limit, tooLarge := MaxBodyBytes, wire.ValidationException
	if proto == jsonProtocol {
		limit, tooLarge = MaxLogsBodyBytes, "InvalidParameterException"
	}
	body, problem := s.readBody(q, limit, tooLarge)
	if problem != nil {
		if problem.code != "" {
			writeJSONError(q, proto, problem.code, problem.msg)
		}
		return nil, false
	}
	return body, true
}

// bodyProblem is why a request body could not be read, as the AWS error to
// answer; code is empty when the client has gone and nobody is left.
type bodyProblem struct{ code, msg string }

// readBody reads a body of at most limit bytes within the body budget,
// which it holds until releaseBody. tooLarge is the protocol's error code
// for a body over the limit.
func (s *Server) readBody(q *request, limit int, tooLarge string) ([]byte, *bodyProblem) {
	in := &budgetedReader{r: http.MaxBytesReader(q.w, q.r.Body, int64(limit)), ctx: q.r.Context(),
		budget: s.bodies, wait: s.busyWait, held: &q.bodyHeld}
	body, err := io.ReadAll(in)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errBusy):
		return nil, &bodyProblem{wire.ServiceUnavailableException, fmt.Sprintf(
			"the emulator is holding %d MiB of request bodies, its limit; try again shortly", bodyBudget>>20)}
	case errors.As(err, &tooBig):
		// Read to the limit rather than refused by Content-Length, so a
		// client still sending is not cut off before it reads the answer.
		return nil, &bodyProblem{tooLarge, fmt.Sprintf("request body is larger than the %d-byte limit", limit)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &bodyProblem{"RequestTimeoutException", fmt.Sprintf(
			"the request body did not arrive within the %v read timeout", s.opts.ReadTimeout)}
	case err != nil:
		return nil, &bodyProblem{} // the client went away mid-request
	}
	return body, nil
}

// errBusy is a shared budget that stayed full for the busy wait.
var errBusy = errors.New("the emulator is busy")

// budgetedReader takes each byte it reads from the body budget. It waits at
// most wait for room; then it fails with errBusy.
type budgetedReader struct {
	r      io.Reader
	ctx    context.Context
	budget *semaphore.Weighted
	wait   time.Duration
	held   *int64
}

func (b *budgetedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		if !b.budget.TryAcquire(int64(n)) && !b.acquireWithin(int64(n)) {
			return 0, errBusy
		}
		*b.held += int64(n)
	}
	return n, err
}

// acquireWithin waits up to b.wait for n bytes of budget. Only a full
// budget gets here, so the timer is not paid on every read.
func (b *budgetedReader) acquireWithin(n int64) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.wait)
	defer cancel()
	return b.budget.Acquire(ctx, n) == nil
}

// releaseBody gives back the body budget q holds, once its body is no
// longer needed.
func (s *Server) releaseBody(q *request) {
	if q.bodyHeld > 0 {
		s.bodies.Release(q.bodyHeld)
		q.bodyHeld = 0
	}
}

// maxQuoted bounds how much of a client's input an error message quotes.
const maxQuoted = 200

// clip shortens client-chosen text quoted in an error message, so that a
// megabyte sent is not a megabyte echoed back.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
	"InvalidSignatureException":           403,
	"RequestTimeoutException":             408,
	"ConflictException":                   409,
	"ServiceQuotaExceededException":       400,
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
	b, err := gojson.Marshal(v) // on every call: the faster encoder, same bytes
	if err != nil {
		panic(err) // our own reply types always marshal
	}
	h := q.w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	writeReply(q, status, b)
}

// writeReply sends a reply that must be taken within the write timeout. A
// client that hung up or stopped reading gets nothing; the emulator carries
// on. The deadline starts now rather than when the request arrived, so a
// simulated latency slept before does not count against it.
func writeReply(q *request, status int, b []byte) {
	// Not every ResponseWriter has a deadline (a test recorder has none).
	_ = http.NewResponseController(q.w).SetWriteDeadline(time.Now().Add(q.writeTimeout))
	q.w.WriteHeader(status)
	q.w.Write(b)
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
