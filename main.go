// Command spillway runs live resilience experiments on LLM inference with
// Amazon Bedrock: cross-Region inference, account sharding, model fallback,
// weighted load balancing and per-tenant quota isolation, defined in
// scenarios.toml and run by an embedded routing engine against an embedded
// simulated Bedrock fleet.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"spillway/engine"
	"spillway/engine/frontdoor"
	"spillway/engine/record"
	"spillway/engine/session"
	"spillway/engine/shared"
	"spillway/engine/simaws/catalog"
	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
	"spillway/tui"
	"spillway/tui/plain"
)

//go:embed scenarios.toml
var builtinScenarios []byte

const builtinName = "scenarios.toml (built in)"

// version is set at release time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is bad input: exit status 2, nothing dispatched.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can drive the command.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "spillway: internal error: %v\nThis is a bug; please report it with the command you ran.\n%s", p, debug.Stack())
			status = 1
		}
	}()
	err := dispatch(args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "spillway: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "spillway: %v\n", err)
		return 1
	}
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runCommand(nil, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout, stderr)
	case "list":
		return listCommand(args[1:], stdout, stderr)
	case "validate":
		return validateCommand(args[1:], stdout, stderr)
	case "models":
		return modelsCommand(args[1:], stdout, stderr)
	case "schema":
		if len(args) > 1 {
			return usagef("schema takes no arguments, got %q", args[1:])
		}
		_, err := stdout.Write(record.SchemaJSON)
		return err
	case "replay":
		return replayCommand(args[1:], stdout, stderr)
	case "gateway":
		return gatewayCommand(args[1:], stdout, stderr)
	case "import":
		return importCommand(args[1:], stdout, stderr)
	case "compare":
		return compareCommand(args[1:], stdout, stderr)
	case "report":
		return reportCommand(args[1:], stdout, stderr)
	case "emulator":
		return emulatorCommand(args[1:], stdout, stderr)
	case "fault":
		return faultCommand(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "spillway %s\n", version)
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		// Flags without a command: run the default scenario with them.
		return runCommand(args, stdout, stderr)
	}
	if slices.Contains(args, "--scenarios") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--scenarios=") }) || builtinHas(args[0]) {
		// "spillway NAME": the run command is optional, as the usage says.
		return runCommand(args, stdout, stderr)
	}
	return usagef("unknown command %q; commands are run, gateway, import, list, validate, schema, replay, compare, report, models, emulator and fault, or a scenario's name ('spillway list' shows them; see 'spillway --help')", args[0])
}

const usage = `Spillway: live resilience experiments on LLM inference with Amazon Bedrock.

Usage:
  spillway [run] [NAME] [flags]   run a scenario (default: the file's default, "fallback")
  spillway list [--scenarios FILE]
  spillway validate [FILE]        check a scenario file (default: the built-in one)
  spillway schema                 the JSON Schema of --json exports (spillway/run/v1)
  spillway replay RUN.json [--speed X] [--headless]
                                  play a recorded run back on the dashboard: space pauses,
                                  ←/→ seek 10s, Home/End, n the next fault or change;
                                  --headless prints what the run printed
  spillway gateway [NAME] [--listen 127.0.0.1:4000] [--json FILE] [--speed X] [--headless]
                                  serve a scenario to your own clients (default: the built-in
                                  'gateway') on the dashboard: OpenAI-style POST
                                  /v1/chat/completions and Bedrock's /model/{id}/converse, each
                                  key a tenant, each model a group; answers name who served
                                  them in X-Spillway-* headers; Ctrl-C stops and summarises;
                                  --litellm-config config.yaml serves a LiteLLM config;
                                  --backend aws [--endpoint URL] serves from real Bedrock
                                  (or a 'spillway emulator' at URL) instead of the embedded one;
                                  --redis URL [--redis-failure open|closed] [--redis-deadline
                                  100ms] shares every limit with the gateway's other replicas in
                                  one Redis (default: the scenario's [scenario.shared]; --redis
                                  off keeps this gateway's limits its own)
  spillway import litellm config.yaml [-o scenarios.toml] [--name NAME]
                                  a LiteLLM proxy config as a scenario file; every key it
                                  cannot carry over is named with its line
  spillway compare A.json B.json [--json] [--fail-if EXPR]
                                  two recorded runs side by side: what was set up differently,
                                  then outcomes and latency with B − A, per tenant, deployment,
                                  account and Region; --fail-if 'success_rate < 99' exits 1
                                  when true, for CI (see 'spillway compare --help')
  spillway report RUN.json [B.json] [-o report.html]
                                  one self-contained HTML page with the run's configuration,
                                  tables and charts (two runs overlaid); opens offline
  spillway models                 the Bedrock models the emulator serves without a scenario
                                  naming them: ids, profiles, on-demand Regions, limits
  spillway emulator [--addr 127.0.0.1:4599] [--scenarios FILE] [--speed X]
                    [--log-retention 24h] [--max-log-records 200000]
                                  serve the simulated Bedrock, CloudWatch Logs and STS
                                  on loopback for any AWS client; invocation logs are
                                  kept for --log-retention, at most --max-log-records
                                  per account (0 keeps them all)
  spillway fault start KIND [--region R] [--account A] [--model M] [--rate X] [--factor X]
                       [--error CODE] [--quota-rpm N] [--tokens N] [--stall 20s]
                       [--for 30s] [--endpoint URL]
  spillway fault stop ID [--endpoint URL]
  spillway fault list [--endpoint URL]
                                  make a running 'spillway emulator' fail on demand: KIND is
                                  region-outage, throttle, quota, latency, errors, or for
                                  streamed answers stream-cut, stream-stall, stream-slow or
                                  stream-error (see 'spillway fault --help')
  spillway --version

Run flags:
  --headless          plain line-by-line output instead of the dashboard (automatic when
                      stdin or stdout is not a terminal, and with --json -)
  --json FILE|-       write the run as JSON (schema spillway/run/v1) to FILE, or stdout with -
  --speed X           simulated seconds per wall second, from 0.01 to 100000: 1 is real
                      time, 20 is 20× faster, max runs as fast as possible (default 1)
  --seed N            seed for every simulated random choice (default 42)
  --scenarios FILE    use FILE instead of the built-in scenarios
  --backend sim|aws   sim (default): an embedded emulator on 127.0.0.1, reached through
                      the AWS SDK; no AWS account or credentials needed.
                      aws: real Amazon Bedrock and CloudWatch Logs with each account's
                      profile (scenario key account.profile); this costs money
  --endpoint URL      with --backend aws: send every AWS call to URL instead, such as
                      a 'spillway emulator'
  --high-contrast     start the dashboard in its high-contrast theme, for a projector
                      (c switches it)
  --loopback          with --backend sim: reach the embedded emulator over loopback TCP, to
                      watch the wire, instead of in process (the SDK signs, serialises and
                      parses every call either way; in process, a call costs a third)
  --replicas N        run as N gateway replicas (1 to 64) behind a load balancer that hands
                      each tenant's requests to them in turn (default: the scenario's
                      [scenario.replicas] count, else one gateway)
  --replica-limits own|shared
                      own: each replica counts every limit on its own, so N replicas let
                      N times each through; shared: they count them together, in this
                      process (default: the scenario's, else shared)
  --redis URL|off     with replicas sharing their limits: count them in this Redis, on the
                      run's simulated clock (default: the scenario's [scenario.shared])

Examples:
  spillway                                     the dashboard on the default scenario, in real
                                               time; press ? there for every key, q to quit
  spillway run quota-isolation --speed 20
  spillway run fallback --speed max --json run.json
  spillway run cris --backend aws               live, with the default AWS profile
  spillway run replicas --speed 20              three replicas, each counting its own limits;
                                               L on the dashboard re-runs them shared
`

// batchGCPercent is the garbage collector's target in a run at --speed
// max: the heap may grow by four times what is live before a collection,
// not once. Such a run is a computation bound by the CPU, most of whose
// allocations are the AWS SDK's, short-lived; collecting a quarter as often
// made an hour at 600 RPM about a quarter faster for 20 MB more at its
// peak. A run's live heap stays flat however long it runs, so the peak
// stays bounded too.
const batchGCPercent = 400

// batchGC sets batchGCPercent, unless GOGC says otherwise.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(batchGCPercent)
	}
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, so "run fallback --speed 20" works as people type it.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{fmt.Errorf("%v (see 'spillway --help')", err)}
}

// loadScenarios reads --scenarios, or the built-in file.
// builtinHas reports whether the built-in file has a scenario called name.
func builtinHas(name string) bool {
	f, err := scenarios.Parse(builtinName, builtinScenarios)
	if err != nil {
		return false
	}
	_, err = f.Lookup(name)
	return err == nil
}

func loadScenarios(path string) (*scenarios.File, error) {
	var f *scenarios.File
	var err error
	if path == "" {
		f, err = scenarios.Parse(builtinName, builtinScenarios)
	} else {
		f, err = scenarios.Load(path)
	}
	if err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

func listCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", stderr)
	file := fs.String("scenarios", "", "scenario file")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 0 {
		return usagef("list takes no arguments, got %q", rest)
	}
	f, err := loadScenarios(*file)
	if err != nil {
		return err
	}
	width := 0
	for _, s := range f.Scenarios {
		width = max(width, len(s.Name))
	}
	for _, s := range f.Scenarios {
		mark := " "
		if s.Name == f.Default {
			mark = "*"
		}
		fmt.Fprintf(stdout, "%s %-*s  %s\n", mark, width, s.Name, s.Title)
	}
	fmt.Fprintf(stdout, "\n* default. Run one with: spillway run NAME\n")
	return nil
}

// modelsCommand lists the model catalog the simulated fleet serves beside
// the scenario's own models.
func modelsCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", stderr)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 0 {
		return usagef("models takes no arguments, got %q", rest)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tNAME\tPROFILES\tMAX OUTPUT\tBURNDOWN\tSPEED\tTPM QUOTA\tON DEMAND IN")
	for _, m := range catalog.BuiltIn().Models() {
		onDemand := "no"
		switch {
		case len(m.InRegion) > 0:
			onDemand = strings.Join(m.InRegion, " ")
		case m.OnDemand:
			onDemand = "any Region"
		}
		var geos []string
		for geo := range m.Profiles {
			geos = append(geos, geo+".")
		}
		slices.Sort(geos)
		speed := "–"
		if m.TTFTMillis > 0 && m.TokensPerSecond > 0 {
			speed = fmt.Sprintf("%.1fs + %g/s", float64(m.TTFTMillis)/1000, m.TokensPerSecond)
		}
		quota := "–"
		if n, ok := m.DefaultQuota("cross_region_tpm", "us-east-1"); ok {
			quota = fmt.Sprint(n)
		} else if n, ok := m.DefaultQuota("on_demand_tpm", "us-east-1"); ok {
			quota = fmt.Sprintf("%d on demand", n)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%g×\t%s\t%s\t%s\n", m.ID, m.Name, strings.Join(geos, " "), m.MaxOutputTokens, m.Burndown, speed, quota, onDemand)
	}
	w.Flush()
	fmt.Fprintln(stdout, "\nSPEED is time to first token + output tokens a second, an answer's time where no scenario says")
	fmt.Fprintln(stdout, "(– : none published; such a model answers in 2 s at the median, 5 s at the 95th percentile). TPM QUOTA")
	fmt.Fprintln(stdout, "is the documented default cross-Region quota in us-east-1, for reference: simulated accounts have the")
	fmt.Fprintln(stdout, "quota_tpm their scenario gives them, unlimited otherwise.")
	fmt.Fprintln(stdout, "\nThe embedded emulator and 'spillway emulator' serve these by foundation id where on demand, by profile id")
	fmt.Fprintln(stdout, "(us.…, global.…) and by ARN; a scenario's [[model]] entries come first. Sources: engine/simaws/catalog/models.toml.")
	return nil
}

func validateCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 1 {
		return usagef("validate takes one file, got %d", len(rest))
	}
	path := ""
	if len(rest) == 1 {
		path = rest[0]
	}
	f, err := loadScenarios(path)
	if err != nil {
		return err
	}
	name := path
	if name == "" {
		name = builtinName
	}
	noun := "scenarios"
	if len(f.Scenarios) == 1 {
		noun = "scenario"
	}
	fmt.Fprintf(stdout, "%s: ok, %d %s (%s)\n", name, len(f.Scenarios), noun, strings.Join(f.Names(), ", "))
	return nil
}

// runOptions are the checked flags of a run.
type runOptions struct {
	scenario *scenarios.Scenario
	file     *scenarios.File
	seed     uint64
	speed    float64
	jsonPath string
	backend  string // "sim" or "aws"
	endpoint string
	headless bool
	// highContrast starts the dashboard in its high-contrast theme.
	highContrast bool
	// loopback reaches the embedded emulator over loopback TCP.
	loopback bool
	// replicas and replicaLimits override the scenario's [scenario.replicas]
	// (0 and "" keep it); redis is where the replicas share their limits
	// ("" in this process).
	replicas      int
	replicaLimits string
	redis         string
}

func parseRun(args []string, stderr io.Writer) (runOptions, error) {
	fs := newFlagSet("run", stderr)
	headless := fs.Bool("headless", false, "plain output")
	jsonPath := fs.String("json", "", "write the run as JSON to FILE, or - for stdout")
	speed := fs.String("speed", "1", "simulated seconds per wall second, or max")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	file := fs.String("scenarios", "", "scenario file")
	backend := fs.String("backend", "sim", "sim or aws")
	endpoint := fs.String("endpoint", "", "AWS endpoint URL")
	highContrast := fs.Bool("high-contrast", false, "start the dashboard in its high-contrast theme")
	loopback := fs.Bool("loopback", false, "reach the embedded emulator over loopback TCP")
	replicas := fs.String("replicas", "", "run as N gateway replicas")
	replicaLimits := fs.String("replica-limits", "", "own or shared")
	redisURL := fs.String("redis", "", "share the replicas' limits in the Redis at URL")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return runOptions{}, flagError(err)
	}
	var o runOptions
	if len(rest) > 1 {
		return o, usagef("run takes one scenario name, got %q", rest)
	}
	if o.speed, o.seed, err = parseSpeedAndSeed(*speed, *seed); err != nil {
		return o, err
	}
	if o.file, err = loadScenarios(*file); err != nil {
		return o, err
	}
	name := o.file.Default
	if len(rest) == 1 {
		name = rest[0]
	}
	if o.scenario, err = o.file.Lookup(name); err != nil {
		return o, usageError{err}
	}
	o.jsonPath = *jsonPath
	o.backend, o.endpoint, o.headless, o.highContrast, o.loopback = *backend, *endpoint, *headless, *highContrast, *loopback
	if err := o.parseReplicas(*replicas, *replicaLimits, *redisURL); err != nil {
		return o, err
	}
	switch {
	case o.scenario.ServesClients():
		serve := "spillway gateway " + o.scenario.Name
		if o.scenario.Name == "gateway" {
			serve = "spillway gateway"
		}
		return o, usagef("scenario %s takes its traffic from outside clients; serve it with '%s'", o.scenario.Name, serve)
	case o.loopback && o.backend != "sim":
		return o, usagef("--loopback is for the embedded emulator (--backend sim): it reaches it over loopback TCP instead of in process")
	case o.backend != "sim" && o.backend != "aws":
		return o, usagef("--backend must be sim (the embedded emulator) or aws (real AWS), got %q", o.backend)
	case o.endpoint != "" && o.backend != "aws":
		return o, usagef("--endpoint goes with --backend aws; the sim backend starts its own emulator")
	case o.backend == "aws" && len(o.scenario.Faults) > 0:
		return o, usagef("scenario %s injects faults, which only the simulated backend can show; run it with --backend sim, or start the faults on a 'spillway emulator' with 'spillway fault start'", o.scenario.Name)
	case o.backend == "aws" && math.IsInf(o.speed, 1):
		return o, usagef("--speed max needs simulated time, which only --backend sim has; with --backend aws give a number such as 1 or 20")
	case o.endpoint != "":
		if u, err := url.Parse(o.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, usagef("--endpoint must be a URL such as http://127.0.0.1:4599, got %q", o.endpoint)
		}
	}
	return o, nil
}

// parseReplicas reads --replicas, --replica-limits and --redis: a run as
// a fleet of replicas, and where their shared limits live. --redis
// defaults to the scenario's [scenario.shared] redis, for a fleet.
func (o *runOptions) parseReplicas(count, limits, redisURL string) error {
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > scenarios.MaxReplicas {
			return usagef("--replicas must be a whole number from 1 (one gateway) to %d, got %q", scenarios.MaxReplicas, count)
		}
		o.replicas = n
	}
	switch limits {
	case "", scenarios.ReplicaLimitsOwn, scenarios.ReplicaLimitsShared:
		o.replicaLimits = limits
	default:
		return usagef("--replica-limits must be %s (each replica counts every limit on its own) or %s (the replicas count them together, as with Redis), got %q",
			scenarios.ReplicaLimitsOwn, scenarios.ReplicaLimitsShared, limits)
	}
	fleet := o.scenario.Replicas.Count
	if o.replicas > 0 {
		fleet = o.replicas
	}
	own := limits == scenarios.ReplicaLimitsOwn || limits == "" && o.scenario.Replicas.Limits == scenarios.ReplicaLimitsOwn
	if limits != "" && fleet < 2 {
		return usagef("--replica-limits is for a run as replicas: give --replicas N too (2 to %d)", scenarios.MaxReplicas)
	}
	switch {
	case redisURL == "off":
		return nil
	case redisURL != "":
		if fleet < 2 {
			return usagef("--redis shares the limits of a run's replicas: give --replicas N too (2 to %d), or serve one replica of many with 'spillway gateway --redis'", scenarios.MaxReplicas)
		}
		if own {
			return usagef("--redis keeps the limits replicas share, and these replicas count their own (limits = \"own\"): add --replica-limits shared")
		}
		if err := shared.CheckURL(redisURL); err != nil {
			return usageError{err}
		}
		o.redis = redisURL
	case fleet > 1:
		o.redis = o.scenario.Shared.Redis
	}
	return nil
}

// parseSpeedAndSeed reads --speed and --seed, as run and gateway take them.
func parseSpeedAndSeed(speed, seed string) (float64, uint64, error) {
	x, err := parseSpeed(speed)
	if err != nil {
		return 0, 0, err
	}
	n, err := strconv.ParseUint(seed, 10, 64)
	if err != nil {
		return 0, 0, usagef("--seed must be a whole number from 0 to %d, got %q", uint64(math.MaxUint64), seed)
	}
	return x, n, nil
}

// The range of --speed. Below minSpeed a demo's 15 s log delay takes more
// than 25 minutes and tiny speeds overflow the pacer's arithmetic (1e-300
// ran as fast as max); above maxSpeed an hour of simulated time passes in
// 36 ms, and max says that better.
const (
	minSpeed = 0.01
	maxSpeed = 100_000
)

// parseSpeed reads --speed for run and emulator: a number from minSpeed to
// maxSpeed, or max. The test is written so that NaN fails it.
func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return math.Inf(1), nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || !(minSpeed <= x && x <= maxSpeed) {
		return 0, usagef("--speed must be a number from %g to %d (1 is real time, 20 is 20× faster) or max, got %q", minSpeed, maxSpeed, s)
	}
	return x, nil
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	if math.IsInf(o.speed, 1) {
		batchGC()
	}
	// With the JSON on stdout, people-facing output moves to stderr.
	human := stdout
	if o.jsonPath == "-" {
		human = stderr
	}

	interactive := !o.headless && o.jsonPath != "-" && term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	cfg := session.Config{File: o.file, Seed: o.seed, Speed: o.speed, Backend: o.backend, Endpoint: o.endpoint, Loopback: o.loopback,
		Replicas: o.replicas, ReplicaLimits: o.replicaLimits, SharedRedis: o.redis}
	var export string // the file --json writes, links followed; "" for none or stdout
	if o.jsonPath != "" {
		if cfg.TimelineDir, export, err = timelineDir(o.jsonPath); err != nil {
			return err
		}
	} else if interactive {
		// The dashboard can export at any time, with the full timeline.
		cfg.TimelineDir = os.TempDir()
	}
	sweepStale(export, interactive)

	signals := watchStopSignals(stderr)
	defer signals.Close()
	if o.jsonPath != "" {
		signals.Losing("--json was not written")
	}
	var last *session.Run
	if interactive {
		last, err = dashboard(signals, cfg, o)
	} else {
		last, err = session.Start(signals.Context(), cfg, o.scenario, nil)
		if err == nil {
			last.Engine.Subscribe(engine.NewRelay(plain.New(human, o.scenario, last.Backend.Label)))
			err = last.Engine.Run(signals.Context())
		}
	}
	if last != nil {
		defer last.Close()
	}
	if err != nil && last == nil {
		if sig := signals.Received(); sig != nil {
			return fmt.Errorf("stopped by %s before the run started; nothing was sent", signalName(sig))
		}
		return err
	}
	// A run that got going is summarised and written even if the dashboard
	// failed; its error is reported after.
	if err := summarise(last, signals, o.jsonPath, human, stdout); err != nil {
		return err
	}
	return err
}

// summarise prints the summary of a run that got going, and writes its
// record where --json asked, even after an interruption.
func summarise(last *session.Run, signals *stopSignals, jsonPath string, human, stdout io.Writer) error {
	rec := last.Recorder
	switch sig := signals.Received(); {
	case sig != nil && last.Scenario.ServesClients():
		fmt.Fprintf(human, "\nStopped by %s; the session's summary follows.\n", signalName(sig))
	case sig != nil && rec.Interrupted():
		fmt.Fprintf(human, "\nStopped by %s; the summary so far follows.\n", signalName(sig))
	}
	plain.WriteSummary(human, last.Scenario, rec.Summary(), rec.Interrupted())
	switch jsonPath {
	case "":
	case "-":
		if err := rec.Encode(stdout); err != nil {
			return fmt.Errorf("writing JSON to stdout: %w", err)
		}
	default:
		if err := rec.WriteFile(jsonPath); err != nil {
			return fmt.Errorf("%w; the run finished but its record was not saved; check the directory's permissions and free space", err)
		}
		fmt.Fprintf(human, "\nRun recorded to %s\n", jsonPath)
	}
	signals.Losing("")
	return nil
}

// dashboard runs the live dashboard. Each run goes on in the background;
// the dashboard can stop it and start another (a re-run, or another
// scenario). Quitting stops the current run the way Ctrl-C does, and that
// run is returned, ended, so it is still summarised and written.
func dashboard(signals *stopSignals, cfg session.Config, o runOptions) (*session.Run, error) {
	return dashboardOf(&dashboardRuns{ctx: signals.Context(), cfg: cfg}, signals, o)
}

// dashboardOf runs the live dashboard over runs.
func dashboardOf(runs *dashboardRuns, signals *stopSignals, o runOptions) (*session.Run, error) {
	if o.jsonPath != "" && o.jsonPath != "-" {
		runs.exportDir = filepath.Dir(o.jsonPath)
	}
	first, err := runs.Start(o.scenario.Name, nil, o.speed)
	if err != nil {
		return nil, err
	}
	model := tui.New(first, tui.Session{Runner: runs, ExportPath: o.jsonPath, HighContrast: o.highContrast})
	// Signals have one owner, signals: with two, Bubble Tea's handler
	// could block on telling a program that had already stopped.
	program := tea.NewProgram(model, tea.WithoutSignalHandler())
	screen := tui.SaveTerminal(os.Stdin, os.Stdout)
	signals.OnStop(program.Quit)
	if signals.Received() != nil {
		go program.Quit() // it came while the first run was being prepared
	}
	forget := signals.BeforeForcedExit(func() { screen.Release(program) })
	_, uiErr := program.Run()
	forget()
	runs.forgetPrevious()
	signals.OnStop(nil)
	signals.Requested() // quitting is the first stop; another signal exits at once
	last := runs.stop()
	if uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled) && !errors.Is(uiErr, context.Canceled) {
		return last, fmt.Errorf("the dashboard stopped: %w; --headless gives plain output", uiErr)
	}
	return last, nil
}

// dashboardRuns starts the dashboard's runs, one at a time.
type dashboardRuns struct {
	ctx context.Context
	cfg session.Config
	// recordsDir is where the picker looks for recorded runs; empty is
	// the working directory. exportDir, where --json writes, is listed too.
	recordsDir, exportDir string
	// stopped: the current run has ended (a replay took the screen), so
	// stop has nothing more to wait for.
	stopped bool
	// gateway, when set, is the address the gateway serves, and doors is
	// where each run's doors go: every run is a gateway's, serving the
	// scenarios whose tenants are its clients.
	gateway string
	doors   *frontdoor.Switch
	// previous is the record of the run before the one on screen, which
	// C offers first (such as the same seed with the replicas' limits
	// counted the other way); it lives in sessionDir until the dashboard
	// ends.
	previous, sessionDir string

	mu      sync.Mutex
	current *session.Run
	cancel  context.CancelFunc
	done    chan error
}

// Scenarios lists what the picker offers: under spillway gateway the
// scenarios served to clients, otherwise those that send their own traffic.
func (d *dashboardRuns) Scenarios() []*scenarios.Scenario {
	var out []*scenarios.Scenario
	for _, s := range d.cfg.File.Scenarios {
		if s.ServesClients() == (d.doors != nil) {
			out = append(out, s)
		}
	}
	return out
}

// Start prepares the next run first, so a backend that cannot be reached
// leaves the current run on screen, then stops the current run and starts
// the new one.
func (d *dashboardRuns) Start(name string, rpm map[engine.BucketID]scenarios.RPM, speed float64) (*tui.Run, error) {
	s, err := d.cfg.File.Lookup(name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	cfg := d.cfg // L may have switched the replicas' limits
	d.mu.Unlock()
	cfg.Speed = speed
	next, err := session.Start(d.ctx, cfg, s, rpm)
	if err != nil {
		return nil, err
	}
	if prev := d.stop(); prev != nil {
		d.keepPrevious(prev)
		prev.Close()
	}
	feed := &tui.Feed{}
	next.Engine.Subscribe(feed)
	var notes []string
	if d.doors != nil {
		door, err := frontdoor.New(s, next.Engine.Controls())
		if err != nil {
			return nil, err
		}
		next.Engine.Subscribe(door)
		d.doors.Set(door)
		// The address first: on a narrow terminal the rest is cut.
		notes = append(notes, fmt.Sprintf("Gateway on http://%s · OpenAI /v1/chat/completions · Bedrock /model/{group}/converse", d.gateway))
	}

	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan error, 1)
	d.mu.Lock()
	d.current, d.cancel, d.done, d.stopped = next, cancel, done, false
	d.mu.Unlock()
	go func() { done <- next.Engine.Run(ctx) }()

	return &tui.Run{
		Feed:     feed,
		Controls: next.Engine.Controls(),
		Options: tui.Options{Scenario: s, Badge: next.Backend.Badge, Backend: next.Backend.Detail, BackendBrief: next.Backend.Brief, Live: next.Backend.Live(),
			SharedBadge: next.Backend.SharedBadge, SharedDetail: next.Backend.SharedDetail,
			Seed: cfg.Seed, Speed: speed, AccountIDs: next.Backend.AccountIDs, FaultOptions: next.FaultOptions, Regions: next.Regions},
		Notes:   notes,
		Export:  next.Recorder.WriteFile,
		Compare: compareWithRun(next.Recorder.WriteFile),
		Results: func() string {
			var card strings.Builder
			plain.WriteSummary(&card, s, next.Recorder.Summary(), next.Recorder.Interrupted())
			return card.String()
		},
	}, nil
}

// stop interrupts the current run, waits for it to end, and returns it.
func (d *dashboardRuns) stop() *session.Run {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current == nil {
		return nil
	}
	if !d.stopped {
		d.cancel()
		<-d.done
		d.stopped = true
	}
	return d.current
}

// timelineDir checks, before anything is sent, that the export can be
// written, and returns the directory it will be written in and, unless it
// goes to stdout, the file. A symbolic link is followed to the file it
// names; a device, pipe, socket or directory is refused, since the atomic
// write would replace it.
func timelineDir(path string) (dir, target string, err error) {
	dir = os.TempDir()
	if path != "-" {
		target, err = record.ExportTarget(path)
		var notRegular *record.NotRegularError
		switch {
		case errors.As(err, &notRegular) && notRegular.Kind == "a directory":
			return "", "", usagef("--json %s is a directory; give a file name such as %s", path, filepath.Join(path, "run.json"))
		case errors.As(err, &notRegular):
			return "", "", usagef("--json %s is %s, not a regular file, and writing the record would replace it; give a file name such as run.json, or --json - for standard output", path, notRegular.Kind)
		case err != nil:
			return "", "", usagef("--json %s cannot be written: %v; choose another path", path, err)
		}
		dir = filepath.Dir(target)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", "", usagef("--json %s cannot be written: directory %s does not exist; create it or choose another path", path, dir)
		}
	}
	probe, err := os.CreateTemp(dir, record.ProbePattern)
	if err != nil {
		return "", "", usagef("--json %s cannot be written: %s is not writable (%v); choose a path in a writable directory", path, dir, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return dir, target, nil
}

// sweepStale removes what runs killed before they could clean up left where
// this run writes: the export's directory, the temporary directory, and for
// the dashboard the working directory its e key writes to.
func sweepStale(export string, interactive bool) {
	now := time.Now()
	record.SweepStale(os.TempDir(), "", now)
	if export != "" {
		record.SweepStale(filepath.Dir(export), filepath.Base(export), now)
	}
	if interactive {
		record.SweepStale(".", "", now)
	}
}

func emulatorCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("emulator", stderr)
	addr := fs.String("addr", "127.0.0.1:4599", "loopback address to listen on")
	file := fs.String("scenarios", "", "scenario file")
	speed := fs.String("speed", "1", "divide simulated latencies and log delays by X")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	retentionFlag := fs.String("log-retention", scenarios.FormatDuration(emulator.StandaloneLogRetention), "drop invocation log records older than this; 0 keeps them all")
	recordsFlag := fs.String("max-log-records", strconv.Itoa(emulator.StandaloneMaxLogRecords), "invocation log records kept per account, oldest dropped first; 0 keeps them all")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 0 {
		return usagef("emulator takes no arguments, got %q", rest)
	}
	logRetention, err := time.ParseDuration(*retentionFlag)
	if *retentionFlag == "0" {
		logRetention, err = 0, nil
	}
	if err != nil || logRetention < 0 {
		return usagef("--log-retention must be a duration such as 24h or 90m, or 0 to keep every record, got %q", *retentionFlag)
	}
	maxLogRecords, err := strconv.Atoi(*recordsFlag)
	if err != nil || maxLogRecords < 0 {
		return usagef("--max-log-records must be a whole number such as 200000, or 0 to keep every record, got %q", *recordsFlag)
	}
	x, err := parseSpeed(*speed)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(*seed, 10, 64)
	if err != nil {
		return usagef("--seed must be a whole number, got %q", *seed)
	}
	f, err := loadScenarios(*file)
	if err != nil {
		return err
	}
	sleep := !math.IsInf(x, 1)
	emu := emulator.New(emulator.World(f, x), f.Models, n, time.Now(), emulator.Options{
		Sleep:     sleep,
		Pace:      x,
		QueryTime: time.Duration(float64(500*time.Millisecond) / max(x, 1)),
		// A standalone emulator serves for days: its logs are bounded by
		// age and count, as a run's embedded one's are.
		LogRetention:  logRetention,
		MaxLogRecords: maxLogRecords,
	})
	endpoint, err := emu.Listen(*addr)
	if err != nil {
		return usageError{err}
	}
	defer emu.Close()
	signals := watchStopSignals(stderr)
	defer signals.Close()
	dir, err := os.MkdirTemp("", "spillway-emulator-")
	if err != nil {
		return fmt.Errorf("creating a directory for the emulator's AWS profiles: %w", err)
	}
	defer os.RemoveAll(dir)
	signals.BeforeForcedExit(func() { os.RemoveAll(dir) })
	creds, conf, err := emu.WriteProfiles(dir)
	if err != nil {
		return fmt.Errorf("writing the emulator's AWS profiles: %w", err)
	}

	fmt.Fprintf(stdout, "Spillway emulator — SIMULATED Amazon Bedrock Runtime, CloudWatch Logs and STS (not AWS)\n")
	fmt.Fprintf(stdout, "  endpoint   %s\n", endpoint)
	fmt.Fprintf(stdout, "  accounts   every account of every scenario in %s\n", f.Path)
	fmt.Fprintf(stdout, "  pace       speed %s (latencies and log delays divided by it), seed %d\n", engine.SpeedText(x), n)
	fmt.Fprintf(stdout, "  logs       %s\n", logKeeping(logRetention, maxLogRecords))
	fmt.Fprintf(stdout, "  secret     %s (the same for every account; signatures are not checked)\n\n", emulator.SecretAccessKey)
	fmt.Fprintf(stdout, "  %-10s %-10s %-20s %-10s %s\n", "account", "profile", "access key id", "id", "region")
	for _, a := range emu.Accounts() {
		fmt.Fprintf(stdout, "  %-10s %-10s %-20s %-10s %s\n", a.Name, a.Profile, a.AccessKeyID, scenarios.MaskAccountID(a.AccountID), a.Region)
	}
	fmt.Fprintf(stdout, "\nProfiles for every account are in %s. In another shell:\n\n", dir)
	fmt.Fprintf(stdout, "  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s\n", creds, conf)
	runSpeed := *speed
	if math.IsInf(x, 1) {
		// A run against an endpoint is paced on the wall clock and cannot
		// go at max; the fastest it can go matches an emulator at max.
		runSpeed = strconv.Itoa(maxSpeed)
	}
	fmt.Fprintf(stdout, "  spillway run account-sharding --headless --backend aws --endpoint %s --speed %s\n", endpoint, runSpeed)
	fmt.Fprintf(stdout, "  aws sts get-caller-identity --endpoint-url %s\n", endpoint)
	fmt.Fprintf(stdout, "  aws bedrock-runtime converse --endpoint-url %s --model-id us.anthropic.claude-sonnet-4-20250514-v1:0 \\\n", endpoint)
	fmt.Fprintf(stdout, "      --messages '[{\"role\":\"user\",\"content\":[{\"text\":\"hello\"}]}]'\n")
	fmt.Fprintf(stdout, "\nServing until Ctrl-C.\n")

	<-signals.Context().Done()
	fmt.Fprintf(stdout, "Emulator stopped by %s.\n", signalName(signals.Received()))
	return nil
}

// logKeeping says how long the standalone emulator keeps invocation logs.
func logKeeping(age time.Duration, records int) string {
	var kept []string
	if age > 0 {
		kept = append(kept, "for "+scenarios.FormatDuration(age))
	}
	if records > 0 {
		kept = append(kept, fmt.Sprintf("at most %d records per account, oldest dropped first", records))
	}
	if len(kept) == 0 {
		return "every invocation log record is kept (--log-retention 0 --max-log-records 0)"
	}
	return "invocation log records kept " + strings.Join(kept, ", ")
}

// stopSignals is the process's one owner of SIGINT, SIGTERM and SIGHUP.
//
// The first stop request, one of these signals or quitting the dashboard,
// ends the run the way Ctrl-C always has: nothing more is sent, and the run
// is summarised and written. A second SIGINT or SIGTERM after that exits at
// once with status 128+signal, putting the terminal back first. A repeated
// SIGHUP does not count as insisting: a closing terminal often sends it
// twice, once itself and once through the kernel, and nobody is left at it.
type stopSignals struct {
	ctx     context.Context
	cancel  context.CancelFunc
	signals chan os.Signal
	closed  chan struct{}
	stderr  io.Writer

	mu        sync.Mutex
	lost      string    // what a forced exit leaves undone, for its message
	requested bool      // a stop has been asked for
	received  os.Signal // the first stop signal
	onStop    func()
	onForced  map[int]func()
	nextHook  int
}

// watchStopSignals starts listening; stderr is for the forced exit's message.
func watchStopSignals(stderr io.Writer) *stopSignals {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stopSignals{ctx: ctx, cancel: cancel, signals: make(chan os.Signal, 4), closed: make(chan struct{}),
		stderr: stderr, onForced: map[int]func(){}}
	// A reader that goes away (spillway … | head) must not kill the run
	// before its record is written: writes to it fail instead.
	signal.Ignore(syscall.SIGPIPE)
	stops := []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	if signal.Ignored(syscall.SIGHUP) {
		// Started under nohup: the user asked to outlive the terminal.
		stops = stops[:2]
	}
	signal.Notify(s.signals, stops...)
	go s.listen()
	return s
}

// Context is cancelled by the first stop signal.
func (s *stopSignals) Context() context.Context { return s.ctx }

// Received is the first stop signal, or nil.
func (s *stopSignals) Received() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// OnStop sets what else the first stop signal does, such as quitting the
// dashboard; nil clears it.
func (s *stopSignals) OnStop(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onStop = fn
}

// Losing says what a forced exit would leave undone now, for its message;
// empty says nothing.
func (s *stopSignals) Losing(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost = what
}

// Requested records a stop asked for some other way, such as q in the
// dashboard, so that the next signal exits at once.
func (s *stopSignals) Requested() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requested = true
}

// BeforeForcedExit adds a step to run before a forced exit, such as giving
// the terminal back; the function returned removes it again.
func (s *stopSignals) BeforeForcedExit(fn func()) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextHook
	s.nextHook++
	s.onForced[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.onForced, id)
	}
}

// Close stops listening; the signals' default actions apply again.
func (s *stopSignals) Close() {
	signal.Stop(s.signals)
	close(s.closed)
	s.cancel()
}

func (s *stopSignals) listen() {
	for {
		select {
		case <-s.closed:
			return
		case sig := <-s.signals:
			s.mu.Lock()
			switch {
			case !s.requested:
				s.requested, s.received = true, sig
				onStop := s.onStop
				s.mu.Unlock()
				s.cancel()
				if onStop != nil {
					// It may wait for a program that has not started yet;
					// the next signal must still be heard.
					go onStop()
				}
			case sig == syscall.SIGHUP:
				s.mu.Unlock()
			default:
				hooks := make([]func(), 0, len(s.onForced))
				for id := s.nextHook - 1; id >= 0; id-- {
					if fn, ok := s.onForced[id]; ok {
						hooks = append(hooks, fn)
					}
				}
				lost := s.lost
				s.mu.Unlock()
				s.exitNow(sig, hooks, lost)
			}
		}
	}
}

// forcedExitWait bounds the forced-exit steps: a hung terminal or file
// system must not keep a process alive that was told twice to stop.
const forcedExitWait = 3 * time.Second

// exitNow runs the forced-exit steps, newest first, and exits.
func (s *stopSignals) exitNow(sig os.Signal, hooks []func(), lost string) {
	// A third signal ends the process the usual way, whatever the steps do.
	signal.Reset(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for _, fn := range hooks {
			fn()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(forcedExitWait):
	}
	msg := fmt.Sprintf("spillway: %s while stopping; exiting at once", signalName(sig))
	if lost != "" {
		msg += ": " + lost
	}
	fmt.Fprintf(s.stderr, "\r\n%s.\r\n", msg)
	code := 1
	if n, ok := sig.(syscall.Signal); ok {
		code = 128 + int(n)
	}
	os.Exit(code)
}

// signalName names a stop signal the way people know it.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP (the terminal closed)"
	case nil:
		return "Ctrl-C"
	}
	return sig.String()
}

// faultUsage is the help of spillway fault.
const faultUsage = `Usage:
  spillway fault start KIND [--region R] [--account A] [--model M] [--rate X] [--factor X]
                       [--error CODE] [--quota-rpm N] [--tokens N] [--stall 20s]
                       [--for 30s] [--endpoint URL]
  spillway fault stop ID [--endpoint URL]
  spillway fault list [--endpoint URL]

Makes a running 'spillway emulator' fail on demand, through its fault API
(` + emulator.FaultsPath + ` on its port), as a scenario's [[scenario.fault]] does in a run.
The emulator checks each fault by the scenario file's rules.

Kinds, and what each needs:
  region-outage  --region R           the Region stops serving; cross-Region profiles route
                                      around it, calls pinned to it get ServiceUnavailableException
  throttle       --rate X             a fraction X (above 0, at most 1) of calls get ThrottlingException
  quota          --account A --quota-rpm N
                                      the account's service quota per Region and model drops to N
                                      (a whole number, or unlimited)
  latency        --factor X           latency × X (above 0, at most 100)
  errors         --rate X --error CODE
                                      a fraction X of calls fail with CODE: InternalServerException,
                                      ModelTimeoutException or ModelNotReadyException
  stream-cut     --tokens N [--rate X] streamed answers lose their connection after N tokens
                                      (a fraction X of them; every one without --rate)
  stream-stall   --tokens N --stall D  streamed answers send no token for D after N tokens
  stream-slow    --factor X           streamed answers' tokens come X times slower (1 to 100)
  stream-error   --tokens N --rate X --error CODE
                                      a fraction X of streams get an exception event after N tokens:
                                      throttlingException, modelStreamErrorException,
                                      serviceUnavailableException, internalServerException or
                                      validationException

Flags:
  --region, --account, --model   narrow the fault to calls in that Region, by that account, to
                      that model (matched by base model); left out, it covers them all
  --for D             end the fault after D (such as 30s or 5m) on the emulator's clock, the
                      wall clock for 'spillway emulator'; left out, it lasts until stopped
  --endpoint URL      the emulator (default ` + defaultFaultEndpoint + `, the emulator's default --addr)

Examples:
  spillway fault start region-outage --region us-east-2 --for 1m
  spillway fault start throttle --rate 0.5 --account account1
  spillway fault list
  spillway fault stop 1
`

// defaultFaultEndpoint is where 'spillway emulator' listens by default.
const defaultFaultEndpoint = "http://127.0.0.1:4599"

// faultRequestTimeout bounds one fault API request: the emulator answers at
// once, so a wait this long means nobody will.
const faultRequestTimeout = 10 * time.Second

// faultCommand is spillway fault: start, stop and list the faults of a
// running emulator through its fault API.
func faultCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, faultUsage)
		return nil
	}
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, faultUsage) }
	endpoint := fs.String("endpoint", defaultFaultEndpoint, "the emulator's URL")
	region := fs.String("region", "", "Region the fault covers")
	account := fs.String("account", "", "account the fault covers")
	model := fs.String("model", "", "model the fault covers")
	rate := fs.String("rate", "", "fraction of calls affected")
	factor := fs.String("factor", "", "latency factor")
	errorCode := fs.String("error", "", "error code to inject")
	quotaRPM := fs.String("quota-rpm", "", "the cut quota per Region and model")
	tokens := fs.String("tokens", "", "streaming faults: after how many tokens")
	stall := fs.String("stall", "", "stream-stall: how long no token comes")
	lasting := fs.String("for", "", "how long the fault lasts")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("fault: %v (see 'spillway fault --help')", err)
	}
	if len(rest) == 0 {
		return usagef("fault needs start, stop or list (see 'spillway fault --help')")
	}
	if u, err := url.Parse(*endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("fault: --endpoint must be a URL such as %s, got %q", defaultFaultEndpoint, *endpoint)
	}
	action := rest[0]
	if action != "start" {
		// The fault's own flags mean nothing to stop and list; saying so
		// beats ignoring them.
		var misplaced []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "endpoint" {
				misplaced = append(misplaced, "--"+f.Name)
			}
		})
		if len(misplaced) > 0 && (action == "stop" || action == "list") {
			verb := "goes"
			if len(misplaced) > 1 {
				verb = "go"
			}
			return usagef("fault %s: %s %s with 'fault start'", action, strings.Join(misplaced, ", "), verb)
		}
	}
	client := &emulator.FaultClient{Endpoint: *endpoint}
	ctx, cancel := context.WithTimeout(context.Background(), faultRequestTimeout)
	defer cancel()
	switch action {
	case "start":
		switch {
		case len(rest) == 1:
			return usagef("fault start needs a KIND: one of %s", faultKindNames())
		case len(rest) > 2:
			return usagef("fault start takes one KIND, got %q", rest[1:])
		}
		f := scenarios.Fault{Kind: scenarios.FaultKind(rest[1]), Region: *region, Account: *account, Model: *model, Error: *errorCode}
		if f.Rate, err = faultNumber("rate", *rate, "0.5"); err != nil {
			return err
		}
		if f.Factor, err = faultNumber("factor", *factor, "3"); err != nil {
			return err
		}
		if *quotaRPM == "unlimited" {
			f.QuotaRPM = scenarios.Unlimited
		} else {
			n, err := faultNumber("quota-rpm", *quotaRPM, "2")
			if err != nil {
				return err
			}
			f.QuotaRPM = scenarios.RPM(n)
		}
		if *quotaRPM != "" && f.QuotaRPM < 1 {
			return usagef("fault start: --quota-rpm must be a whole number ≥ 1 or unlimited, got %q", *quotaRPM)
		}
		if n, err := faultNumber("tokens", *tokens, "40"); err != nil {
			return err
		} else if f.Tokens = int(n); float64(f.Tokens) != n || n < 0 {
			return usagef("fault start: --tokens must be a whole number of tokens such as 40, got %q", *tokens)
		}
		if *tokens == "" && (f.Kind == scenarios.StreamCut || f.Kind == scenarios.StreamStall || f.Kind == scenarios.StreamError) {
			return usagef("fault start: %s needs --tokens N, after how many tokens the stream breaks", f.Kind)
		}
		if *stall != "" {
			if f.Stall, err = time.ParseDuration(*stall); err != nil || f.Stall <= 0 {
				return usagef("fault start: --stall must be a duration above 0 such as 20s, got %q", *stall)
			}
		}
		if *lasting != "" {
			if f.Duration, err = time.ParseDuration(*lasting); err != nil || f.Duration <= 0 {
				return usagef("fault start: --for must be a duration above 0 such as 30s or 5m, got %q", *lasting)
			}
		}
		id, err := client.Start(ctx, f, time.Time{}, time.Time{})
		if err != nil {
			return faultFailure("start", *endpoint, err)
		}
		until := ", until stopped"
		if f.Duration > 0 {
			until = ", for " + scenarios.FormatDuration(f.Duration)
		}
		fmt.Fprintf(stdout, "started fault %d: %s%s\n", id, f, until)
	case "stop":
		if len(rest) != 2 {
			return usagef("fault stop takes one fault ID, got %q ('spillway fault list' shows them)", rest[1:])
		}
		id, err := strconv.Atoi(rest[1])
		if err != nil || id < 1 {
			return usagef("fault stop: %q is not a fault ID; IDs are whole numbers from 1 ('spillway fault list' shows them)", rest[1])
		}
		var apiErr *emulator.FaultAPIError
		if err := client.Stop(ctx, id, time.Time{}); errors.As(err, &apiErr) && apiErr.NotFound() {
			return fmt.Errorf("fault stop: no fault %d is in effect or scheduled at %s; 'spillway fault list' shows those that are", id, *endpoint)
		} else if err != nil {
			return faultFailure("stop", *endpoint, err)
		}
		fmt.Fprintf(stdout, "stopped fault %d\n", id)
	case "list":
		if len(rest) != 1 {
			return usagef("fault list takes no arguments, got %q", rest[1:])
		}
		faults, err := client.List(ctx)
		if err != nil {
			return faultFailure("list", *endpoint, err)
		}
		printFaults(stdout, *endpoint, faults, time.Now())
	default:
		return usagef("fault %q: use start, stop or list (see 'spillway fault --help')", action)
	}
	return nil
}

// faultKindNames lists the kinds for a message.
func faultKindNames() string {
	names := make([]string, len(scenarios.FaultKinds))
	for i, k := range scenarios.FaultKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// faultNumber reads a numeric fault flag; empty is 0, which is not sent.
// Only the form is checked here: the emulator checks the range, by the
// scenario file's rules.
func faultNumber(name, v, example string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, usagef("fault start: --%s must be a number such as %s, got %q", name, example, v)
	}
	return x, nil
}

// faultFailure words a fault API failure for a person: nothing listening
// is a question about the emulator, a refusal is the emulator's message.
func faultFailure(action, endpoint string, err error) error {
	var apiErr *emulator.FaultAPIError
	var netErr *url.Error
	switch {
	case errors.Is(err, emulator.ErrNoEmulator) && errors.As(err, &netErr):
		return fmt.Errorf("fault %s: nothing answered at %s (%v); is 'spillway emulator' running at %s?", action, endpoint, netErr.Err, endpoint)
	case errors.Is(err, emulator.ErrNoEmulator):
		return fmt.Errorf("fault %s: nothing answered at %s; is 'spillway emulator' running at %s? (%v)", action, endpoint, endpoint, err)
	case errors.As(err, &apiErr):
		return fmt.Errorf("fault %s: the emulator at %s refused: %s", action, endpoint, asFlags(apiErr.Message))
	}
	return fmt.Errorf("fault %s: %w", action, err)
}

// faultFlags are the fault API's keys, which are the scenario file's, as
// the command line spells them.
var faultFlags = map[string]string{"kind": "KIND", "region": "--region", "account": "--account", "model": "--model",
	"rate": "--rate", "factor": "--factor", "error": "--error", "quota_rpm": "--quota-rpm", "duration": "--for",
	"tokens": "--tokens", "stall": "--stall"}

// asFlags names the flag a refusal is about, where the emulator names the
// key: "region: …" becomes "--region: …".
func asFlags(message string) string {
	key, rest, found := strings.Cut(message, ": ")
	if flag, ok := faultFlags[key]; found && ok {
		return flag + ": " + rest
	}
	return message
}

// printFaults writes the faults as an aligned table. Times are the
// emulator's: the wall clock for 'spillway emulator', shown in local time,
// with the date when it is not today's.
func printFaults(w io.Writer, endpoint string, faults []emulator.FaultState, now time.Time) {
	if len(faults) == 0 {
		fmt.Fprintf(w, "no faults in effect or scheduled at %s\n", endpoint)
		return
	}
	when := func(t time.Time) string {
		t = t.Local()
		if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
			return t.Format("15:04:05")
		}
		return t.Format("2006-01-02 15:04:05")
	}
	rows := [][]string{{"ID", "FAULT", "STARTS", "ENDS"}}
	for _, f := range faults {
		ends := "when stopped"
		if !f.To().IsZero() {
			ends = when(f.To())
		}
		rows = append(rows, []string{strconv.Itoa(f.ID), f.Description, when(f.From()), ends})
	}
	// Padded by characters, not bytes: descriptions hold × and →.
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		fmt.Fprintln(w, line.String())
	}
}

// keepPrevious writes the record of the run that just stopped where C
// finds it, in a directory of this dashboard's own. A record that cannot
// be written only leaves C without it.
func (d *dashboardRuns) keepPrevious(prev *session.Run) {
	if d.sessionDir == "" {
		dir, err := os.MkdirTemp("", "spillway-dashboard-*")
		if err != nil {
			return
		}
		d.sessionDir = dir
	}
	// Named for what C's list shows of it: the scenario, and for a run as
	// replicas how they counted, beside the run on screen.
	name := "previous-" + prev.Scenario.Name
	if f := prev.Recorder.Info().Fleet; f != nil {
		name += "-" + f.Limits + "-limits"
	}
	path := filepath.Join(d.sessionDir, name+".json")
	if err := prev.Recorder.WriteFile(path); err != nil {
		path = ""
	}
	d.mu.Lock()
	if d.previous != "" && d.previous != path {
		os.Remove(d.previous) // one run before this one is kept
	}
	d.previous = path
	d.mu.Unlock()
}

// forgetPrevious removes what keepPrevious wrote, when the dashboard ends.
func (d *dashboardRuns) forgetPrevious() {
	if d.sessionDir != "" {
		os.RemoveAll(d.sessionDir)
	}
}

// SwitchReplicaLimits makes the dashboard's next runs count their
// replicas' limits as limits says; L re-runs the same seed with it.
func (d *dashboardRuns) SwitchReplicaLimits(limits string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg.ReplicaLimits = limits
}
