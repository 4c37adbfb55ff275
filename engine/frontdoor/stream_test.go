package frontdoor_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"spillway/engine"
	"spillway/engine/enginetest"
)

// talker is a network backend that streams its answer in two pieces and
// sends the second only once the test says the client has the first.
type talker struct{ firstSeen chan struct{} }

func (talker) Instant() bool { return false }
func (b talker) Invoke(ctx context.Context, _ time.Time, c engine.Call) engine.Reply {
	if !c.Stream || c.Text == nil {
		return engine.Reply{Text: "whole", InputTokens: 3, OutputTokens: 1}
	}
	c.FirstToken()
	c.Text("Hello")
	select {
	case <-b.firstSeen:
	case <-time.After(10 * time.Second):
		return engine.Reply{Code: "ModelTimeoutException", Message: "the client never read the first piece"}
	case <-ctx.Done():
		return engine.Reply{Code: "RequestCanceled"}
	}
	c.Text(", world")
	return engine.Reply{Text: "Hello, world", InputTokens: 3, OutputTokens: 2, FirstToken: time.Millisecond, Streamed: 2}
}

// A streamed answer reaches the client piece by piece as the backend reads
// it: the client has the first piece while the backend is still waiting
// to send the second.
func TestAStreamReachesTheClientAsItComes(t *testing.T) {
	f := enginetest.Load(t, "../../scenarios.toml")
	s, err := f.Lookup("gateway")
	if err != nil {
		t.Fatal(err)
	}
	backend := talker{firstSeen: make(chan struct{})}
	door := enginetest.DoorWith(t, s, engine.Options{Seed: 42, Speed: 1, Backend: backend})
	srv := httptest.NewServer(door.Handler())
	defer srv.Close()

	body := `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-demo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	var got []string
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		got = append(got, line)
		if strings.Contains(line, `"content":"Hello"`) {
			close(backend.firstSeen) // only now may the backend go on
		}
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, `"content":"Hello"`) || !strings.Contains(all, `"content":", world"`) || !strings.HasSuffix(all, "data: [DONE]") {
		t.Fatalf("the stream was not Hello, then , world, then [DONE]:\n%s", all)
	}
	if strings.Count(all, "Hello") != 1 {
		t.Fatalf("the text was sent twice:\n%s", all)
	}
}
