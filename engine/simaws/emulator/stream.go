package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/eventstream"

	"spillway/engine/simaws/fleet"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// Streaming: ConverseStream and InvokeModelWithResponseStream answer with
// an application/vnd.amazon.eventstream body, one message per event, in
// the framing the AWS SDKs decode (prelude, headers, payload and both
// CRC32s, written by smithy-go's own encoder). On the wall clock the first
// token comes after the model's time to first token and the rest at its
// speed; on simulated time every event is written at once, and the
// headers say when each came.

// streamWriter writes one stream's events.
type streamWriter struct {
	q       *request
	enc     *eventstream.Encoder
	buf     bytes.Buffer
	ctl     *http.ResponseController
	start   time.Time // the wall time the call began, for pacing
	paced   bool      // on the wall clock: wait for each event's time
	timeout time.Duration
	headers map[string]eventstream.Headers // by event type, built once per stream
	payload []byte                         // scratch for token payloads
}

// send writes one message at its time since the call began. Paced, it
// waits for that time and flushes the message; otherwise the server's
// buffer batches the messages, and the stream goes out as fast as a
// recorded one would. It reports false when the client has gone.
func (w *streamWriter) send(at time.Duration, headers eventstream.Headers, payload []byte) bool {
	if w.paced && !sleep(w.q.r.Context(), time.Until(w.start.Add(at))) {
		return false
	}
	w.buf.Reset()
	if err := w.enc.Encode(&w.buf, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		return false
	}
	if !w.paced {
		_, err := w.q.w.Write(w.buf.Bytes())
		return err == nil
	}
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.q.w.Write(w.buf.Bytes()); err != nil {
		return false
	}
	return w.ctl.Flush() == nil
}

// event writes an event of type kind with a JSON payload.
func (w *streamWriter) event(at time.Duration, kind string, payload any) bool {
	b, _ := json.Marshal(payload)
	return w.raw(at, kind, b)
}

// raw writes an event of type kind whose JSON payload is already built.
func (w *streamWriter) raw(at time.Duration, kind string, payload []byte) bool {
	h, ok := w.headers[kind]
	if !ok {
		h.Set(eventstream.MessageTypeHeader, eventstream.StringValue("event"))
		h.Set(eventstream.EventTypeHeader, eventstream.StringValue(kind))
		h.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
		w.headers[kind] = h
	}
	return w.send(at, h, payload)
}

// converseDelta is ConverseStream's contentBlockDelta payload for one
// token, built without reflection: a stream writes one per token. The text
// is a word of the emulator's own answer, printable, which Go's quoting
// writes as JSON does.
func (w *streamWriter) converseDelta(text string) []byte {
	b := append(w.payload[:0], `{"contentBlockIndex":0,"delta":{"text":`...)
	b = strconv.AppendQuote(b, text)
	w.payload = append(b, "}}"...)
	return w.payload
}

// exception writes an exception event, as Bedrock sends an error inside a
// stream that has begun: throttlingException, modelStreamErrorException
// and the rest.
func (w *streamWriter) exception(at time.Duration, kind string, payload any) bool {
	b, _ := json.Marshal(payload)
	var h eventstream.Headers
	h.Set(eventstream.MessageTypeHeader, eventstream.StringValue("exception"))
	h.Set(eventstream.ExceptionTypeHeader, eventstream.StringValue(kind))
	h.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
	return w.send(at, h, b)
}

// tokenText is the text of one streamed token: the simulated answer's
// words in turn, so that the deltas join up into it.
func tokenText(answer []string, i int) string {
	if len(answer) == 0 {
		return " …"
	}
	return " " + answer[i%len(answer)]
}

// broken ends a stream its plan breaks after the tokens sent: an exception
// event, or the connection dropped with no end to the stream. It reports
// whether it did.
func (w *streamWriter) broken(r fleet.Reply) bool {
	p := r.Stream
	switch {
	case p.Error != "":
		payload := map[string]any{"message": streamErrorMessages[p.Error]}
		if p.Error == "modelStreamErrorException" {
			payload["originalStatusCode"], payload["originalMessage"] = 500, "The model stopped answering."
		}
		w.exception(r.Latency, p.Error, payload)
		return true
	case p.CutAfter > 0:
		if w.paced {
			sleep(w.q.r.Context(), time.Until(w.start.Add(r.Latency)))
		} else {
			_ = w.ctl.Flush() // the tokens before the cut reach the client
		}
		panic(http.ErrAbortHandler) // as a connection lost mid-answer: no end, no error event
	}
	return false
}

// streamErrorMessages are what Bedrock says in each exception event.
var streamErrorMessages = map[string]string{
	"throttlingException":         "Too many tokens, please wait before trying again.",
	"modelStreamErrorException":   "The model stream failed partway through the response.",
	"serviceUnavailableException": "The service is unavailable. Try again later.",
	"internalServerException":     "The server encountered an internal error while processing the request.",
	"validationException":         "The model returned content that failed validation.",
}

// stream answers a streaming call whose reply is ready: the events of op's
// kind, paced on the wall clock or written at once on simulated time.
func (s *Server) stream(q *request, op, modelID string, reply fleet.Reply, latencyMS int64) {
	h := q.w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	h.Set(wire.RegionHeader, reply.Region)
	h.Set(wire.FirstTokenHeader, strconv.FormatInt(reply.FirstToken.Milliseconds(), 10))
	if p := reply.Stream; p.Stall > 0 {
		h.Set(wire.StallHeader, wire.FormatStall(p.StallAfter, reply.StallAt(), p.Stall))
	}
	if op == opInvokeStream {
		h.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	}
	q.w.WriteHeader(http.StatusOK)
	w := &streamWriter{q: q, enc: eventstream.NewEncoder(), ctl: http.NewResponseController(q.w),
		start: time.Now(), paced: !q.virtual && s.opts.Sleep, timeout: q.writeTimeout, headers: map[string]eventstream.Headers{}}
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	words := strings.Fields(reply.Text)
	n := reply.OutputTokens
	if op == opConverseStream {
		if !w.event(reply.FirstToken, "messageStart", map[string]string{"role": "assistant"}) {
			return
		}
		for i := range n {
			if !w.raw(reply.TokenAt(i), "contentBlockDelta", w.converseDelta(tokenText(words, i))) {
				return
			}
		}
		if w.broken(reply) {
			return
		}
		w.event(reply.Latency, "contentBlockStop", map[string]int{"contentBlockIndex": 0})
		w.event(reply.Latency, "messageStop", map[string]string{"stopReason": reply.StopReason})
		w.event(reply.Latency, "metadata", map[string]any{
			"usage":   map[string]int{"inputTokens": reply.InputTokens, "outputTokens": n, "totalTokens": reply.InputTokens + n},
			"metrics": map[string]int64{"latencyMs": latencyMS},
		})
		return
	}
	// InvokeModelWithResponseStream: chunks carrying the family's own
	// streaming body, base64 in "bytes" as JSON encodes a []byte.
	chunk := func(at time.Duration, body any) bool {
		b, _ := json.Marshal(body)
		return w.event(at, "chunk", map[string][]byte{"bytes": b})
	}
	metrics := map[string]int64{"inputTokenCount": int64(reply.InputTokens), "outputTokenCount": int64(n),
		"invocationLatency": latencyMS, "firstByteLatency": reply.FirstToken.Milliseconds()}
	if providerOf(modelID) == "amazon" {
		// Amazon Nova streams Converse's events, one per chunk.
		if !chunk(reply.FirstToken, map[string]any{"messageStart": map[string]string{"role": "assistant"}}) {
			return
		}
		for i := range n {
			delta := map[string]any{"contentBlockDelta": map[string]any{"delta": map[string]string{"text": tokenText(words, i)}, "contentBlockIndex": 0}}
			if !chunk(reply.TokenAt(i), delta) {
				return
			}
		}
		if w.broken(reply) {
			return
		}
		chunk(reply.Latency, map[string]any{"contentBlockStop": map[string]int{"contentBlockIndex": 0}})
		chunk(reply.Latency, map[string]any{"messageStop": map[string]string{"stopReason": reply.StopReason}})
		chunk(reply.Latency, map[string]any{"metadata": map[string]any{"usage": map[string]int{"inputTokens": reply.InputTokens, "outputTokens": n}},
			"amazon-bedrock-invocationMetrics": metrics})
		return
	}
	id := "msg_bdrk_" + strings.ReplaceAll(reply.RequestID, "-", "")
	if !chunk(reply.FirstToken, map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": scenarios.BaseModelID(modelID), "content": []any{},
		"stop_reason": nil, "usage": map[string]int{"input_tokens": reply.InputTokens, "output_tokens": 1}}}) {
		return
	}
	if !chunk(reply.FirstToken, map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]string{"type": "text", "text": ""}}) {
		return
	}
	for i := range n {
		delta := map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "text_delta", "text": tokenText(words, i)}}
		if !chunk(reply.TokenAt(i), delta) {
			return
		}
	}
	if w.broken(reply) {
		return
	}
	chunk(reply.Latency, map[string]any{"type": "content_block_stop", "index": 0})
	chunk(reply.Latency, map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": reply.StopReason, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": n}})
	chunk(reply.Latency, map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
}
