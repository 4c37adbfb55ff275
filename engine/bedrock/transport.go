package bedrock

import (
	"bytes"
	"io"
	"net/http"
)

// OwnBodies is an http.RoundTripper that hands the transport its own copy
// of each request body. The SDK closes the body it built as soon as the
// response's headers are in, while net/http's transport may still be
// reading it to make sure it has no more bytes than declared; the close
// then fails that read and the transport drops the connection, which cuts
// a streamed answer short. A server that answers at once (the emulator on
// simulated time) shows it about once in a hundred streams. A copy no one
// else closes takes the race away; request bodies here are small.
type OwnBodies struct{ Next http.RoundTripper }

// RoundTrip sends req with a body of its own.
func (t OwnBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}
