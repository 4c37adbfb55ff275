// Package session wires one run together: a scenario, the backend it talks
// to (the embedded emulator, real AWS, or an AWS-compatible endpoint), the
// routing engine and the recorder. The command line starts one run this way;
// the dashboard starts one per re-run or scenario switch, each with a fresh
// backend, so a re-run with the same seed replays the same experiment.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/record"
	"spillway/engine/shared"
	"spillway/engine/simaws/emulator"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

// Config is what stays the same across the runs of one invocation.
type Config struct {
	File     *scenarios.File
	Seed     uint64
	Speed    float64
	Backend  string // "sim": the embedded emulator; "aws": real AWS, or Endpoint
	Endpoint string // with "aws": send every call here instead
	// SharedRedis, when set, is the Redis a gateway's replicas share their
	// buckets in (scenarios.Shared), each scenario under its own name;
	// SharedFailure is what to do while it is unreachable.
	SharedRedis, SharedFailure string
	SharedDeadline             time.Duration // each call to it; 0 means shared.Deadline
	// TimelineDir is where each recorder spools the full event timeline, so
	// exports carry "events"; empty keeps no timeline.
	TimelineDir string
	// Loopback reaches the embedded emulator over loopback TCP, for anyone
	// who wants to watch the wire; by default the SDK reaches its handler
	// in this process, with no socket.
	Loopback bool
	// Open keeps the run going until its context ends, taking requests
	// from gateway clients (engine.Options.Open).
	Open bool
	// Replicas and ReplicaLimits override every scenario's
	// [scenario.replicas] count and limits when set: a run of that many
	// gateway replicas (engine.Replicas). Their shared limits are kept in
	// SharedRedis when it is set, else in this process.
	Replicas      int
	ReplicaLimits string
}

// Backend describes what a run talks to, for people and for the record.
type Backend struct {
	Badge  string // SIMULATED, EMULATED ENDPOINT or LIVE AWS: what nobody may miss
	Detail string // the rest of the header line
	Brief  string // Detail in a few words, for a narrow header
	Label  string // badge and detail as one line
	Meta   record.Meta
	// AccountIDs are the account ids the backend resolved, by account name.
	AccountIDs map[string]string
	// SharedBadge (REDIS) and SharedDetail (Redis at host:port) say where
	// a gateway's replicas share their limits; empty when they do not.
	SharedBadge, SharedDetail string
}

// Live reports whether calls go to real AWS and cost money.
func (b Backend) Live() bool { return b.Meta.Backend == "aws" }

// Run is one prepared run. The engine has not started; call Engine.Run.
type Run struct {
	Scenario *scenarios.Scenario
	Engine   *engine.Engine
	Recorder *record.Recorder
	Backend  Backend
	// FaultOptions are the faults that fit the scenario, for the fault
	// menu; empty when the backend cannot fail on demand.
	FaultOptions []scenarios.Fault
	// Regions are the Regions the scenario's calls can run in, by the
	// geography of its inference profiles, on any backend.
	Regions []string
	close   func()
}

// Close releases the run's backend and the recorder's spooled timeline.
// Call it after the run has ended and its record has been written.
func (r *Run) Close() {
	r.Recorder.Close()
	r.close()
}

// Start connects a backend for s and prepares a run on it. rpm overrides
// bucket limits from the file, as a re-run keeps what was tuned.
func Start(ctx context.Context, cfg Config, s *scenarios.Scenario, rpm map[engine.BucketID]scenarios.RPM) (*Run, error) {
	rec := record.New(record.Meta{})
	if cfg.TimelineDir != "" {
		if err := rec.KeepTimeline(cfg.TimelineDir); err != nil {
			return nil, fmt.Errorf("cannot keep the event timeline in %s: %w", cfg.TimelineDir, err)
		}
	} else if err := rec.SpoolRequests(os.TempDir()); err != nil {
		// Without a record to write, the finished requests still go to
		// disk, so a long run's memory does not grow with its length.
		return nil, fmt.Errorf("cannot keep the run's requests in %s: %w; set TMPDIR to a writable directory", os.TempDir(), err)
	}
	client, b, faults, closeBackend, err := connect(ctx, cfg, s)
	if err != nil {
		rec.Close()
		return nil, err
	}
	meta := b.Meta
	meta.Source = record.ScenarioFile{Name: cfg.File.Path, TOML: cfg.File.Source}
	rec.SetMeta(meta)
	opts := engine.Options{Seed: cfg.Seed, Speed: cfg.Speed, Backend: client, Logs: client, RPM: rpm, Open: cfg.Open}
	replicas := replicasOf(cfg, s)
	opts.Replicas = &replicas // Count 1 when --replicas 1 asks for one gateway
	if replicas.Count > 1 {
		closeStore, err := shareFleet(ctx, cfg, s, &replicas, &b)
		if err != nil {
			rec.Close()
			closeBackend()
			return nil, err
		}
		closeBackend = func(close func()) func() { return func() { closeStore(); close() } }(closeBackend)
	} else if cfg.SharedRedis != "" {
		store, err := shared.NewRedis(cfg.SharedRedis, s.Name, cfg.SharedDeadline)
		if err != nil {
			rec.Close()
			closeBackend()
			return nil, err
		}
		host, _ := os.Hostname()
		opts.Shared = &engine.SharedLimits{Store: store, OnFailure: cfg.SharedFailure, Replica: fmt.Sprintf("%s/%d", host, os.Getpid())}
		b.SharedBadge, b.SharedDetail = RedisBadge, "Redis at "+store.Addr()
		closeBackend = func(close func()) func() { return func() { store.Close(); close() } }(closeBackend)
	}
	if faults != nil {
		opts.Faults = faults
	}
	eng, err := engine.New(s, opts)
	if err != nil {
		rec.Close()
		closeBackend()
		return nil, err
	}
	// The recorder writes spools and tallies every request: on its own
	// goroutine that work runs beside the engine rather than in its time.
	eng.Subscribe(engine.NewRelay(rec))
	run := &Run{Scenario: s, Engine: eng, Recorder: rec, Backend: b, Regions: fleet.Regions(s), close: closeBackend}
	if faults != nil {
		run.FaultOptions = fleet.FaultOptions(s)
	}
	return run, nil
}

// The badges beside the backend's that say where limits are counted: a
// gateway's or a run's replicas sharing them in Redis, a run's sharing
// them in this process, or each counting its own.
const (
	RedisBadge        = "REDIS"
	SharedLimitsBadge = "SHARED LIMITS"
	OwnLimitsBadge    = "OWN LIMITS"
)

// FleetBadge is the badge of a run as replicas: each counting its own
// limits, or sharing them where, in this process or in a Redis. A replay
// shows the one its run showed.
func FleetBadge(own bool, where string) string {
	switch {
	case own:
		return OwnLimitsBadge
	case where == engine.InProcess:
		return SharedLimitsBadge
	}
	return RedisBadge
}

// replicasOf is how many replicas a run of s simulates, and how they
// count their limits: the scenario's, or the command line's.
func replicasOf(cfg Config, s *scenarios.Scenario) engine.Replicas {
	r := engine.ScenarioReplicas(s)
	if cfg.Replicas > 0 {
		r.Count = cfg.Replicas
	}
	if cfg.ReplicaLimits != "" {
		r.Own = cfg.ReplicaLimits == scenarios.ReplicaLimitsOwn
	}
	if cfg.SharedFailure != "" {
		r.OnFailure = cfg.SharedFailure
	}
	if cfg.Open {
		r.Count = 1 // a gateway is one replica; its others are other processes
	}
	return r
}

// shareFleet says where a run's replicas keep their shared limits: in
// cfg.SharedRedis, under a scope of the run's own that it forgets at the
// end, or in this process. It names them on b, for the screen.
func shareFleet(ctx context.Context, cfg Config, s *scenarios.Scenario, r *engine.Replicas, b *Backend) (closeStore func(), err error) {
	closeStore = func() {}
	switch {
	case r.Own:
		b.SharedBadge = FleetBadge(true, "")
		return closeStore, nil
	case cfg.SharedRedis == "":
		r.Where = engine.InProcess
		b.SharedBadge, b.SharedDetail = FleetBadge(false, r.Where), r.Where
		return closeStore, nil
	}
	var run [6]byte
	rand.Read(run[:])
	scope := fmt.Sprintf("%s/run-%x", s.Name, run)
	store, err := shared.DialRedis(ctx, cfg.SharedRedis, scope, cfg.SharedDeadline)
	if err != nil {
		return nil, fmt.Errorf("the replicas share their limits in Redis: %w; check that it runs and that the URL is right, or leave out --redis to share them in this process", err)
	}
	r.Where = "Redis at " + store.Addr()
	r.Store = func(clock func() time.Time) shared.Store { return store.WithClock(clock) }
	b.SharedBadge, b.SharedDetail = FleetBadge(false, r.Where), r.Where
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		store.Forget(ctx) // the run's scope is its own: nothing is left behind
		store.Close()
	}, nil
}

// connect starts the embedded emulator for the sim backend and loads every
// account's SDK clients. Only the embedded emulator's fleet can be made to
// fail on demand, so only it comes back as a fault injector.
func connect(ctx context.Context, cfg Config, s *scenarios.Scenario) (*bedrock.Client, Backend, engine.FaultInjector, func(), error) {
	closeBackend := func() {}
	var faults engine.FaultInjector
	target := bedrock.Target{Endpoint: cfg.Endpoint}
	if cfg.Backend == "sim" {
		// Logs bounded as a standalone emulator's are, and besides dropped
		// once they have been visible for embeddedLogsVisibleFor, so a long
		// run's memory stops growing within minutes; the Region query's
		// running counts keep what they counted after the records go.
		opts := emulator.Options{
			LogRetention: emulator.StandaloneLogRetention, MaxLogRecords: emulator.StandaloneMaxLogRecords,
			LogVisibleFor: max(embeddedLogsVisibleFor, 2*s.Logs.PollEvery)}
		world := s
		if cfg.Open {
			// A gateway's clients wait in real time: the emulator answers
			// as an endpoint would, at the run's pace, and streams its
			// tokens as they come, which the doors pass on to the client.
			world = emulator.World(&scenarios.File{Path: cfg.File.Path, Default: s.Name, Models: cfg.File.Models, Scenarios: []*scenarios.Scenario{s}}, cfg.Speed)
			opts.Sleep, opts.Pace = true, cfg.Speed
			opts.QueryTime = time.Duration(float64(500*time.Millisecond) / max(cfg.Speed, 1))
		}
		emu := emulator.New(world, cfg.File.Models, cfg.Seed, time.Now(), opts)
		url, transport := emulator.InProcessEndpoint, http.RoundTripper(emu.Transport())
		faultHTTP := &http.Client{Transport: transport, Timeout: faultCallTimeout}
		if cfg.Loopback {
			var err error
			if url, err = emu.Listen("127.0.0.1:0"); err != nil {
				return nil, Backend{}, nil, nil, fmt.Errorf("starting the embedded emulator: %w", err)
			}
			transport, faultHTTP = nil, nil
			closeBackend = func() { emu.Close() }
		}
		faults = &emulatorFaults{client: &emulator.FaultClient{Endpoint: url, HTTP: faultHTTP}, ids: map[int]int{}}
		target = bedrock.Target{
			Endpoint:  url,
			Virtual:   !cfg.Open,
			Transport: transport,
			Credentials: func(a scenarios.Account) aws.CredentialsProvider {
				return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
			},
		}
	}
	client, err := bedrock.Connect(ctx, s, target)
	if err != nil {
		closeBackend()
		if cfg.Backend == "sim" {
			return nil, Backend{}, nil, nil, fmt.Errorf("the embedded emulator did not answer: %w; this is a bug, please report it", err)
		}
		return nil, Backend{}, nil, nil, err
	}
	b := Backend{AccountIDs: map[string]string{}}
	var accounts []string
	for _, a := range client.Accounts() {
		accounts = append(accounts, fmt.Sprintf("%s %s (%s)", a.Spec.Name, a.Masked(), a.Spec.Region))
		b.AccountIDs[a.Spec.Name] = a.AccountID
	}
	switch {
	case cfg.Backend == "sim" && cfg.Loopback:
		b.Badge, b.Detail = "SIMULATED", "embedded emulator at "+target.Endpoint+" over loopback TCP via aws-sdk-go-v2; no AWS calls, no credentials"
		b.Brief = "embedded emulator, loopback TCP"
		b.Meta = record.Meta{Backend: "simulated", Endpoint: target.Endpoint}
	case cfg.Backend == "sim" && cfg.Open:
		b.Badge, b.Detail = "SIMULATED", "embedded emulator in process via aws-sdk-go-v2 (no socket), answering as an endpoint would, at the run's pace; no AWS calls, no credentials"
		b.Brief = "embedded emulator, no AWS calls"
		b.Meta = record.Meta{Backend: "simulated", Endpoint: InProcessEndpoint}
	case cfg.Backend == "sim":
		b.Badge, b.Detail = "SIMULATED", "embedded emulator in process via aws-sdk-go-v2 (no socket); no AWS calls, no credentials"
		b.Brief = "embedded emulator, no AWS calls"
		b.Meta = record.Meta{Backend: "simulated", Endpoint: InProcessEndpoint}
	case cfg.Endpoint != "":
		b.Badge, b.Detail = "EMULATED ENDPOINT", cfg.Endpoint+" via aws-sdk-go-v2, not AWS — accounts "+strings.Join(accounts, ", ")
		b.Brief = cfg.Endpoint
		b.Meta = record.Meta{Backend: "endpoint", Endpoint: cfg.Endpoint}
	default:
		b.Badge, b.Detail = "LIVE AWS", "Amazon Bedrock and CloudWatch Logs; accounts "+strings.Join(accounts, ", ")
		b.Brief = "Amazon Bedrock"
		b.Meta = record.Meta{Backend: "aws"}
	}
	b.Label = b.Badge + " — " + b.Detail
	if cfg.Endpoint != "" {
		b.Label = b.Badge + " " + b.Detail
	}
	return client, b, faults, closeBackend, nil
}

// embeddedLogsVisibleFor is how long, in simulated time, a run's embedded
// emulator keeps an invocation log record after it became visible. The
// engine polls every logs.poll_every (a few simulated seconds unless the
// scenario says otherwise), so its query has folded every record in long
// before; a scenario that polls less often than every five minutes gets
// twice its interval.
const embeddedLogsVisibleFor = 10 * time.Minute

// InProcessEndpoint is what a record says a run reached when the SDK
// called the embedded emulator's handler in this process.
const InProcessEndpoint = "in-process"

// emulatorFaults hands a run's faults to its embedded emulator through the
// emulator's fault API, the road any client's faults take, on the run's
// simulated time. It keeps the engine's fault ids apart from the
// emulator's.
type emulatorFaults struct {
	client *emulator.FaultClient
	ids    map[int]int // engine id → emulator id
}

// faultCallTimeout bounds one call to the fault API, so a wedged emulator
// cannot stop the run.
const faultCallTimeout = 5 * time.Second

func (f *emulatorFaults) InjectFault(ctx context.Context, id int, fault scenarios.Fault, from, to time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, faultCallTimeout)
	defer cancel()
	remote, err := f.client.Start(ctx, fault, from, to)
	var refused *emulator.FaultAPIError
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("the emulator refused fault %s: %w", fault, err)
	case err != nil:
		return fmt.Errorf("could not reach the emulator to start fault %s: %w", fault, err)
	}
	f.ids[id] = remote
	return nil
}

func (f *emulatorFaults) EndFault(ctx context.Context, id int, at time.Time) error {
	remote, ok := f.ids[id]
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, faultCallTimeout)
	defer cancel()
	err := f.client.Stop(ctx, remote, at)
	var api *emulator.FaultAPIError
	if err != nil && !(errors.As(err, &api) && api.NotFound()) { // not found: its window had closed on schedule
		return err // kept, so that it can be stopped again
	}
	delete(f.ids, id)
	return nil
}
