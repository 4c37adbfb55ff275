package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The minimal valid document that the table-driven cases change one thing in.
// Each section ends with a blank line, so the line numbers below are fixed.
const (
	secDefault  = "default = \"s\"\n\n" // 1-2
	secScenario = "[[scenario]]\n" +    // 3
		"name = \"s\"\n" + // 4
		"title = \"Minimal\"\n" + // 5
		"description = \"One of everything.\"\n\n" // 6-7
	secAccount = "  [[scenario.account]]\n" + // 8
		"  name = \"acc\"\n\n" // 9-10
	secDepA = "  [[scenario.deployment]]\n" + // 11
		"  name = \"dep-a\"\n" + // 12
		"  model = \"us.anthropic.claude-sonnet-4-20250514-v1:0\"\n" + // 13
		"  rpm = 3\n\n" // 14-15
	secDepB = "  [[scenario.deployment]]\n" + // 16
		"  name = \"dep-b\"\n" + // 17
		"  model = \"us.anthropic.claude-3-5-sonnet-20241022-v2:0\"\n" + // 18
		"  rpm = 25\n\n" // 19-20
	secGroupMain = "  [[scenario.group]]\n" + // 21
		"  name = \"main\"\n" + // 22
		"  deployments = [\"dep-a\"]\n" + // 23
		"  fallbacks = [\"spare\"]\n\n" // 24-25
	secGroupSpare = "  [[scenario.group]]\n" + // 26
		"  name = \"spare\"\n" + // 27
		"  deployments = [\"dep-b\"]\n\n" // 28-29
	secTenant = "  [[scenario.tenant]]\n" + // 30
		"  name = \"app\"\n" + // 31
		"  rpm = \"unlimited\"\n" + // 32
		"  requests = 5\n" + // 33
		"  stagger = \"50ms\"\n" // 34
)

const base = secDefault + secScenario + secAccount + secDepA + secDepB + secGroupMain + secGroupSpare + secTenant

// doc returns base with each old→new replacement applied in turn. Every old
// must occur exactly once at the moment it is replaced, so a case can never
// silently change nothing.
func doc(t *testing.T, oldNew ...string) string {
	t.Helper()
	if len(oldNew)%2 != 0 {
		t.Fatalf("doc: odd number of arguments")
	}
	s := base
	for i := 0; i < len(oldNew); i += 2 {
		old, repl := oldNew[i], oldNew[i+1]
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("doc: %q occurs %d times, want exactly 1", old, n)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return s
}

// parseErrs parses src as "f.toml" and returns its Errors, failing if it parsed.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	f, err := Parse("f.toml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded, want an error; document:\n%s", src)
	}
	if f != nil {
		t.Errorf("Parse returned a file together with an error")
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	if len(es) == 0 {
		t.Fatalf("empty Errors returned as an error")
	}
	return es
}

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("f.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\ndocument:\n%s", err, src)
	}
	return f
}

// findErr returns the error at key whose message contains msg.
func findErr(t *testing.T, es Errors, key, msg string) *Error {
	t.Helper()
	for _, e := range es {
		if e.Key == key && strings.Contains(e.Msg, msg) {
			return e
		}
	}
	t.Fatalf("no error with key %q and message containing %q; got:\n%v", key, msg, es)
	return nil
}

// checkErr asserts the full "f.toml:line:col: key: " prefix of e.
func checkErr(t *testing.T, e *Error, line, col int) {
	t.Helper()
	if e.File != "f.toml" {
		t.Errorf("File = %q, want f.toml", e.File)
	}
	if e.Pos != (Pos{line, col}) {
		t.Errorf("Pos = %d:%d, want %d:%d (%v)", e.Pos.Line, e.Pos.Col, line, col, e)
	}
	prefix := fmt.Sprintf("f.toml:%d:%d: %s: ", line, col, e.Key)
	if !strings.HasPrefix(e.Error(), prefix) {
		t.Errorf("error %q does not start with %q", e.Error(), prefix)
	}
}

// TestBaseDocument guards the line numbers the other tests rely on.
func TestBaseDocument(t *testing.T) {
	lines := strings.Split(base, "\n")
	for n, want := range map[int]string{
		1:  `default = "s"`,
		3:  `[[scenario]]`,
		5:  `title = "Minimal"`,
		8:  `  [[scenario.account]]`,
		11: `  [[scenario.deployment]]`,
		14: `  rpm = 3`,
		19: `  rpm = 25`,
		21: `  [[scenario.group]]`,
		24: `  fallbacks = ["spare"]`,
		28: `  deployments = ["dep-b"]`,
		30: `  [[scenario.tenant]]`,
		33: `  requests = 5`,
		34: `  stagger = "50ms"`,
	} {
		if lines[n-1] != want {
			t.Errorf("line %d = %q, want %q", n, lines[n-1], want)
		}
	}

	f := mustParse(t, base)
	if f.Path != "f.toml" || f.Default != "s" || len(f.Scenarios) != 1 {
		t.Fatalf("Path %q Default %q, %d scenarios", f.Path, f.Default, len(f.Scenarios))
	}
	s := f.Scenarios[0]
	if got := s.Chain("main"); !reflect.DeepEqual(got, []string{"main", "spare"}) {
		t.Errorf("Chain(main) = %v", got)
	}
	if s.Tenants[0].Group != "main" {
		t.Errorf("tenant without group entered %q, want the first group main", s.Tenants[0].Group)
	}
	if s.Tenants[0].Stagger != 50*time.Millisecond || !s.Tenants[0].RPM.IsUnlimited() || s.Tenants[0].Requests != 5 {
		t.Errorf("tenant = %+v", s.Tenants[0])
	}
	for _, d := range s.Deployments {
		if d.Account != "acc" {
			t.Errorf("deployment %s account = %q, want the only account acc", d.Name, d.Account)
		}
	}
}

func TestBuiltinScenarios(t *testing.T) {
	data, err := os.ReadFile("../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("scenarios.toml", data)
	if err != nil {
		t.Fatalf("built-in file does not parse:\n%v", err)
	}
	if f.Default != "fallback" {
		t.Errorf("Default = %q, want fallback", f.Default)
	}
	want := []string{"cris", "account-sharding", "fallback", "load-balancing", "quota-isolation", "region-outage", "quota-exhaustion", "noisy-neighbour", "throttle-storm", "tuning", "token-quota", "tpm-fallback", "stream-cut", "replicas", "gateway"}
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, s := range f.Scenarios {
		if s.Title == "" || s.Description == "" {
			t.Errorf("scenario %s: Title %q, Description %q; both must be set", s.Name, s.Title, s.Description)
		}
	}

	lookup := func(name string) *Scenario {
		t.Helper()
		s, err := f.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != name {
			t.Fatalf("Lookup(%q) returned %q", name, s.Name)
		}
		return s
	}
	rpms := func(s *Scenario) map[string]RPM {
		m := map[string]RPM{}
		for _, d := range s.Deployments {
			m[d.Name] = d.RPM
		}
		return m
	}

	t.Run("cris", func(t *testing.T) {
		s := lookup("cris")
		if s.Operation != OpInvokeModel {
			t.Errorf("Operation = %q", s.Operation)
		}
		a, ok := s.Account("default")
		if !ok || a.Quota("us-east-2") != 250 || a.Quota("us-east-1") != 60 || a.Quota("eu-west-1") != DefaultQuotaRPM {
			t.Errorf("account = %+v", a)
		}
		if len(s.Deployments) != 1 || !s.Deployments[0].RPM.IsUnlimited() || Geography(s.Deployments[0].Model) != "us" {
			t.Errorf("deployments = %+v", s.Deployments)
		}
		if s.TotalRequests() != 10 {
			t.Errorf("TotalRequests = %d", s.TotalRequests())
		}
	})
	t.Run("fallback", func(t *testing.T) {
		s := lookup("fallback")
		if got := rpms(s); !reflect.DeepEqual(got, map[string]RPM{"primary": 3, "fallback": 25}) {
			t.Errorf("deployment rpms = %v", got)
		}
		if got := s.Chain("primary"); !reflect.DeepEqual(got, []string{"primary", "fallback"}) {
			t.Errorf("Chain(primary) = %v", got)
		}
		if s.Limiter != FixedWindow || s.Deployments[0].Limiter != FixedWindow {
			t.Errorf("limiter = %s, deployment limiter %s; want fixed-window inherited", s.Limiter, s.Deployments[0].Limiter)
		}
		if len(s.Tenants) != 1 || s.Tenants[0].Requests != 10 || s.Tenants[0].Stagger != 50*time.Millisecond {
			t.Errorf("tenants = %+v", s.Tenants)
		}
	})
	t.Run("load-balancing", func(t *testing.T) {
		s := lookup("load-balancing")
		if got := rpms(s); !reflect.DeepEqual(got, map[string]RPM{"primary-a": 3, "primary-b": 3, "fallback": 25}) {
			t.Errorf("deployment rpms = %v", got)
		}
		g, ok := s.group("primaries")
		if !ok || g.Strategy != Shuffle || !reflect.DeepEqual(g.Deployments, []string{"primary-a", "primary-b"}) {
			t.Errorf("group primaries = %+v", g)
		}
		if got := s.Chain("primaries"); !reflect.DeepEqual(got, []string{"primaries", "overflow"}) {
			t.Errorf("Chain(primaries) = %v", got)
		}
	})
	t.Run("quota-isolation", func(t *testing.T) {
		s := lookup("quota-isolation")
		got := map[string][2]float64{}
		for _, tn := range s.Tenants {
			got[tn.Name] = [2]float64{float64(tn.RPM), float64(tn.Requests)}
		}
		want := map[string][2]float64{"A": {3, 5}, "B": {10, 5}, "C": {10, 5}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tenants (rpm, requests) = %v, want %v", got, want)
		}
		if s.TotalRequests() != 15 {
			t.Errorf("TotalRequests = %d, want 15", s.TotalRequests())
		}
	})
	t.Run("account-sharding", func(t *testing.T) {
		s := lookup("account-sharding")
		if got := accountNames(s.Accounts); !reflect.DeepEqual(got, []string{"account1", "account2"}) {
			t.Errorf("accounts = %v", got)
		}
		if len(s.Groups) != 1 || s.Groups[0].Strategy != RoundRobin ||
			!reflect.DeepEqual(s.Groups[0].Deployments, []string{"shard-1", "shard-2"}) {
			t.Errorf("groups = %+v", s.Groups)
		}
		for _, d := range s.Deployments {
			if d.Account == "" || d.Account == s.Deployments[0].Account && d.Name != s.Deployments[0].Name {
				t.Errorf("deployments should sit in different accounts: %+v", s.Deployments)
			}
		}
		for _, a := range s.Accounts {
			if a.Profile != a.Name {
				t.Errorf("account %s profile = %q", a.Name, a.Profile)
			}
		}
	})
	t.Run("models", func(t *testing.T) {
		if len(f.Models) != 3 {
			t.Fatalf("%d file models, want 3", len(f.Models))
		}
		m, ok := lookup("fallback").LatencyOf("us.anthropic.claude-sonnet-4-20250514-v1:0", f.Models)
		if !ok || m.LatencyP50 != 4500*time.Millisecond || m.LatencyP95 != 8500*time.Millisecond {
			t.Errorf("LatencyOf(cross-Region sonnet 4) = %+v, %v", m, ok)
		}
	})
}

func TestSyntaxError(t *testing.T) {
	cases := []struct {
		name, src string
		line, col int
	}{
		// "title = = " puts the second '=' in column 9.
		{"value expected", "default = \"s\"\n[[scenario]]\nname = \"s\"\ntitle = = \"x\"\n", 4, 9},
		// Indented: the '@' after "  rpm = " is in column 9.
		{"indented bad value", "[[scenario]]\n  [[scenario.deployment]]\n  rpm = @3\n", 3, 9},
		// Found by FuzzParse: the decoder counts the newline that ends a
		// table name as the next line's, and said 2:2 of a one-line file.
		{"table name cut by the end of the line", "[\n", 1, 2},
		{"table name cut before a line", "[a\nb = 1\n", 1, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("inline.toml", []byte(c.src))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			prefix := fmt.Sprintf("inline.toml:%d:%d:", c.line, c.col)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			if !strings.Contains(err.Error(), "fix the TOML syntax") {
				t.Errorf("error %q lacks the hint", err)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Errorf("want one Errors entry, got %#v", err)
			}
		})
	}
}

// secondScenario has two deployments; the second one's rpm key is written
// as rpmKey (line 47 once appended to base).
func secondScenario(rpmKey string) string {
	return "\n" + // 35
		"[[scenario]]\n" + // 36
		"name = \"t\"\n" + // 37
		"title = \"Second\"\n" + // 38
		"  [[scenario.account]]\n" + // 39
		"  name = \"acc\"\n" + // 40
		"  [[scenario.deployment]]\n" + // 41
		"  name = \"one\"\n" + // 42
		"  model = \"m\"\n" + // 43
		"  rpm = 1\n" + // 44
		"  [[scenario.deployment]]\n" + // 45
		"  name = \"two\"\n" + // 46
		"    " + rpmKey + " = 3\n" + // 47, indented four spaces
		"  model = \"m\"\n" + // 48
		"  [[scenario.tenant]]\n" + // 49
		"  name = \"app\"\n" + // 50
		"  rpm = 1\n" + // 51
		"  requests = 1\n" // 52
}

func TestUnknownKeys(t *testing.T) {
	t.Run("second deployment of second scenario", func(t *testing.T) {
		// Sanity: spelt right, the document is valid.
		mustParse(t, base+secondScenario("rpm"))
		es := parseErrs(t, base+secondScenario("rpmm"))
		if len(es) != 1 {
			t.Fatalf("want 1 error, got:\n%v", es)
		}
		e := findErr(t, es, "scenario.deployment.rpmm", `unknown key "rpmm"`)
		checkErr(t, e, 47, 5)
	})
	t.Run("same misspelling in two tables", func(t *testing.T) {
		src := doc(t, "  rpm = 25\n", "  rpmm = 25\n") + secondScenario("rpmm")
		es := parseErrs(t, src)
		if len(es) != 2 {
			t.Fatalf("want 2 errors, got:\n%v", es)
		}
		checkErr(t, es[0], 19, 3)
		checkErr(t, es[1], 47, 5)
		for _, e := range es {
			if e.Key != "scenario.deployment.rpmm" {
				t.Errorf("Key = %q", e.Key)
			}
		}
	})
	t.Run("top level", func(t *testing.T) {
		es := parseErrs(t, doc(t, "default = \"s\"\n", "defualt = \"s\"\n"))
		if len(es) != 1 {
			t.Fatalf("want 1 error, got:\n%v", es)
		}
		checkErr(t, findErr(t, es, "defualt", `unknown key "defualt"`), 1, 1)
	})
	t.Run("quoted key", func(t *testing.T) {
		es := parseErrs(t, doc(t, "  rpm = 3\n", "  rpm = 3\n  \"rate limit\" = 3\n"))
		if len(es) != 1 {
			t.Fatalf("want 1 error, got:\n%v", es)
		}
		checkErr(t, findErr(t, es, "scenario.deployment.rate limit", `unknown key "rate limit"`), 15, 3)
	})
	t.Run("logs table", func(t *testing.T) {
		// Appended after the tenant: blank 35, [scenario.logs] 36, group 37, grop 38.
		src := base + "\n[scenario.logs]\ngroup = \"MyLogs\"\ngrop = \"x\"\n"
		es := parseErrs(t, src)
		if len(es) != 1 {
			t.Fatalf("want 1 error, got:\n%v", es)
		}
		checkErr(t, findErr(t, es, "scenario.logs.grop", `unknown key "grop"`), 38, 1)

		f := mustParse(t, base+"\n[scenario.logs]\ngroup = \"MyLogs\"\ndelay = \"2s\"\n")
		if l := f.Scenarios[0].Logs; l.Group != "MyLogs" || l.Delay != 2*time.Second || l.PollEvery != DefaultPollEvery {
			t.Errorf("Logs = %+v", l)
		}
	})
}

func TestValidationErrors(t *testing.T) {
	const (
		dupTenant = "\n" + // 35
			"  [[scenario.tenant]]\n" + // 36
			"  name = \"app\"\n" + // 37
			"  rpm = 1\n" + // 38
			"  requests = 1\n"
		dupScenario = "\n" + // 35
			"[[scenario]]\n" + // 36
			"name = \"s\"\n" + // 37
			"title = \"Again\"\n" +
			"  [[scenario.account]]\n" +
			"  name = \"acc\"\n" +
			"  [[scenario.deployment]]\n" +
			"  name = \"d\"\n" +
			"  model = \"m\"\n" +
			"  rpm = 1\n" +
			"  [[scenario.tenant]]\n" +
			"  name = \"t\"\n" +
			"  rpm = 1\n" +
			"  requests = 1\n"
		scenarioModel = "\n" + // 35
			"  [[scenario.model]]\n" + // 36
			"  id = \"anthropic.x\"\n" + // 37
			"  latency_p50 = \"2s\"\n" + // 38
			"  latency_p95 = \"1s\"\n" // 39
		fileModel = "default = \"s\"\n" + // 1
			"[[model]]\n" + // 2
			"id = \"anthropic.y\"\n" + // 3
			"latency_p50 = \"3s\"\n" + // 4
			"latency_p95 = \"500ms\"\n\n" // 5
	)
	cases := []struct {
		name      string
		edits     []string // old, new pairs applied to base
		extra     string   // appended after the edits
		line, col int
		key, msg  string
		n         int // expected number of errors; 0 means 1, -1 means any
	}{
		// rpm
		{name: "rpm zero", edits: []string{"  rpm = 3\n", "  rpm = 0\n"},
			line: 14, col: 3, key: "scenario.deployment.rpm", msg: "0 is not a valid rpm"},
		{name: "rpm missing", edits: []string{"  rpm = 3\n", ""},
			line: 11, col: 3, key: "scenario.deployment.rpm", msg: "rpm is required"},
		{name: "rpm word", edits: []string{"  rpm = 3\n", "  rpm = \"three\"\n"},
			line: 14, col: 3, key: "scenario.deployment.rpm", msg: `"three" is not an rpm; use a whole number ≥ 1, or "unlimited"`},
		{name: "rpm fraction", edits: []string{"  rpm = 3\n", "  rpm = 2.5\n"},
			line: 14, col: 3, key: "scenario.deployment.rpm", msg: "2.5 is not a valid rpm"},
		{name: "tenant rpm zero", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = 0\n"},
			line: 32, col: 3, key: "scenario.tenant.rpm", msg: "0 is not a valid rpm"},
		{name: "tenant rpm missing", edits: []string{"  rpm = \"unlimited\"\n", ""},
			line: 30, col: 3, key: "scenario.tenant.rpm", msg: "rpm is required"},
		{name: "account quota rpm", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  quota_rpm = -5\n"},
			line: 10, col: 3, key: "scenario.account.quota_rpm", msg: "-5 is not a valid rpm"},

		// tokens
		{name: "tpm zero", edits: []string{"  rpm = 3\n", "  rpm = 3\n  tpm = 0\n"},
			line: 15, col: 3, key: "scenario.deployment.tpm", msg: "0 is not a valid tpm"},
		{name: "tpm word", edits: []string{"  rpm = 3\n", "  rpm = 3\n  tpm = \"lots\"\n"},
			line: 15, col: 3, key: "scenario.deployment.tpm", msg: `"lots" is not a tpm`},
		{name: "tpm counting unknown", edits: []string{"  rpm = 3\n", "  rpm = 3\n  tpm_counting = \"later\"\n"},
			line: 15, col: 3, key: "scenario.deployment.tpm_counting", msg: `"later" is not a way to count tokens; use "reserve"`},
		{name: "tenant tpm fraction", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = \"unlimited\"\n  tpm = 10.5\n"},
			line: 33, col: 3, key: "scenario.tenant.tpm", msg: "10.5 is not a valid tpm"},
		{name: "tenant max_tokens zero", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = \"unlimited\"\n  max_tokens = 0\n"},
			line: 33, col: 3, key: "scenario.tenant.max_tokens", msg: "0 is out of range; use a whole number from 1 to 1000000"},
		{name: "input tokens word", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = \"unlimited\"\n  input_tokens = \"many\"\n"},
			line: 33, col: 3, key: "scenario.tenant.input_tokens", msg: "many is not a token count from 1 to 1000000"},
		{name: "input tokens spread upside down", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = \"unlimited\"\n  input_tokens = { median = 800, p95 = 400 }\n"},
			line: 33, col: 3, key: "scenario.tenant.input_tokens", msg: "p95 (400) is below the median (800)"},
		{name: "input tokens spread unknown key", edits: []string{"  rpm = \"unlimited\"\n", "  rpm = \"unlimited\"\n  input_tokens = { mean = 800 }\n"},
			line: 33, col: 3, key: "scenario.tenant.input_tokens", msg: `unknown key "mean" in a token count`},
		{name: "deployment named like a TPM bucket", edits: []string{"  name = \"dep-a\"\n", "  name = \"dep-a/tpm\"\n"},
			line: 12, col: 3, key: "scenario.deployment.name", msg: `deployment name "dep-a/tpm" ends in /tpm`, n: -1},
		{name: "application profile id", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  application_profiles = { \"Team A\" = \"us.x.y\" }\n"},
			line: 10, col: 3, key: "scenario.account.application_profiles", msg: `application profile "Team A" must map an id of lowercase letters`},
		{name: "account quota tpm", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  quota_tpm = -5\n"},
			line: 10, col: 3, key: "scenario.account.quota_tpm", msg: "-5 is not a valid tpm"},
		{name: "model burndown", extra: "\n  [[scenario.model]]\n  id = \"anthropic.x\"\n  burndown = 0.5\n",
			line: 38, col: 3, key: "scenario.model.burndown", msg: "0.5 is not a burndown"},
		{name: "model speed", extra: "\n  [[scenario.model]]\n  id = \"anthropic.x\"\n  tokens_per_second = 0\n",
			line: 38, col: 3, key: "scenario.model.tokens_per_second", msg: "0 is not a speed"},

		// references and routing
		{name: "fallback target missing", edits: []string{`fallbacks = ["spare"]`, `fallbacks = ["sapre"]`},
			line: 24, col: 3, key: "scenario.group.fallbacks", msg: `group "main" falls back to "sapre", which is not a group; known groups: main, spare`},
		{name: "fallback cycle", edits: []string{"  deployments = [\"dep-b\"]\n", "  deployments = [\"dep-b\"]\n  fallbacks = [\"main\"]\n"},
			line: 24, col: 3, key: "scenario.group.fallbacks", msg: "fallback cycle main → spare → main"},
		{name: "fallback to itself", edits: []string{`fallbacks = ["spare"]`, `fallbacks = ["main"]`},
			line: 24, col: 3, key: "scenario.group.fallbacks", msg: "fallback cycle main → main"},
		{name: "deployment account missing", edits: []string{"  name = \"dep-a\"\n", "  name = \"dep-a\"\n  account = \"nobody\"\n"},
			line: 13, col: 3, key: "scenario.deployment.account", msg: `deployment "dep-a" uses account "nobody", which does not exist; known accounts: acc`},
		{name: "group names missing deployment", edits: []string{`deployments = ["dep-a"]`, `deployments = ["dep-a", "dep-c"]`},
			line: 23, col: 3, key: "scenario.group.deployments", msg: `group "main" names deployment "dep-c", which does not exist; known deployments: dep-a, dep-b`},
		{name: "group without deployments", edits: []string{`deployments = ["dep-a"]`, `deployments = []`},
			line: 23, col: 3, key: "scenario.group.deployments", msg: `group "main" lists no deployments`},
		{name: "tenant group missing", edits: []string{"  name = \"app\"\n", "  name = \"app\"\n  group = \"backup\"\n"},
			line: 32, col: 3, key: "scenario.tenant.group", msg: `tenant "app" sends to group "backup", which does not exist; known groups: main, spare`},

		// arrivals
		{name: "burst with a rate", edits: []string{"  requests = 5\n", "  requests = 5\n  rate = 10\n"},
			line: 34, col: 3, key: "scenario.tenant.rate", msg: `rate goes with arrival = "constant" or "poisson"`},
		{name: "constant without duration", edits: []string{"  requests = 5\n  stagger = \"50ms\"\n", "  arrival = \"constant\"\n  rate = 60\n"},
			line: 30, col: 3, key: "scenario.tenant.duration", msg: `arrival = "constant" needs a duration`},
		{name: "constant with requests", edits: []string{"  stagger = \"50ms\"\n", "  arrival = \"constant\"\n  rate = 60\n  duration = \"1m\"\n"},
			line: 33, col: 3, key: "scenario.tenant.requests", msg: `requests goes with a burst`},
		{name: "poisson rate zero", edits: []string{"  requests = 5\n  stagger = \"50ms\"\n", "  arrival = \"poisson\"\n  rate = 0\n  duration = \"1m\"\n"},
			line: 34, col: 3, key: "scenario.tenant.rate", msg: `0 is not a rate`},
		{name: "unknown arrival", edits: []string{"  requests = 5\n  stagger = \"50ms\"\n", "  arrival = \"steady\"\n"},
			line: 33, col: 3, key: "scenario.tenant.arrival", msg: `arrival "steady" is not known; use "burst", "constant", "poisson" or "gateway"`},
		{name: "gateway tenant with requests", edits: []string{"  stagger = \"50ms\"\n", "  arrival = \"gateway\"\n"},
			line: 33, col: 3, key: "scenario.tenant.requests", msg: `requests does not go with arrival = "gateway"`},
		{name: "api_keys without gateway", edits: []string{"  stagger = \"50ms\"\n", "  stagger = \"50ms\"\n  api_keys = [\"sk-1\"]\n"},
			line: 35, col: 3, key: "scenario.tenant.api_keys", msg: `api_keys go with arrival = "gateway"`},
		{name: "api key with a space", edits: []string{"  requests = 5\n  stagger = \"50ms\"\n", "  arrival = \"gateway\"\n  api_keys = [\"sk 1\"]\n"},
			line: 34, col: 3, key: "scenario.tenant.api_keys", msg: "an API key is 1 to 256 characters without spaces"},

		// gateway
		{name: "cooldown zero", extra: "\n  [scenario.gateway]\n  allowed_fails = 2\n  cooldown = \"0s\"\n",
			line: 38, col: 3, key: "scenario.gateway.cooldown", msg: "cooldown must be longer than 0s when allowed_fails is set"},
		{name: "cooldown and breaker", extra: "\n  [scenario.gateway]\n  allowed_fails = 2\n  breaker_failures = 3\n",
			line: 38, col: 3, key: "scenario.gateway.breaker_failures", msg: "choose cooldown (allowed_fails) or a circuit breaker (breaker_failures), not both"},
		{name: "allowed_fails negative", extra: "\n  [scenario.gateway]\n  allowed_fails = -1\n",
			line: 37, col: 3, key: "scenario.gateway.allowed_fails", msg: "-1 is out of range"},
		{name: "allowed_fails in quotes", extra: "\n  [scenario.gateway]\n  allowed_fails = \"2\"\n",
			line: 37, col: 3, key: "scenario.gateway.allowed_fails", msg: `"2" is a string; write a whole number from 0 to 1000, without quotes`},

		// replicas
		{name: "replicas zero", extra: "\n  [scenario.replicas]\n  count = 0\n",
			line: 37, col: 3, key: "scenario.replicas.count", msg: "0 is out of range; use a whole number from 1 to 64"},
		{name: "replicas limits unknown", extra: "\n  [scenario.replicas]\n  count = 3\n  limits = \"both\"\n",
			line: 38, col: 3, key: "scenario.replicas.limits", msg: `limits is "shared" (every replica counts against the same limits`},
		{name: "replicas limits a number", extra: "\n  [scenario.replicas]\n  limits = 1\n",
			line: 37, col: 3, key: "scenario.replicas.limits", msg: "limits must be a string in quotes, not a whole number"},
		{name: "limiter a number", edits: []string{"title = \"Minimal\"\n", "title = \"Minimal\"\nlimiter = 1\n"},
			line: 6, col: 1, key: "scenario.limiter", msg: "limiter must be a string in quotes, not a whole number"},

		// requests
		{name: "requests zero", edits: []string{"  requests = 5\n", "  requests = 0\n"},
			line: 33, col: 3, key: "scenario.tenant.requests", msg: "0 is out of range; use a whole number from 1 to 1000000"},
		{name: "requests too many", edits: []string{"  requests = 5\n", "  requests = 1000001\n"},
			line: 33, col: 3, key: "scenario.tenant.requests", msg: "1000001 is out of range"},
		{name: "requests missing", edits: []string{"  requests = 5\n", ""},
			line: 30, col: 3, key: "scenario.tenant.requests", msg: "is required; use a whole number from 1 to 1000000"},
		{name: "max_tokens zero", edits: []string{"title = \"Minimal\"\n", "title = \"Minimal\"\nmax_tokens = 0\n"},
			line: 6, col: 1, key: "scenario.max_tokens", msg: "0 is out of range"},

		// values
		{name: "empty model id", edits: []string{`model = "us.anthropic.claude-sonnet-4-20250514-v1:0"`, `model = "  "`},
			line: 13, col: 3, key: "scenario.deployment.model", msg: `deployment "dep-a" has an empty model id`},
		{name: "unknown strategy", edits: []string{"  name = \"main\"\n", "  name = \"main\"\n  strategy = \"random\"\n"},
			line: 23, col: 3, key: "scenario.group.strategy", msg: `strategy "random" is not known; use "shuffle" or "round-robin"`},
		{name: "unknown scenario limiter", edits: []string{"title = \"Minimal\"\n", "title = \"Minimal\"\nlimiter = \"leaky-bucket\"\n"},
			line: 6, col: 1, key: "scenario.limiter", msg: `limiter "leaky-bucket" is not known; use "token-bucket" or "fixed-window"`},
		{name: "unknown deployment limiter", edits: []string{"  rpm = 3\n", "  rpm = 3\n  limiter = \"sliding\"\n"},
			line: 15, col: 3, key: "scenario.deployment.limiter", msg: `limiter "sliding" is not known`},
		{name: "unknown operation", edits: []string{"title = \"Minimal\"\n", "title = \"Minimal\"\noperation = \"Invoke\"\n"},
			line: 6, col: 1, key: "scenario.operation", msg: `operation "Invoke" is not supported; use "Converse" or "InvokeModel"`},
		{name: "stagger word", edits: []string{`stagger = "50ms"`, `stagger = "fast"`},
			line: 34, col: 3, key: "scenario.tenant.stagger", msg: `"fast" is not a duration`},
		{name: "stagger number", edits: []string{`stagger = "50ms"`, `stagger = 5`},
			line: 34, col: 3, key: "scenario.tenant.stagger", msg: "5 is not a duration; write it as a string"},
		{name: "stagger negative", edits: []string{`stagger = "50ms"`, `stagger = "-1s"`},
			line: 34, col: 3, key: "scenario.tenant.stagger", msg: `"-1s" is not a duration`},
		{name: "scenario latency p95 below p50", extra: scenarioModel,
			line: 39, col: 3, key: "scenario.model.latency_p95", msg: "latency_p95 (1s) is below latency_p50 (2s)"},
		{name: "file latency p95 below p50", edits: []string{secDefault, fileModel},
			line: 5, col: 1, key: "model.latency_p95", msg: "latency_p95 (500ms) is below latency_p50 (3s)"},
		{name: "model without id", edits: []string{secDefault, "default = \"s\"\n[[model]]\nlatency_p50 = \"1s\"\n\n"},
			line: 2, col: 1, key: "model.id", msg: "model has an empty id"},
		{name: "weight zero", edits: []string{"  rpm = 3\n", "  rpm = 3\n  weight = 0\n"},
			line: 15, col: 3, key: "scenario.deployment.weight", msg: "weight must be a number above 0 and at most 1000000 (got 0)"},
		{name: "weight word", edits: []string{"  rpm = 3\n", "  rpm = 3\n  weight = \"heavy\"\n"},
			line: 15, col: 3, key: "scenario.deployment.weight", msg: "weight must be a number above 0 and at most 1000000 (got heavy)"},
		{name: "account_id short", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  account_id = \"12345\"\n"},
			line: 10, col: 3, key: "scenario.account.account_id", msg: `account_id "12345" must be 12 digits`},
		{name: "account_id letters", edits: []string{"  name = \"acc\"\n", "  name = \"acc\"\n  account_id = \"12345678901x\"\n"},
			line: 10, col: 3, key: "scenario.account.account_id", msg: "must be 12 digits"},

		// duplicates
		{name: "duplicate scenario", extra: dupScenario,
			line: 37, col: 1, key: "scenario.name", msg: `scenario "s" is defined twice`},
		{name: "duplicate account",
			edits: []string{
				"  name = \"dep-a\"\n", "  name = \"dep-a\"\n  account = \"acc\"\n",
				"  name = \"dep-b\"\n", "  name = \"dep-b\"\n  account = \"acc\"\n",
				"  name = \"acc\"\n", "  name = \"acc\"\n\n  [[scenario.account]]\n  name = \"acc\"\n",
			},
			line: 12, col: 3, key: "scenario.account.name", msg: `account "acc" is defined twice`},
		{name: "duplicate deployment",
			edits: []string{`name = "dep-b"`, `name = "dep-a"`, `deployments = ["dep-b"]`, `deployments = ["dep-a"]`},
			line:  17, col: 3, key: "scenario.deployment.name", msg: `deployment "dep-a" is defined twice`},
		{name: "duplicate group",
			edits: []string{"  fallbacks = [\"spare\"]\n", "", `name = "spare"`, `name = "main"`},
			line:  26, col: 3, key: "scenario.group.name", msg: `group "main" is defined twice`},
		{name: "duplicate tenant", extra: dupTenant,
			line: 37, col: 3, key: "scenario.tenant.name", msg: `tenant "app" is defined twice`},

		// missing parts
		{name: "missing title", edits: []string{"title = \"Minimal\"\n", ""},
			line: 3, col: 1, key: "scenario", msg: `scenario "s" has no title`},
		{name: "missing scenario name", edits: []string{secDefault, "", "name = \"s\"\n", ""},
			line: 1, col: 1, key: "scenario", msg: "scenario has no name"},
		{name: "missing deployment name", edits: []string{"  name = \"dep-a\"\n", ""},
			line: 11, col: 3, key: "scenario.deployment", msg: "deployment has no name", n: -1},
		{name: "no accounts", edits: []string{secAccount, ""},
			line: 3, col: 1, key: "scenario", msg: `scenario "s" has no accounts`, n: -1},
		{name: "no deployments", edits: []string{secDepA + secDepB + secGroupMain + secGroupSpare, ""},
			line: 3, col: 1, key: "scenario", msg: `scenario "s" has no deployments`},
		{name: "no tenants", edits: []string{secTenant, ""},
			line: 3, col: 1, key: "scenario", msg: `scenario "s" sends nothing`},
		{name: "default missing", edits: []string{`default = "s"`, `default = "nope"`},
			line: 1, col: 1, key: "default", msg: `default scenario "nope" does not exist; known: s`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es := parseErrs(t, doc(t, c.edits...)+c.extra)
			want := c.n
			if want == 0 {
				want = 1
			}
			if want > 0 && len(es) != want {
				t.Errorf("want %d error(s), got %d:\n%v", want, len(es), es)
			}
			checkErr(t, findErr(t, es, c.key, c.msg), c.line, c.col)
		})
	}
}

func TestUnlimitedAccepted(t *testing.T) {
	f := mustParse(t, doc(t, "  rpm = 3\n", "  rpm = \"unlimited\"\n"))
	d := f.Scenarios[0].Deployments[0]
	if !d.RPM.IsUnlimited() || d.RPM != Unlimited {
		t.Errorf("deployment rpm = %v, want unlimited", d.RPM)
	}
	if f.Scenarios[0].Deployments[1].RPM != 25 {
		t.Errorf("second deployment rpm = %v, want 25", f.Scenarios[0].Deployments[1].RPM)
	}
	if !f.Scenarios[0].Tenants[0].RPM.IsUnlimited() {
		t.Errorf("tenant rpm = %v, want unlimited", f.Scenarios[0].Tenants[0].RPM)
	}
	// The largest load allowed is accepted.
	f = mustParse(t, doc(t, "  requests = 5\n", "  requests = 1000000\n"))
	if got := f.Scenarios[0].Tenants[0].Requests; got != MaxRequests {
		t.Errorf("requests = %d, want %d", got, MaxRequests)
	}
}

func TestRPMFormatting(t *testing.T) {
	if RPM(3).String() != "3" || Unlimited.String() != "unlimited" {
		t.Errorf("String: %q, %q", RPM(3).String(), Unlimited.String())
	}
	b, err := json.Marshal(map[string]RPM{"a": 25, "b": Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"a":25,"b":"unlimited"}` {
		t.Errorf("JSON = %s", b)
	}
}

func TestSeveralErrorsAtOnce(t *testing.T) {
	src := doc(t, "  rpm = 3\n", "  rpm = 0\n", "  requests = 5\n", "  requests = 0\n")
	es := parseErrs(t, src)
	if len(es) != 2 {
		t.Fatalf("want 2 errors, got %d:\n%v", len(es), es)
	}
	checkErr(t, es[0], 14, 3)
	checkErr(t, es[1], 33, 3)
	if es[0].Key != "scenario.deployment.rpm" || es[1].Key != "scenario.tenant.requests" {
		t.Errorf("keys %q, %q", es[0].Key, es[1].Key)
	}
	// The combined message has one line per problem.
	if lines := strings.Split(es.Error(), "\n"); len(lines) != 2 || lines[0] != es[0].Error() || lines[1] != es[1].Error() {
		t.Errorf("Errors.Error() = %q", es.Error())
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "# nothing but a comment\n", "default = \"x\"\n"} {
		es := parseErrs(t, src)
		if len(es) != 1 {
			t.Fatalf("%q: want 1 error, got:\n%v", src, es)
		}
		if want := "f.toml: no scenarios; add at least one [[scenario]] table"; es[0].Error() != want {
			t.Errorf("%q: error %q, want %q", src, es[0].Error(), want)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	src := base + "\n[[scenario]]\nname = \"other\"\ntitle = \"Other\"\n" +
		"[[scenario.account]]\nname = \"a\"\n[[scenario.deployment]]\nname = \"d\"\nmodel = \"m\"\nrpm = 1\n" +
		"[[scenario.tenant]]\nname = \"t\"\nrpm = 1\nrequests = 1\n"
	f := mustParse(t, src)
	if s, err := f.Lookup("other"); err != nil || s.Name != "other" {
		t.Fatalf("Lookup(other) = %v, %v", s, err)
	}
	s, err := f.Lookup("missing")
	if err == nil || s != nil {
		t.Fatalf("Lookup(missing) = %v, %v; want an error", s, err)
	}
	for _, want := range []string{`"missing"`, "known scenarios: s, other"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestModelIDs(t *testing.T) {
	const arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-v1:0"
	cases := []struct{ id, geo, base string }{
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", "us", "anthropic.claude-sonnet-4-20250514-v1:0"},
		{"anthropic.claude-3-5-sonnet-20241022-v2:0", "", "anthropic.claude-3-5-sonnet-20241022-v2:0"},
		{"global.anthropic.x-v1:0", "global", "anthropic.x-v1:0"},
		{"apac.amazon.nova-pro-v1:0", "apac", "amazon.nova-pro-v1:0"},
		{"xx.meta.llama-v1:0", "xx", "meta.llama-v1:0"},
		{arn, "eu", "anthropic.claude-v1:0"},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2", "", "anthropic.claude-v2"},
	}
	for _, c := range cases {
		if got := Geography(c.id); got != c.geo {
			t.Errorf("Geography(%q) = %q, want %q", c.id, got, c.geo)
		}
		if got := BaseModelID(c.id); got != c.base {
			t.Errorf("BaseModelID(%q) = %q, want %q", c.id, got, c.base)
		}
	}
	if got := MaskAccountID("123456789012"); got != "…9012" {
		t.Errorf("MaskAccountID = %q, want …9012", got)
	}
	if got := MaskAccountID("123"); got != "123" {
		t.Errorf("MaskAccountID(short) = %q, want it unchanged", got)
	}
}

func TestDefaults(t *testing.T) {
	src := doc(t, secGroupMain+secGroupSpare, "")
	f := mustParse(t, src)
	s := f.Scenarios[0]
	if s.Operation != OpConverse {
		t.Errorf("Operation = %q, want Converse", s.Operation)
	}
	if s.MaxTokens != 100 || s.Prompt != DefaultPrompt {
		t.Errorf("MaxTokens %d, Prompt %q", s.MaxTokens, s.Prompt)
	}
	if s.Logs.Group != "BedrockModelInvocation" || s.Logs.Delay != DefaultLogDelay ||
		s.Logs.PollEvery != DefaultPollEvery || s.Logs.Timeout != DefaultLogTimeout {
		t.Errorf("Logs = %+v", s.Logs)
	}
	if s.Limiter != TokenBucket {
		t.Errorf("Limiter = %q, want token-bucket", s.Limiter)
	}
	for _, d := range s.Deployments {
		if d.Limiter != TokenBucket || d.Account != "acc" || d.Weight != 0 {
			t.Errorf("deployment %+v: want token-bucket, account acc, weight 0", d)
		}
	}
	if tn := s.Tenants[0]; tn.Limiter != TokenBucket || tn.Group != "default" {
		t.Errorf("tenant limiter %q group %q; want token-bucket, default", tn.Limiter, tn.Group)
	}

	a := s.Accounts[0]
	if len(a.AccountID) != 12 || strings.Trim(a.AccountID, "0123456789") != "" {
		t.Errorf("AccountID = %q, want 12 digits", a.AccountID)
	}
	if a.Profile != "default" || a.Region != "us-east-1" || a.QuotaRPM != 200 || a.Quota("us-west-2") != 200 {
		t.Errorf("account = %+v", a)
	}
	if again := mustParse(t, src).Scenarios[0].Accounts[0].AccountID; again != a.AccountID {
		t.Errorf("simulated AccountID not stable: %q then %q", a.AccountID, again)
	}

	want := []Group{{Name: "default", Strategy: Shuffle, Deployments: []string{"dep-a", "dep-b"}}}
	if !reflect.DeepEqual(s.Groups, want) {
		t.Errorf("Groups = %+v, want %+v", s.Groups, want)
	}
	if got := s.Chain("default"); !reflect.DeepEqual(got, []string{"default"}) {
		t.Errorf("Chain(default) = %v", got)
	}

	// An explicit account_id is kept as written.
	f = mustParse(t, doc(t, "  name = \"acc\"\n", "  name = \"acc\"\n  account_id = \"123456789012\"\n"))
	if id := f.Scenarios[0].Accounts[0].AccountID; id != "123456789012" {
		t.Errorf("AccountID = %q, want the one written", id)
	}
}

func TestFallbackOnAndDeniedModels(t *testing.T) {
	f := mustParse(t, base)
	if got := f.Scenarios[0].FallbackOn; len(got) != 1 || got[0] != ClassThrottled {
		t.Fatalf("default fallback_on = %v, want [throttled]", got)
	}
	src := doc(t, "title = \"Minimal\"\n", "title = \"Minimal\"\nfallback_on = [\"throttled\", \"server-error\"]\n",
		"  name = \"acc\"\n", "  name = \"acc\"\n  denied_models = [\"anthropic.x-v1:0\"]\n")
	s := mustParse(t, src).Scenarios[0]
	if !s.FallsBackOn(ClassServerError) || s.FallsBackOn(ClassAccessDenied) || s.Accounts[0].DeniedModels[0] != "anthropic.x-v1:0" {
		t.Fatalf("fallback_on %v, denied %v", s.FallbackOn, s.Accounts[0].DeniedModels)
	}
	none := mustParse(t, doc(t, "title = \"Minimal\"\n", "title = \"Minimal\"\nfallback_on = []\n")).Scenarios[0]
	if none.FallsBackOn(ClassThrottled) {
		t.Fatal("fallback_on = [] still falls back on throttles")
	}
	es := parseErrs(t, doc(t, "title = \"Minimal\"\n", "title = \"Minimal\"\nfallback_on = [\"throtled\"]\n"))
	e := findErr(t, es, "scenario.fallback_on", `unknown error class "throtled"; use any of: throttled, server-error`)
	checkErr(t, e, 6, 1)
}

func TestTokenKeys(t *testing.T) {
	src := doc(t,
		"title = \"Minimal\"\n", "title = \"Minimal\"\ninput_tokens = { median = 800, p95 = 2400 }\nmax_tokens = 512\ntpm_counting = \"after-success\"\n",
		"  rpm = 3\n", "  rpm = 3\n  tpm = 20000\n  tpm_counting = \"reserve\"\n",
		"  name = \"acc\"\n", "  name = \"acc\"\n  quota_tpm = 100000\n  region_quota_tpm = { \"us-east-2\" = 5000 }\n  application_profiles = { team-a = \"us.anthropic.claude-sonnet-4-6\" }\n",
	) + "\n  [[scenario.tenant]]\n  name = \"big\"\n  rpm = 1\n  requests = 1\n  tpm = 9000\n  max_tokens = 8192\n  input_tokens = 1000\n" +
		"\n  [[scenario.model]]\n  id = \"anthropic.x\"\n  ttft = \"800ms\"\n  tokens_per_second = 75\n  output_tokens = { median = 300 }\n  burndown = 5\n  max_output_tokens = 4096\n"
	f, err := Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenarios[0]
	if s.InputTokens != (TokenCount{800, 2400}) || s.MaxTokens != 512 || s.Counting != AfterSuccess {
		t.Errorf("scenario tokens: input %v, max %d, counting %s", s.InputTokens, s.MaxTokens, s.Counting)
	}
	if d := s.Deployments[0]; d.TPM != 20000 || d.Counting != Reserve {
		t.Errorf("deployment with tpm: %+v", d)
	}
	if d := s.Deployments[1]; !d.TPM.IsUnlimited() || d.Counting != AfterSuccess {
		t.Errorf("deployment without tpm: %+v; want unlimited, the scenario's counting", d)
	}
	a := s.Accounts[0]
	if a.TokenQuota("us-east-1") != 100000 || a.TokenQuota("us-east-2") != 5000 || a.ApplicationProfiles["team-a"] != "us.anthropic.claude-sonnet-4-6" {
		t.Errorf("account token quotas: %+v", a)
	}
	app, big := s.Tenants[0], s.Tenants[1]
	if !app.TPM.IsUnlimited() || app.MaxTokens != 512 || app.InputTokens != s.InputTokens {
		t.Errorf("tenant inheriting: %+v", app)
	}
	if big.TPM != 9000 || big.MaxTokens != 8192 || big.InputTokens != (TokenCount{1000, 1000}) {
		t.Errorf("tenant with its own: %+v", big)
	}
	m := s.Models[0]
	if m.TTFT != 800*time.Millisecond || m.TokensPerSecond != 75 || m.OutputTokens != (TokenCount{300, 300}) || m.Burndown != 5 || m.MaxOutputTokens != 4096 {
		t.Errorf("model: %+v", m)
	}
}

func TestTokenCountDraws(t *testing.T) {
	c := TokenCount{Median: 800, P95: 2400}
	if got := c.At(0.5); got != 800 {
		t.Errorf("median draw %d, want 800", got)
	}
	if got := c.At(0.95); got < 2390 || got > 2410 {
		t.Errorf("p95 draw %d, want 2400", got)
	}
	if got := c.At(0); got < 1 {
		t.Errorf("lowest draw %d, want at least 1", got)
	}
	if got := (TokenCount{Median: 300, P95: 300}).At(0.99); got != 300 {
		t.Errorf("fixed count drew %d", got)
	}
	for _, n := range []int{13, 100, 1000, 12345} {
		p := PromptOfTokens(DefaultPrompt, n)
		if got := PromptTokens(p); got != max(n, PromptTokens(DefaultPrompt)) {
			t.Errorf("PromptOfTokens(%d) estimates %d", n, got)
		}
	}
}

func TestStreamingFaults(t *testing.T) {
	s := &Scenario{Accounts: []Account{{Name: "a"}}}
	for _, tc := range []struct {
		in   FaultInput
		want string // "" accepts
	}{
		{FaultInput{Kind: "stream-cut", Tokens: int64(40)}, ""},
		{FaultInput{Kind: "stream-cut", Tokens: int64(40), Rate: 0.5}, ""},
		{FaultInput{Kind: "stream-cut"}, "tokens: is required"},
		{FaultInput{Kind: "stream-stall", Tokens: int64(10), Stall: "20s"}, ""},
		{FaultInput{Kind: "stream-stall", Tokens: int64(10)}, "needs stall"},
		{FaultInput{Kind: "stream-slow", Factor: 4.0}, ""},
		{FaultInput{Kind: "stream-slow", Factor: 0.5}, "from 1 to"},
		{FaultInput{Kind: "stream-error", Tokens: int64(5), Rate: 1.0, Error: "modelStreamErrorException"}, ""},
		{FaultInput{Kind: "stream-error", Tokens: int64(5), Rate: 1.0, Error: "InternalServerException"}, "one of throttlingException"},
		{FaultInput{Kind: "stream-error", Tokens: int64(5), Rate: 1.0, Error: "ThrottlingException"}, `("throttlingException": inside a stream Bedrock names its exceptions with a lowercase first letter)`},
		{FaultInput{Kind: "throttle", Rate: 0.5, Tokens: int64(3)}, "tokens does not apply to a throttle fault"},
	} {
		f, err := s.CheckFault(tc.in, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v; want an error saying %q", tc.in, err, tc.want)
		case tc.want == "" && !f.Kind.Streaming():
			t.Errorf("%+v: %s is not a streaming fault", tc.in, f.Kind)
		}
	}
}

// Gateway tenants: each API key names one tenant, and a scenario says
// which tenant a key is.
func TestGatewayTenantsAndTheirKeys(t *testing.T) {
	const file = `
[[scenario]]
name = "g"
title = "g"
[[scenario.account]]
name = "default"
[[scenario.deployment]]
name = "d"
model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
rpm = 3
[[scenario.tenant]]
name = "a"
rpm = 3
arrival = "gateway"
api_keys = ["sk-a", "sk-shared"]
[[scenario.tenant]]
name = "b"
rpm = 3
arrival = "gateway"
api_keys = ["sk-b", "sk-shared"]
`
	_, err := Parse("g.toml", []byte(file))
	if err == nil || !strings.Contains(err.Error(), `g.toml:20:1: scenario.tenant.api_keys: this API key is tenant "a"'s already`) {
		t.Fatalf("a key two tenants share: %v", err)
	}
	f, err := Parse("g.toml", []byte(strings.Replace(file, `"sk-b", "sk-shared"`, `"sk-b"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenarios[0]
	if name, ok := s.TenantOfKey("sk-shared"); !ok || name != "a" || !s.ServesClients() {
		t.Fatalf("sk-shared is %q (%v); serves clients %v", name, ok, s.ServesClients())
	}
	if _, ok := s.TenantOfKey("sk-nobody"); ok {
		t.Fatal("an unknown key names a tenant")
	}
}

// [scenario.shared] names where a gateway's replicas share their limits;
// a value that cannot be one is named with its place.
func TestSharedTable(t *testing.T) {
	// Appended after the tenant: blank 35, [scenario.shared] 36, then its keys.
	f := mustParse(t, base+"\n[scenario.shared]\nredis = \"redis://127.0.0.1:6379/0\"\nredis_failure = \"closed\"\n")
	if s := f.Scenarios[0].Shared; s.Redis != "redis://127.0.0.1:6379/0" || s.OnFailure != SharedFailClosed {
		t.Errorf("Shared = %+v", s)
	}
	if s := mustParse(t, base).Scenarios[0].Shared; s.Redis != "" || s.OnFailure != SharedFailOpen {
		t.Errorf("without the table, Shared = %+v; want no Redis, fail open", s)
	}
	es := parseErrs(t, base+"\n[scenario.shared]\nredis = \"127.0.0.1:6379\"\nredis_failure = \"maybe\"\n")
	checkErr(t, findErr(t, es, "scenario.shared.redis", "is not a Redis URL"), 37, 1)
	checkErr(t, findErr(t, es, "scenario.shared.redis_failure", `redis_failure is "open" or "closed"`), 38, 1)
}
