package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/x/term"

	"spillway/engine"
	"spillway/engine/frontdoor"
	"spillway/engine/session"
	"spillway/engine/shared"
	"spillway/scenarios"
	"spillway/tui/plain"
)

// gatewayOptions are spillway gateway's flags and scenario.
type gatewayOptions struct {
	runOptions
	listen string
	// redis, when set, is where the replicas share their limits;
	// redisFailure what to do while it is unreachable.
	redis, redisFailure string
	redisDeadline       time.Duration
}

func parseGateway(args []string, stderr io.Writer) (gatewayOptions, error) {
	fs := newFlagSet("gateway", stderr)
	listen := fs.String("listen", "127.0.0.1:4000", "address to serve the doors on")
	jsonPath := fs.String("json", "", "record the session as a run in FILE when it stops")
	speed := fs.String("speed", "1", "simulated seconds per wall second: model latencies and bucket refills go this much faster")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	file := fs.String("scenarios", "", "scenario file")
	backend := fs.String("backend", "sim", "sim or aws")
	endpoint := fs.String("endpoint", "", "with --backend aws: send every AWS call to URL instead, such as a 'spillway emulator'")
	litellmConfig := fs.String("litellm-config", "", "serve a LiteLLM proxy config.yaml, imported as 'spillway import litellm' would")
	redisURL := fs.String("redis", "", "share every limit with the gateway's other replicas in the Redis at URL, such as redis://127.0.0.1:6379/0 (default: the scenario's [scenario.shared] redis; off: this gateway's limits are its own)")
	redisFailure := fs.String("redis-failure", "", "while Redis is unreachable: open serves with this replica's own limits, closed refuses with 503 (default: the scenario's redis_failure, else open)")
	redisDeadline := fs.Duration("redis-deadline", shared.Deadline, "how long a decision waits for Redis, dialling included, before --redis-failure applies")
	headless := fs.Bool("headless", false, "plain output instead of the dashboard")
	highContrast := fs.Bool("high-contrast", false, "start the dashboard in its high-contrast theme")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return gatewayOptions{}, flagError(err)
	}
	o := gatewayOptions{listen: *listen}
	if len(rest) > 1 {
		return o, usagef("gateway takes one scenario name, got %q", rest)
	}
	if o.speed, o.seed, err = parseSpeedAndSeed(*speed, *seed); err != nil {
		return o, err
	}
	if math.IsInf(o.speed, 1) {
		return o, usagef("--speed max has no meaning for a gateway: its requests come in real time; give a number such as 1 or 20")
	}
	if *litellmConfig != "" {
		if *file != "" || len(rest) > 0 {
			return o, usagef("--litellm-config is the scenario; leave out --scenarios and the scenario name")
		}
		imp, err := importLiteLLM(*litellmConfig, "", stderr)
		if err != nil {
			return o, err
		}
		if o.file, err = scenarios.Parse(*litellmConfig+" (imported)", imp.TOML); err != nil {
			return o, err
		}
		rest = []string{imp.Name}
	} else if o.file, err = loadScenarios(*file); err != nil {
		return o, err
	}
	name := "gateway"
	if len(rest) == 1 {
		name = rest[0]
	} else if _, err := o.file.Lookup(name); err != nil {
		name = o.file.Default
	}
	if o.scenario, err = o.file.Lookup(name); err != nil {
		return o, usageError{err}
	}
	if !o.scenario.ServesClients() {
		return o, usagef("scenario %s sends its own traffic; a gateway serves a scenario with a tenant whose arrival = \"gateway\" (the built-in one is 'gateway')", o.scenario.Name)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return o, usagef("--listen must be host:port, such as 127.0.0.1:4000, got %q", o.listen)
	}
	o.jsonPath, o.backend, o.endpoint, o.headless, o.highContrast = *jsonPath, *backend, *endpoint, *headless, *highContrast
	if o.backend != "sim" && o.backend != "aws" {
		return o, usagef("--backend must be sim (the embedded emulator) or aws (real AWS), got %q", o.backend)
	}
	if o.endpoint != "" && o.backend != "aws" {
		return o, usagef("--endpoint goes with --backend aws; the sim backend starts its own emulator")
	}
	if o.backend == "aws" && o.speed != 1 {
		return o, usagef("with --backend aws the gateway runs in real time: Bedrock answers at its own pace, so --speed must be 1")
	}
	o.redis, o.redisFailure = o.scenario.Shared.Redis, o.scenario.Shared.OnFailure
	switch *redisURL {
	case "":
	case "off":
		o.redis = ""
	default:
		o.redis = *redisURL
	}
	if *redisFailure != "" {
		o.redisFailure = *redisFailure
	}
	if o.redisFailure != scenarios.SharedFailOpen && o.redisFailure != scenarios.SharedFailClosed {
		return o, usagef("--redis-failure must be open (serve with this replica's own limits) or closed (refuse with 503), got %q", o.redisFailure)
	}
	if o.redis != "" {
		if err := shared.CheckURL(o.redis); err != nil {
			return o, usageError{err}
		}
		if *redisDeadline <= 0 || *redisDeadline > 10*time.Second {
			return o, usagef("--redis-deadline must be above 0 and at most 10s (a decision waits this long), got %s", *redisDeadline)
		}
		o.redisDeadline = *redisDeadline
		if o.speed != 1 {
			return o, usagef("limits shared in Redis count in real time, on Redis's clock, so --speed must be 1")
		}
	}
	return o, nil
}

// gatewayCommand serves a scenario's doors to outside clients until it is
// stopped, then summarises and records the session as a run.
func gatewayCommand(args []string, stdout, stderr io.Writer) error {
	o, err := parseGateway(args, stderr)
	if err != nil {
		return err
	}
	interactive := !o.headless && term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	// A gateway's live heap is small and flat (each request is forgotten
	// once it is answered and recorded), while every request allocates:
	// collecting a quarter as often took a sixth of its CPU back under load.
	batchGC()
	cfg := session.Config{File: o.file, Seed: o.seed, Speed: o.speed, Backend: o.backend, Endpoint: o.endpoint, Open: true,
		SharedRedis: o.redis, SharedFailure: o.redisFailure, SharedDeadline: o.redisDeadline}
	if o.jsonPath != "" {
		if cfg.TimelineDir, _, err = timelineDir(o.jsonPath); err != nil {
			return err
		}
	} else if interactive {
		cfg.TimelineDir = os.TempDir() // the dashboard can export at any time, with the full timeline
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("the gateway cannot listen on %s: %v; choose another address with --listen", o.listen, err)
	}
	signals := watchStopSignals(stderr)
	defer signals.Close()
	if o.jsonPath != "" {
		signals.Losing("--json was not written")
	}
	if interactive {
		// The dashboard: each run it starts (a re-run, another gateway
		// scenario) serves behind the same address.
		doors := &frontdoor.Switch{}
		srv := frontdoor.Server(o.listen, doors)
		go srv.Serve(ln)
		runs := &dashboardRuns{ctx: signals.Context(), cfg: cfg, gateway: ln.Addr().String(), doors: doors}
		if o.jsonPath != "" {
			runs.exportDir = filepath.Dir(o.jsonPath)
		}
		run, err := dashboardOf(runs, signals, o.runOptions)
		shutdown(srv)
		if run == nil {
			return err
		}
		defer run.Close()
		if sumErr := summarise(run, signals, o.jsonPath, stdout, stdout); sumErr != nil {
			return sumErr
		}
		return err
	}
	run, err := session.Start(signals.Context(), cfg, o.scenario, nil)
	if err != nil {
		ln.Close()
		return err
	}
	defer run.Close()
	door, err := frontdoor.New(o.scenario, run.Engine.Controls())
	if err != nil {
		ln.Close()
		return err
	}
	// The door hears each event at once: a client is waiting on it.
	run.Engine.Subscribe(door)
	run.Engine.Subscribe(engine.NewRelay(plain.New(stdout, o.scenario, run.Backend.Label)))
	srv := frontdoor.Server(o.listen, door.Handler())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Gateway for %s on http://%s · OpenAI: POST /v1/chat/completions · Bedrock: POST /model/{group}/converse · stop with Ctrl-C\n",
		o.scenario.Name, ln.Addr())
	if o.redis != "" {
		fmt.Fprintf(stdout, "Limits shared with every replica of %s in %s (redis_failure = %s)\n", o.scenario.Name, run.Backend.SharedDetail, o.redisFailure)
	}

	err = run.Engine.Run(signals.Context())
	shutdown(srv)
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("the gateway stopped serving: %w", serveErr)
	}
	if sumErr := summarise(run, signals, o.jsonPath, stdout, stdout); sumErr != nil {
		return sumErr
	}
	return err
}

// shutdown stops serving. In-flight requests have their answers
// (cancelled, if the run was stopped): their handlers get a moment to
// write them.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
