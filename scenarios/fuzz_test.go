package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds the parser arbitrary documents. Parse must never panic;
// its errors must say where they are, within the document; and what it
// accepts must be runnable: every scenario complete and every number and
// duration within the limits the engine relies on.
func FuzzParse(f *testing.F) {
	seeds := []string{"../scenarios.toml"}
	testdata, _ := filepath.Glob("../engine/testdata/*.toml")
	for _, path := range append(seeds, testdata...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, src := range []string{
		base,
		base + secondScenario("rpmm"),
		base + faultWith("latency", "factor = 3") + gatewayWith(`retries = 2`),
		base + logsWith(`poll_every = "1s"`),
		"",
		"[[scenario]]\nname = \"x\ntitle = \"t\"\n",
		"x = {a={a={a=1}}}\n",
		"x = [[[[\n",
		"[a.b.c]\nd.e = [{f = \"\"\"\n]\"\"\"}]\n",
		"description = '''\n'''''\n# [[\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.toml", data)
		if err != nil {
			checkErrorsPlaced(t, data, err)
			return
		}
		checkRunnable(t, file)
	})
}

// checkErrorsPlaced asserts that every error names the file, says
// something, and points inside the document when it points at all.
func checkErrorsPlaced(t *testing.T, data []byte, err error) {
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error %#v is not a non-empty Errors", err)
	}
	if len(es) > MaxErrors+1 {
		t.Errorf("%d errors; at most %d and a summary", len(es), MaxErrors)
	}
	lines := strings.Split(string(data), "\n")
	for _, e := range es {
		if e.File != "fuzz.toml" || e.Msg == "" {
			t.Errorf("error without a file or a message: %#v", e)
		}
		if e.Pos == (Pos{}) {
			continue
		}
		if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.Line > len(lines) {
			t.Errorf("error at %d:%d, outside a document of %d lines: %v", e.Pos.Line, e.Pos.Col, len(lines), e)
			continue
		}
		if e.Pos.Col > len(lines[e.Pos.Line-1])+1 {
			t.Errorf("error at column %d of a %d-byte line: %v", e.Pos.Col, len(lines[e.Pos.Line-1]), e)
		}
	}
}

// checkRunnable asserts what the engine assumes of a parsed file.
func checkRunnable(t *testing.T, f *File) {
	if len(f.Scenarios) == 0 {
		t.Fatal("accepted a file with no scenarios")
	}
	if _, err := f.Lookup(f.Default); err != nil {
		t.Errorf("default: %v", err)
	}
	for _, m := range f.Models {
		checkModel(t, m)
	}
	for _, s := range f.Scenarios {
		if len(s.Accounts) == 0 || len(s.Deployments) == 0 || len(s.Tenants) == 0 || len(s.Groups) == 0 {
			t.Errorf("scenario %q accepted with %d accounts, %d deployments, %d tenants, %d groups",
				s.Name, len(s.Accounts), len(s.Deployments), len(s.Tenants), len(s.Groups))
		}
		for _, m := range s.Models {
			checkModel(t, m)
		}
		for _, d := range s.Deployments {
			if !(d.Weight == 0 || 0 < d.Weight && d.Weight <= MaxWeight) || !(d.RPM >= 1) {
				t.Errorf("deployment %+v: weight or rpm out of range", d)
			}
		}
		for _, tn := range s.Tenants {
			within(t, "stagger", tn.Stagger, 0, MaxWait)
			within(t, "tenant duration", tn.Duration, 0, MaxSpan)
			if tn.Expected() > MaxRequests || tn.Expected() < 0 {
				t.Errorf("tenant %q expects %d requests", tn.Name, tn.Expected())
			}
		}
		for _, fl := range s.Faults {
			within(t, "fault at", fl.At, 0, MaxSpan)
			within(t, "fault duration", fl.Duration, 0, MaxSpan)
			if fl.Kind == SlowDown && !(0 < fl.Factor && fl.Factor <= MaxSlowdown) {
				t.Errorf("latency fault factor %v", fl.Factor)
			}
			if (fl.Kind == ThrottleStorm || fl.Kind == ErrorInjection) && !(0 < fl.Rate && fl.Rate <= 1) {
				t.Errorf("fault rate %v", fl.Rate)
			}
		}
		gw := s.Gateway
		for name, d := range map[string]time.Duration{"cooldown": gw.Cooldown, "breaker_open_for": gw.BreakerOpenFor,
			"backoff": gw.Backoff, "max_backoff": gw.MaxBackoff, "timeout": gw.Timeout, "logs.delay": s.Logs.Delay, "logs.timeout": s.Logs.Timeout} {
			within(t, name, d, 0, MaxWait)
		}
		if !(0 <= gw.Jitter && gw.Jitter <= 1) {
			t.Errorf("jitter %v", gw.Jitter)
		}
		within(t, "poll_every", s.Logs.PollEvery, MinPollEvery, MaxWait)
		if polls := s.PlannedSpan() / s.Logs.PollEvery; polls > MaxLogPolls {
			t.Errorf("scenario %q plans %d log polls", s.Name, polls)
		}
		if n := s.TotalRequests(); n < 0 || n > MaxRequests*len(s.Tenants) {
			t.Errorf("scenario %q sends %d requests", s.Name, n)
		}
	}
}

func checkModel(t *testing.T, m Model) {
	within(t, "latency_p50", m.LatencyP50, 0, MaxLatency)
	within(t, "latency_p95", m.LatencyP95, m.LatencyP50, MaxLatency)
}

func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if !(lo <= d && d <= hi) {
		t.Errorf("%s = %v, outside %v … %v", what, d, lo, hi)
	}
}
