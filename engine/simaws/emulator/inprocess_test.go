package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// roundTrip sends a request through an InProcess transport to handler.
func roundTrip(t *testing.T, ctx context.Context, path string, handler http.HandlerFunc) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, InProcessEndpoint+path, strings.NewReader("question"))
	if err != nil {
		t.Fatal(err)
	}
	return (&InProcess{Handler: handler}).RoundTrip(req)
}

// A whole answer comes back as the handler wrote it: status, headers,
// body, and the request as a server would have received it.
func TestInProcessAnswersAsAServerWould(t *testing.T) {
	resp, err := roundTrip(t, context.Background(), "/model/m/converse?x=1", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.RequestURI != "/model/m/converse?x=1" || r.Host != "localhost" || string(body) != "question" || r.Method != http.MethodPost {
			t.Errorf("the handler got %s %q host %q body %q", r.Method, r.RequestURI, r.Host, body)
		}
		w.Header().Set("Content-Length", "6")
		w.Header().Set("x-amzn-RequestId", "r-1")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "answer")
		w.Header().Set("x-late", "ignored") // after the headers went out, as net/http ignores it
	})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "answer" || resp.StatusCode != 429 || resp.ContentLength != 6 ||
		resp.Header.Get("x-amzn-RequestId") != "r-1" || resp.Header.Get("x-late") != "" {
		t.Fatalf("got %d %q (%v), length %d, headers %v", resp.StatusCode, body, err, resp.ContentLength, resp.Header)
	}
}

// A stream's headers and first events reach the client while the handler
// is still writing, as soon as it flushes.
func TestInProcessStreamsWhatIsFlushed(t *testing.T) {
	more := make(chan struct{})
	resp, err := roundTrip(t, context.Background(), "/model/m/converse-stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first;")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		<-more
		io.WriteString(w, "second")
	})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first;" {
		t.Fatalf("before the handler went on: %q, %v", first, err)
	}
	close(more)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("after: %q, %v", rest, err)
	}
}

// A handler that aborts cuts the stream short, as a dropped connection
// does; before anything went out, the round trip itself fails.
func TestInProcessAbortIsADroppedConnection(t *testing.T) {
	resp, err := roundTrip(t, context.Background(), "/model/m/converse-stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if string(body) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %q, %v; want the part before the cut and an unexpected EOF", body, err)
	}
	for _, path := range []string{"/model/m/converse-stream", "/model/m/converse"} {
		_, err = roundTrip(t, context.Background(), path, func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
		if !errors.Is(err, errConnectionDropped) {
			t.Errorf("%s: an abort before any answer: %v", path, err)
		}
	}
}

// A client that gives up cancels the handler's context, and a handler
// writing to a client that hung up is told so.
func TestInProcessClientGoesAway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	handlerSaw := make(chan error, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	_, err := roundTrip(t, ctx, "/model/m/converse-stream", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		handlerSaw <- r.Context().Err()
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(<-handlerSaw, context.Canceled) {
		t.Fatalf("round trip %v; the handler should see the cancel too", err)
	}

	wrote := make(chan error, 1)
	closed := make(chan struct{})
	resp, err := roundTrip(t, context.Background(), "/model/m/converse-stream", func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).Flush()
		<-closed
		_, err := io.WriteString(w, "nobody reads this")
		wrote <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(closed)
	if err := <-wrote; err == nil {
		t.Fatal("a write after the client closed the body succeeded")
	}
}

// More than the server's buffer sends the headers without a flush, as
// net/http does, so a client is not kept waiting by a long answer.
func TestInProcessSendsHeadersOnceTheBufferFills(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := roundTrip(t, context.Background(), "/model/m/converse-stream", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, headerFlushSize+1))
			<-release
		})
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the headers did not go out after a full buffer")
	}
}
