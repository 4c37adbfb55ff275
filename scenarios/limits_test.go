package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Appended to base, these put a [[scenario.fault]] at line 36, its kind at
// 37 and the parameter under test at 38.
func faultWith(kind, param string) string {
	return "\n  [[scenario.fault]]\n  kind = \"" + kind + "\"\n  " + param + "\n"
}

// Appended to base, these put [scenario.gateway] at line 36 and the key
// under test at 37.
func gatewayWith(kv string) string { return "\n  [scenario.gateway]\n  " + kv + "\n" }

// Appended to base: [scenario.logs] at line 36, the key under test at 37.
func logsWith(kv string) string { return "\n[scenario.logs]\n" + kv + "\n" }

// constantTenant replaces the base tenant's burst with a constant arrival;
// rate lands on line 34 and duration on 35.
func constantTenant(rate, duration string) []string {
	return []string{"  requests = 5\n  stagger = \"50ms\"\n",
		"  arrival = \"constant\"\n  rate = " + rate + "\n  duration = \"" + duration + "\"\n"}
}

// boundCase puts one value out of bounds in base: edits are old, new
// pairs, extra is appended, and the one error must be at line:col, at key,
// with msg in its message.
type boundCase struct {
	name      string
	edits     []string
	extra     string
	line, col int
	key, msg  string
}

func checkBoundCases(t *testing.T, cases []boundCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es := parseErrs(t, doc(t, c.edits...)+c.extra)
			if len(es) != 1 {
				t.Errorf("want 1 error, got %d:\n%v", len(es), es)
			}
			checkErr(t, findErr(t, es, c.key, c.msg), c.line, c.col)
		})
	}
}

// TestNumbersOutOfBounds: every number has a range, and NaN and infinities
// are outside it.
func TestNumbersOutOfBounds(t *testing.T) {
	// A latency factor of 1e308 or inf made latencies negative.
	var cases []boundCase
	for _, v := range []string{"1e308", "inf", "nan", "101", "0", "-3"} {
		cases = append(cases, boundCase{name: "factor " + v, extra: faultWith("latency", "factor = "+v),
			line: 38, col: 3, key: "scenario.fault.factor", msg: "a number above 0 and at most 100"})
	}
	checkBoundCases(t, append(cases, []boundCase{
		// NaN passed "n < 0 || n > 1".
		{name: "fault rate nan", extra: faultWith("throttle", "rate = nan"),
			line: 38, col: 3, key: "scenario.fault.rate", msg: "a number above 0 and at most 1"},
		{name: "jitter nan", extra: gatewayWith("jitter = nan"),
			line: 37, col: 3, key: "scenario.gateway.jitter", msg: "a number from 0 to 1"},
		// Two weights of 1.7e308 add up to +Inf, and the first is never picked.
		{name: "weight huge", edits: []string{"  rpm = 3\n", "  rpm = 3\n  weight = 1.7e308\n"},
			line: 15, col: 3, key: "scenario.deployment.weight", msg: "weight must be a number above 0 and at most 1000000 (got 1.7e+308)"},
		{name: "weight nan", edits: []string{"  rpm = 3\n", "  rpm = 3\n  weight = nan\n"},
			line: 15, col: 3, key: "scenario.deployment.weight", msg: "at most 1000000 (got NaN)"},
		// A rate of 1e-300 a minute is a gap that overflows time.Duration.
		{name: "tenant rate tiny", edits: constantTenant("1e-300", "1m"),
			line: 34, col: 3, key: "scenario.tenant.rate", msg: "1e-300 is not a rate; give requests per minute from 0.001 to 1000000"},
		{name: "tenant rate inf", edits: constantTenant("inf", "1m"),
			line: 34, col: 3, key: "scenario.tenant.rate", msg: "+Inf is not a rate"},
		{name: "max_tokens nan", edits: []string{"title = \"Minimal\"\n", "title = \"Minimal\"\nmax_tokens = nan\n"},
			line: 6, col: 1, key: "scenario.max_tokens", msg: "NaN is out of range; use a whole number from 1 to 1000000"},
		{name: "retries too many", extra: gatewayWith("retries = 21"),
			line: 37, col: 3, key: "scenario.gateway.retries", msg: "21 is out of range; use a whole number from 0 to 20"},
		{name: "rpm inf", edits: []string{"  rpm = 3\n", "  rpm = inf\n"},
			line: 14, col: 3, key: "scenario.deployment.rpm", msg: "+Inf is not a valid rpm"},
		{name: "region quota nan", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  region_quota_rpm = { \"us-east-2\" = nan }\n"},
			line: 10, col: 3, key: "scenario.account.region_quota_rpm", msg: "NaN is not a valid rpm"},
	}...))
}

// TestDurationsOutOfBounds: every duration has an upper bound, so that no
// sum or product of them overflows and no run waits for years.
func TestDurationsOutOfBounds(t *testing.T) {
	fileModel := func(p50 string) []string {
		return []string{secDefault, "default = \"s\"\n[[model]]\nid = \"anthropic.y\"\nlatency_p50 = \"" + p50 + "\"\n\n"}
	}
	checkBoundCases(t, []boundCase{
		{name: "stagger", edits: []string{`stagger = "50ms"`, `stagger = "2562047h"`},
			line: 34, col: 3, key: "scenario.tenant.stagger", msg: `"2562047h" is out of range; use a duration from 0s to 1h`},
		{name: "latency", edits: fileModel("2562047h"),
			line: 4, col: 1, key: "model.latency_p50", msg: `"2562047h" is out of range; use a duration from 0s to 1h`},
		// One Logs poll per simulated nanosecond hung the run.
		{name: "poll_every 1ns", extra: logsWith(`poll_every = "1ns"`),
			line: 37, col: 1, key: "scenario.logs.poll_every", msg: `"1ns" is out of range; use a duration from 1s to 1h`},
		{name: "poll_every under a second", extra: logsWith(`poll_every = "999ms"`),
			line: 37, col: 1, key: "scenario.logs.poll_every", msg: "from 1s to 1h"},
		{name: "poll_every zero", extra: logsWith(`poll_every = "0s"`),
			line: 37, col: 1, key: "scenario.logs.poll_every", msg: "from 1s to 1h"},
		{name: "logs delay", extra: logsWith(`delay = "2h"`),
			line: 37, col: 1, key: "scenario.logs.delay", msg: `"2h" is out of range; use a duration from 0s to 1h`},
		{name: "logs timeout", extra: logsWith(`timeout = "61m"`),
			line: 37, col: 1, key: "scenario.logs.timeout", msg: "from 0s to 1h"},
		{name: "cooldown", extra: gatewayWith(`cooldown = "2h"`),
			line: 37, col: 3, key: "scenario.gateway.cooldown", msg: "from 0s to 1h"},
		{name: "breaker_open_for", extra: gatewayWith(`breaker_open_for = "2h"`),
			line: 37, col: 3, key: "scenario.gateway.breaker_open_for", msg: "from 0s to 1h"},
		{name: "max_backoff", extra: gatewayWith(`max_backoff = "2562047h"`),
			line: 37, col: 3, key: "scenario.gateway.max_backoff", msg: "from 0s to 1h"},
		{name: "gateway timeout", extra: gatewayWith(`timeout = "2h"`),
			line: 37, col: 3, key: "scenario.gateway.timeout", msg: "from 0s to 1h"},
		{name: "fault at", extra: faultWith("region-outage", "region = \"us-east-2\"\n  at = \"169h\""),
			line: 39, col: 3, key: "scenario.fault.at", msg: `"169h" is out of range; use a duration from 0s to 168h`},
		{name: "fault duration", extra: faultWith("region-outage", "region = \"us-east-2\"\n  duration = \"2562047h\""),
			line: 39, col: 3, key: "scenario.fault.duration", msg: "from 0s to 168h"},
		{name: "tenant duration", edits: constantTenant("0.01", "169h"),
			line: 35, col: 3, key: "scenario.tenant.duration", msg: `"169h" is out of range; use a duration from 1ms to 168h`},
		{name: "tenant duration zero", edits: constantTenant("60", "0s"),
			line: 35, col: 3, key: "scenario.tenant.duration", msg: `"0s" is out of range; use a duration from 1ms to 168h`},
		// Each gap is fine; the whole burst is not.
		{name: "burst span", edits: []string{"  requests = 5\n  stagger = \"50ms\"\n", "  requests = 10082\n  stagger = \"1m\"\n"},
			line: 34, col: 3, key: "scenario.tenant.stagger", msg: "10082 requests 1m apart take 168h1m from the first to the last, over the 168h limit"},
	})
}

// TestBoundsAcceptTheirEdges: each limit itself is allowed.
func TestBoundsAcceptTheirEdges(t *testing.T) {
	src := doc(t,
		secDefault, "default = \"s\"\n[[model]]\nid = \"anthropic.y\"\nlatency_p50 = \"1h\"\nlatency_p95 = \"1h\"\n\n",
		"  rpm = 3\n", "  rpm = 3\n  weight = 1000000\n",
		"  requests = 5\n  stagger = \"50ms\"\n", "  requests = 169\n  stagger = \"1h\"\n",
	) + gatewayWith("jitter = 1\n  retries = 20\n  backoff = \"1h\"\n  max_backoff = \"1h\"\n  timeout = \"1h\"\n  cooldown = \"1h\"") +
		"\n  [[scenario.fault]]\n  kind = \"latency\"\n  factor = 100\n  at = \"168h\"\n  duration = \"168h\"\n" +
		"\n  [[scenario.fault]]\n  kind = \"throttle\"\n  rate = 1\n" +
		"\n  [scenario.logs]\n  poll_every = \"7s\"\n  delay = \"1h\"\n  timeout = \"1h\"\n"
	s := mustParse(t, src).Scenarios[0]
	if got := s.Tenants[0].Stagger; got != MaxWait {
		t.Errorf("stagger = %v, want %v", got, MaxWait)
	}
	if got := s.Faults[0].Factor; got != MaxSlowdown {
		t.Errorf("factor = %v, want %v", got, MaxSlowdown)
	}
	if got := s.PlannedSpan(); got != 169*time.Hour {
		t.Errorf("PlannedSpan = %v, want 168h of arrivals + 1h logs timeout", got)
	}

	poll := mustParse(t, base+logsWith(`poll_every = "1s"`)).Scenarios[0].Logs.PollEvery
	if poll != MinPollEvery {
		t.Errorf("poll_every = %v, want the floor %v accepted", poll, MinPollEvery)
	}
}

// TestLogPollCap: a run may not plan more than MaxLogPolls Logs queries,
// and the error names a poll_every that fits.
func TestLogPollCap(t *testing.T) {
	// 168 h of arrivals and the default 3 m logs timeout, polled every 5 s
	// (the default), is 120,996 polls.
	week := doc(t, constantTenant("0.05", "168h")...)
	es := parseErrs(t, week)
	if len(es) != 1 {
		t.Fatalf("want 1 error, got:\n%v", es)
	}
	// No poll_every is written, so the error points at the scenario.
	e := findErr(t, es, "scenario.logs.poll_every",
		`polling every 5s for the run's planned 168h3m (arrivals until 168h, then logs.timeout 3m) is 120996 log queries, over the limit of 100000; use poll_every = "7s" or longer`)
	checkErr(t, e, 3, 1)

	// The suggestion fits.
	mustParse(t, week+logsWith(`poll_every = "7s"`))

	// Written, the error points at the key.
	es = parseErrs(t, week+logsWith(`poll_every = "2s"`))
	checkErr(t, findErr(t, es, "scenario.logs.poll_every", "is 302490 log queries"), 38, 1)
}

// TestSlowdownsMultiply: overlapping latency faults multiply, so their
// product is bounded too.
func TestSlowdownsMultiply(t *testing.T) {
	three := faultWith("latency", "factor = 100") + faultWith("latency", "factor = 100") + faultWith("latency", "factor = 2")
	es := parseErrs(t, base+three)
	if len(es) != 1 {
		t.Fatalf("want 1 error, got:\n%v", es)
	}
	// The third fault's factor is on line 35 + 4 + 4 + 3 = 46.
	e := findErr(t, es, "scenario.fault.factor", "latency faults multiply where they overlap: with this one they come to ×20000, over the ×10000 limit")
	checkErr(t, e, 46, 3)

	// Speed-ups do not count against slowdowns, and 100 × 100 is allowed.
	mustParse(t, base+faultWith("latency", "factor = 100")+faultWith("latency", "factor = 100")+faultWith("latency", "factor = 0.5"))
}

// TestTooManyErrors: a huge broken file gets the first MaxErrors errors and
// a count of the rest.
func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "\n[scenario.logs]\n") // line 36
	const unknown = MaxErrors + 10
	for i := range unknown {
		fmt.Fprintf(&b, "k%d = 1\n", i) // line 37 + i
	}
	es := parseErrs(t, b.String())
	if len(es) != MaxErrors+1 {
		t.Fatalf("want %d errors and a summary, got %d:\n%v", MaxErrors, len(es), es)
	}
	for i, e := range es[:MaxErrors] {
		if e.Key != fmt.Sprintf("scenario.logs.k%d", i) {
			t.Errorf("error %d is %v, want one for k%d", i, e, i)
		}
		checkErr(t, e, 37+i, 1)
	}
	last := es[MaxErrors]
	if want := "f.toml: … and 10 more errors; fix these first"; last.Error() != want {
		t.Errorf("last error %q, want %q", last.Error(), want)
	}
}

// TestManyUnknownKeysKeepTheirPlaces: unknown keys are matched to their
// places by their unindexed path, in file order, across many tables.
func TestManyUnknownKeysKeepTheirPlaces(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	line := strings.Count(base, "\n")
	var want []int
	for i := range 5 {
		b.WriteString("  [[scenario.deployment]]\n  name = \"x" + fmt.Sprint(i) + "\"\n  model = \"m\"\n  rpm = 1\n  rpmm = 2\n")
		line += 5
		want = append(want, line)
	}
	es := parseErrs(t, b.String())
	if len(es) != len(want) {
		t.Fatalf("want %d errors, got:\n%v", len(want), es)
	}
	for i, e := range es {
		checkErr(t, e, want[i], 3)
	}
}

// TestLongNameListsShortened: a message lists the first ten known names of
// a long list and how many there are, so that it stays readable, and so
// that many bad references among many names cost no more than a few.
func TestLongNameListsShortened(t *testing.T) {
	var more strings.Builder
	for i := range 12 {
		fmt.Fprintf(&more, "  [[scenario.deployment]]\n  name = \"x%d\"\n  model = \"m\"\n  rpm = 1\n", i)
	}
	es := parseErrs(t, doc(t, `deployments = ["dep-a"]`, `deployments = ["dep-a", "nope"]`)+more.String())
	e := findErr(t, es, "scenario.group.deployments",
		`group "main" names deployment "nope", which does not exist; known deployments: dep-a, dep-b, x0, x1, x2, x3, x4, x5, x6, x7, … (14 in all)`)
	checkErr(t, e, 23, 3)
}

// TestTotalRequestsBounded: MaxRequests bounds a run, not only a tenant;
// a thousand tenants of a million requests each would exhaust memory.
func TestTotalRequestsBounded(t *testing.T) {
	second := "\n  [[scenario.tenant]]\n  name = \"more\"\n  rpm = 1\n  requests = 600000\n" // requests on line 39
	src := doc(t, "  requests = 5\n", "  requests = 600000\n") + second
	es := parseErrs(t, src)
	if len(es) != 1 {
		t.Fatalf("want 1 error, got:\n%v", es)
	}
	e := findErr(t, es, "scenario.tenant.requests", "the scenario's tenants send 1200000 requests in all with this one, over the limit of 1000000 for a run; lower requests or rate")
	checkErr(t, e, 39, 3)

	// A constant tenant counts what it is expected to send.
	rated := "\n  [[scenario.tenant]]\n  name = \"more\"\n  rpm = 1\n  arrival = \"constant\"\n  rate = 10000\n  duration = \"100m\"\n" // rate on line 40
	es = parseErrs(t, src[:len(src)-len(second)]+rated)
	checkErr(t, findErr(t, es, "scenario.tenant.rate", "send 1600000 requests in all"), 40, 3)

	mustParse(t, doc(t, "  requests = 5\n", "  requests = 500000\n")+strings.Replace(second, "600000", "500000", 1))
}
