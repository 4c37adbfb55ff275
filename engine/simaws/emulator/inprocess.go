package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// InProcessEndpoint is the URL clients of an in-process emulator are given.
// Nothing listens there: the transport hands each request to the handler.
// It is a loopback name, so the fault API, which answers only requests
// addressed to this machine, answers these.
const InProcessEndpoint = "http://localhost"

// InProcess is an http.RoundTripper that hands each request straight to the
// server's handler in this process, with no socket: the AWS SDK above it
// still builds, signs and serialises every call, and parses every answer,
// as it would over the network. A long run makes hundreds of thousands of
// calls, and the loopback round trip (two TCP stacks, HTTP/1.1 framing on
// both sides) cost three times the call itself.
//
// It behaves as net/http's server does where a client can tell: the
// response's headers go out when the handler flushes, has written more
// than the server's buffer, or returns; a handler that aborts
// (http.ErrAbortHandler) cuts the body short, as a dropped connection
// does; a client that cancels its request's context cancels the handler's.
type InProcess struct {
	Handler http.Handler
}

// Transport is the server's in-process round tripper.
func (s *Server) Transport() *InProcess { return &InProcess{Handler: s} }

// errConnectionDropped is what a client reads when the handler aborted.
var errConnectionDropped = errors.New("the emulator dropped the connection")

// headerFlushSize is net/http's server buffer: a handler that writes more
// than this has its headers sent without flushing.
const headerFlushSize = 4 << 10

// RoundTrip runs the handler for req on a goroutine of its own and returns
// the response once its headers are out. The body streams what the
// handler writes after that.
func (t *InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	// A shallow copy, as the server side of a connection would have its own
	// Request; the handler only reads the headers and the body, so they
	// are shared rather than copied on every call.
	in := req.WithContext(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	w := newPipeWriter(req.Context())
	if !streamed(req) {
		// An answer that is one body runs on the caller's goroutine: a
		// long run makes hundreds of thousands of these calls, and handing
		// each to a goroutine of its own and back cost more than the call.
		return t.serveWhole(req, in, w)
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// Aborted on purpose (a cut stream), or a bug the handler did
				// not catch: either way the client sees a broken connection,
				// never a crash.
				w.abort(fmt.Errorf("%w: %v", errConnectionDropped, p))
				return
			}
			w.finish()
		}()
		t.Handler.ServeHTTP(w, in)
	}()
	select {
	case <-w.headersOut:
	case <-req.Context().Done():
		w.body.closeRead()
		return nil, req.Context().Err()
	}
	if w.aborted != nil {
		return nil, w.aborted // dropped before anything went out
	}
	return w.response(req), nil
}

// response is the answer to req, its headers as they went out and its body
// streaming what the handler writes.
func (w *pipeWriter) response(req *http.Request) *http.Response {
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          w.body,
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	return resp
}

// streamed reports whether the emulator answers req with a stream of
// events, which the client reads while the handler is still writing.
func streamed(req *http.Request) bool {
	return strings.HasSuffix(req.URL.Path, "/converse-stream") || strings.HasSuffix(req.URL.Path, "/invoke-with-response-stream")
}

// serveWhole runs the handler to its end, then answers with what it wrote.
func (t *InProcess) serveWhole(req, in *http.Request, w *pipeWriter) (resp *http.Response, err error) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %v", errConnectionDropped, p)
			}
		}()
		t.Handler.ServeHTTP(w, in)
	}()
	if err != nil {
		return nil, err
	}
	w.finish()
	return w.response(req), nil
}

// pipeWriter is the handler's http.ResponseWriter: it keeps the headers
// until they go out, then appends what the handler writes to the body the
// client reads. It never blocks the handler, as a socket's buffer would not
// for the small answers the emulator writes.
type pipeWriter struct {
	header      http.Header
	sent        http.Header // the headers as WriteHeader fixed them
	late        http.Header // what Header returns after that
	status      int
	wroteHeader bool
	body        *pipeBody
	headersOut  chan struct{} // closed when the headers are out
	once        sync.Once
	aborted     error // set before headersOut closes, if the handler aborted first
}

func newPipeWriter(ctx context.Context) *pipeWriter {
	return &pipeWriter{header: http.Header{}, body: newPipeBody(ctx), headersOut: make(chan struct{})}
}

// Header is the headers to send; once they are fixed, a map of its own
// that nobody reads, as net/http ignores changes after WriteHeader.
func (w *pipeWriter) Header() http.Header {
	if w.wroteHeader {
		if w.late == nil {
			w.late = http.Header{}
		}
		return w.late
	}
	return w.header
}

// WriteHeader fixes the status and the headers, as net/http does; they go
// out later, when net/http would send them.
func (w *pipeWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader, w.sent = status, true, w.header
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	n, buffered, err := w.body.write(p)
	if buffered > headerFlushSize {
		w.sendHeaders()
	}
	return n, err
}

// Flush sends the headers, and the body so far, to the client.
func (w *pipeWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	w.sendHeaders()
}

// FlushError is Flush for http.ResponseController, which reports a client
// that has gone.
func (w *pipeWriter) FlushError() error {
	w.Flush()
	return w.body.readerGone()
}

func (w *pipeWriter) sendHeaders() {
	w.once.Do(func() { close(w.headersOut) })
}

// finish is the handler's return: whatever it wrote is the whole answer.
func (w *pipeWriter) finish() {
	w.WriteHeader(http.StatusOK)
	w.sendHeaders()
	w.body.closeWrite(nil)
}

// abort is a connection dropped by the handler: before the headers, the
// round trip fails; after them, the body ends in an error.
func (w *pipeWriter) abort(err error) {
	w.once.Do(func() {
		w.aborted = err
		close(w.headersOut)
	})
	w.body.closeWrite(err)
}

// pipeBody is a response body written by the handler and read by the
// client, each at its own pace, with what is written in between buffered.
type pipeBody struct {
	ctx     context.Context
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // signalled, without blocking, on each write and close
	done    bool          // the handler returned or aborted
	err     error         // what a read returns once buf is drained: io.EOF or the abort
	gone    bool          // the client closed the body
}

func newPipeBody(ctx context.Context) *pipeBody {
	return &pipeBody{ctx: ctx, written: make(chan struct{}, 1)}
}

// write appends p for the client and says how much is waiting unread.
func (b *pipeBody) write(p []byte) (n, buffered int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.readerGoneLocked(); err != nil {
		return 0, b.buf.Len(), err
	}
	b.buf.Write(p)
	b.signal()
	return len(p), b.buf.Len(), nil
}

// errClientGone is what the handler's writes return once the client has
// closed the body or cancelled the request, as a write to a closed
// connection fails.
var errClientGone = errors.New("the client closed the connection")

func (b *pipeBody) readerGone() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readerGoneLocked()
}

func (b *pipeBody) readerGoneLocked() error {
	if b.gone || b.ctx.Err() != nil {
		return errClientGone
	}
	return nil
}

func (b *pipeBody) closeWrite(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done, b.err = true, io.EOF
	if err != nil {
		b.err = io.ErrUnexpectedEOF
	}
	b.signal()
}

func (b *pipeBody) closeRead() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone = true
	b.buf.Reset()
}

// signal wakes a waiting reader; a wake-up already pending is enough.
func (b *pipeBody) signal() {
	select {
	case b.written <- struct{}{}:
	default:
	}
}

// Read returns what has been written, waiting for more until the handler
// returns or the request is cancelled.
func (b *pipeBody) Read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		switch {
		case b.gone:
			b.mu.Unlock()
			return 0, errors.New("read on a closed response body")
		case b.buf.Len() > 0:
			n, _ := b.buf.Read(p)
			b.mu.Unlock()
			return n, nil
		case b.done:
			err := b.err
			b.mu.Unlock()
			return 0, err
		}
		b.mu.Unlock()
		select {
		case <-b.written:
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
}

// Close is the client hanging up: the handler's further writes fail.
func (b *pipeBody) Close() error {
	b.closeRead()
	return nil
}
