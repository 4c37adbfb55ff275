package frontdoor_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/frontdoor"
	"spillway/scenarios"
)

// newDoor serves the built-in gateway scenario.
func newDoor(t *testing.T) *frontdoor.Door {
	t.Helper()
	f := enginetest.Load(t, "../../scenarios.toml")
	s, err := f.Lookup("gateway")
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.Door(t, f, s)
}

func gateway(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(newDoor(t).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

type answer struct {
	status int
	header http.Header
	body   string
}

func post(t *testing.T, url, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func chat(model string) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"Why do LLM applications need resilience?"}]}`, model)
}

// concurrently sends n requests at once and returns their answers.
func concurrently(t *testing.T, n int, send func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = send(i) }()
	}
	wg.Wait()
	return out
}

func servedBy(answers []answer) map[string]int {
	by := map[string]int{}
	for _, a := range answers {
		if a.status == http.StatusOK {
			by[a.header.Get(frontdoor.HeaderDeployment)]++
		}
	}
	return by
}

// The seed's fallback: ten at once into a group whose primary takes 3 a
// minute; three are served by it and seven by the fallback, all 200, each
// answer naming who served it and the path it took.
func TestFallbackThroughTheDoor(t *testing.T) {
	url := gateway(t)
	answers := concurrently(t, 10, func(int) answer { return post(t, url, "sk-demo", chat("claude")) })
	for _, a := range answers {
		if a.status != http.StatusOK {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		var c struct {
			Object  string
			Choices []struct {
				Message struct{ Role, Content string }
			}
			Usage struct{ PromptTokens, CompletionTokens int } `json:"usage"`
		}
		if err := json.Unmarshal([]byte(a.body), &c); err != nil || c.Object != "chat.completion" || len(c.Choices) != 1 || c.Choices[0].Message.Content == "" {
			t.Fatalf("not a chat completion with an answer: %s (%v)", a.body, err)
		}
		switch d := a.header.Get(frontdoor.HeaderDeployment); d {
		case "primary":
			if a.header.Get(frontdoor.HeaderGroups) != "claude" || a.header.Get(frontdoor.HeaderFallback) != "false" {
				t.Errorf("served by the primary, but the headers say %v", a.header)
			}
		case "fallback":
			if a.header.Get(frontdoor.HeaderGroups) != "claude, claude-fallback" || a.header.Get(frontdoor.HeaderFallback) != "true" ||
				a.header.Get(frontdoor.HeaderSkipped) != "primary budget" {
				t.Errorf("served by the fallback, but the headers say groups %q fallback %q skipped %q",
					a.header.Get(frontdoor.HeaderGroups), a.header.Get(frontdoor.HeaderFallback), a.header.Get(frontdoor.HeaderSkipped))
			}
		default:
			t.Errorf("X-Spillway-Deployment is %q", d)
		}
	}
	if got := servedBy(answers); got["primary"] != 3 || got["fallback"] != 7 {
		t.Fatalf("served %v, want 3 by primary and 7 by fallback", got)
	}
}

// Load balancing: ten at once over two 3 RPM primaries that overflow.
func TestLoadBalancingThroughTheDoor(t *testing.T) {
	url := gateway(t)
	got := servedBy(concurrently(t, 10, func(int) answer { return post(t, url, "sk-demo", chat("balanced")) }))
	if got["primary-a"] != 3 || got["primary-b"] != 3 || got["overflow"] != 4 {
		t.Fatalf("served %v, want 3/3/4", got)
	}
}

// Quota isolation: each API key is a tenant with its own limit; team-a's
// fourth and fifth get 429 with Retry-After, and the others are untouched.
func TestTenantsByAPIKeyAreIsolated(t *testing.T) {
	url := gateway(t)
	keys := []string{"sk-team-a", "sk-team-b", "sk-team-c"}
	answers := concurrently(t, 15, func(i int) answer { return post(t, url, keys[i%3], chat("claude")) })
	ok, limited := map[string]int{}, map[string]int{}
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok[keys[i%3]]++
		case http.StatusTooManyRequests:
			limited[keys[i%3]]++
			var e struct {
				Error struct{ Type, Code, Message string }
			}
			json.Unmarshal([]byte(a.body), &e)
			if a.header.Get("Retry-After") == "" || e.Error.Code != "rate_limit_exceeded" || !strings.Contains(e.Error.Message, "team-a") {
				t.Errorf("a 429 without Retry-After or an OpenAI error naming the tenant: %v %s", a.header, a.body)
			}
			if a.header.Get(frontdoor.HeaderOutcome) != "rate_limited" || a.header.Get(frontdoor.HeaderTenant) != "team-a" {
				t.Errorf("a 429's headers: %v", a.header)
			}
		default:
			t.Errorf("status %d: %s", a.status, a.body)
		}
	}
	if ok["sk-team-a"] != 3 || limited["sk-team-a"] != 2 || ok["sk-team-b"] != 5 || ok["sk-team-c"] != 5 {
		t.Fatalf("served %v, limited %v; want team-a 3 and 2, team-b and team-c 5 of 5", ok, limited)
	}
}

// A streamed completion comes as server-sent chunks: the role, the text,
// a finish reason, the usage when asked, then [DONE].
func TestStreamedCompletion(t *testing.T) {
	url := gateway(t)
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(
		`{"model":"claude","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Authorization", "Bearer sk-demo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get(frontdoor.HeaderDeployment) != "primary" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	var text strings.Builder
	var role, finish string
	usage, done := 0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Object  string
			Choices []struct {
				Delta        struct{ Role, Content string }
				FinishReason *string `json:"finish_reason"`
			}
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("not a chunk: %s", line)
		}
		for _, ch := range c.Choices {
			role += ch.Delta.Role
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			usage = c.Usage.TotalTokens
		}
	}
	if role != "assistant" || text.Len() == 0 || finish != "stop" || usage == 0 || !done {
		t.Fatalf("role %q, %d bytes of text, finish %q, usage %d, [DONE] %v", role, text.Len(), finish, usage, done)
	}
}

// What a client gets wrong gets an OpenAI-style error with the right
// status, and the gateway goes on serving.
func TestBadRequestsGetClearErrorsAndTheGatewayGoesOn(t *testing.T) {
	url := gateway(t)
	for _, c := range []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"unknown key", "sk-nobody", chat("claude"), 401, "invalid_api_key"},
		{"no key", "", chat("claude"), 401, "invalid_api_key"},
		{"unknown model", "sk-demo", chat("gpt-4o"), 404, "model_not_found"},
		{"malformed JSON", "sk-demo", `{"model":"claude","messages":[`, 400, "invalid_json"},
		{"no messages", "sk-demo", `{"model":"claude","messages":[]}`, 400, "missing_messages"},
		{"bad role", "sk-demo", `{"model":"claude","messages":[{"role":"wizard","content":"hi"}]}`, 400, "invalid_role"},
		{"bad max_tokens", "sk-demo", `{"model":"claude","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_max_tokens"},
		{"body over the cap", "sk-demo", `{"model":"claude","messages":[{"role":"user","content":"` + strings.Repeat("x", frontdoor.MaxBodyBytes) + `"}]}`, 413, "request_too_large"},
	} {
		a := post(t, url, c.key, c.body)
		var e struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal([]byte(a.body), &e); err != nil || a.status != c.status || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: status %d, body %.200s; want %d with code %s", c.name, a.status, a.body, c.status, c.code)
		}
	}
	if a := post(t, url, "sk-demo", chat("claude")); a.status != 200 {
		t.Fatalf("after the bad requests, a good one got %d: %s", a.status, a.body)
	}
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "claude,claude-fallback,balanced,balanced-overflow" {
		t.Fatalf("GET /v1/models lists %v, want the scenario's groups", ids)
	}
}

// finals hears how each request ended.
type finals chan engine.Event

func (f finals) Handle(ev engine.Event) {
	if ev.Kind.Final() {
		f <- ev
	}
}

// A client that hangs up in the middle of a stream, and one that sends
// its body too slowly, leave the gateway serving the next. The hung-up
// request ends in the engine as Cancelled: no answer is spent on it.
func TestClientsThatHangUpOrStallLeaveTheGatewayServing(t *testing.T) {
	f := enginetest.Load(t, "../../scenarios.toml")
	s, err := f.Lookup("gateway")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(finals, 16)
	door := enginetest.Door(t, f, s, ended)
	srv := frontdoor.Server("127.0.0.1:0", door.Handler())
	if srv.ReadTimeout != frontdoor.ReadTimeout || srv.ReadHeaderTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Fatalf("the server does not bound its clients: %+v", srv)
	}
	srv.ReadTimeout = 300 * time.Millisecond // the same limit, shorter, for the test
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()

	// Hang up after the first chunk of a stream.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hello"}]}`
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-demo\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	first, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(first, "200") {
		t.Fatalf("the stream began with %q (%v)", first, err)
	}
	conn.Close()
	select {
	case ev := <-ended:
		if ev.Kind != engine.Cancelled || ev.Code != engine.CodeClientClosed {
			t.Fatalf("the hung-up stream's request ended with %v %s (%s); want cancelled, %s", ev.Kind, ev.Code, ev.Message, engine.CodeClientClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hung-up stream's request did not end within 10 s")
	}

	// Send half a body, then nothing.
	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(slow, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-demo\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Fatalf("the gateway kept a stalled client past its read timeout: %v", err)
	}
	slow.Close()

	if a := post(t, url, "sk-demo", chat("claude")); a.status != 200 {
		t.Fatalf("after a hang-up and a stall, a request got %d: %s", a.status, a.body)
	}
}

// A scenario whose gateway tenants have no keys lets anyone in: as the
// tenant X-Spillway-Tenant names, or its first; a name that is no gateway
// tenant is refused like an unknown key.
func TestOpenGatewayTakesTheTenantFromTheHeader(t *testing.T) {
	f, err := scenarios.Parse("open.toml", []byte(`
[[scenario]]
name = "open"
title = "open"
[[scenario.account]]
name = "default"
[[scenario.deployment]]
name = "d"
model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
rpm = 100
[[scenario.group]]
name = "g"
deployments = ["d"]
[[scenario.tenant]]
name = "first"
rpm = 1
arrival = "gateway"
[[scenario.tenant]]
name = "second"
rpm = 100
arrival = "gateway"
`))
	if err != nil {
		t.Fatal(err)
	}
	door := enginetest.Door(t, f, f.Scenarios[0])
	srv := httptest.NewServer(door.Handler())
	defer srv.Close()
	ask := func(tenant string) answer {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(chat("g")))
		req.Header.Set("Authorization", "Bearer anything")
		if tenant != "" {
			req.Header.Set("X-Spillway-Tenant", tenant)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, string(b)}
	}
	if a := ask(""); a.status != 200 || a.header.Get(frontdoor.HeaderTenant) != "first" {
		t.Fatalf("no header: %d as %q", a.status, a.header.Get(frontdoor.HeaderTenant))
	}
	if a := ask(""); a.status != 429 {
		t.Fatalf("first's second request in its 1 RPM minute: %d", a.status)
	}
	if a := ask("second"); a.status != 200 || a.header.Get(frontdoor.HeaderTenant) != "second" {
		t.Fatalf("as second: %d as %q", a.status, a.header.Get(frontdoor.HeaderTenant))
	}
	if a := ask("nobody"); a.status != 401 {
		t.Fatalf("as a tenant that does not exist: %d %s", a.status, a.body)
	}
}
