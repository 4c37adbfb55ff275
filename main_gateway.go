package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"time"

	"spillway/engine"
	"spillway/engine/frontdoor"
	"spillway/engine/session"
	"spillway/scenarios"
	"spillway/tui/plain"
)

// gatewayOptions are spillway gateway's flags and scenario.
type gatewayOptions struct {
	runOptions
	listen string
}

func parseGateway(args []string, stderr io.Writer) (gatewayOptions, error) {
	fs := newFlagSet("gateway", stderr)
	listen := fs.String("listen", "127.0.0.1:4000", "address to serve the doors on")
	jsonPath := fs.String("json", "", "record the session as a run in FILE when it stops")
	speed := fs.String("speed", "1", "simulated seconds per wall second: model latencies and bucket refills go this much faster")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	file := fs.String("scenarios", "", "scenario file")
	backend := fs.String("backend", "sim", "sim or aws")
	litellmConfig := fs.String("litellm-config", "", "serve a LiteLLM proxy config.yaml, imported as 'spillway import litellm' would")
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
	o.jsonPath, o.backend, o.headless = *jsonPath, *backend, true
	if o.backend != "sim" && o.backend != "aws" {
		return o, usagef("--backend must be sim (the embedded emulator) or aws (real AWS), got %q", o.backend)
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
	cfg := session.Config{File: o.file, Seed: o.seed, Speed: o.speed, Backend: o.backend, Open: true}
	if o.jsonPath != "" {
		if cfg.TimelineDir, _, err = timelineDir(o.jsonPath); err != nil {
			return err
		}
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
	srv := door.Server(o.listen)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Gateway for %s on http://%s · OpenAI: POST /v1/chat/completions, GET /v1/models · stop with Ctrl-C\n",
		o.scenario.Name, ln.Addr())

	err = run.Engine.Run(signals.Context())
	// In-flight requests have their answers (cancelled, if the run was
	// stopped): give their handlers a moment to write them.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("the gateway stopped serving: %w", serveErr)
	}
	if sumErr := summarise(run, signals, o.jsonPath, stdout, stdout); sumErr != nil {
		return sumErr
	}
	return err
}
