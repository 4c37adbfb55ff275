package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// A streamed call is read to its end through the SDK's event-stream
// reader. What ended it is judged by its events, not by the SDK's error
// alone: the SDK takes a connection dropped mid-answer for the end of the
// stream, so an answer with no final event was cut.

// watchdog enforces a streamed call's TTFT and stall timeouts on the wall
// clock by cancelling it; on simulated time the engine times them itself.
type watchdog struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel context.CancelFunc
	why    string // the timeout that fired, if one did
	stall  time.Duration
}

func newWatchdog(cancel context.CancelFunc, ttft, stall time.Duration) *watchdog {
	w := &watchdog{cancel: cancel, stall: stall}
	if ttft > 0 {
		w.timer = time.AfterFunc(ttft, func() { w.fire(engine.NoFirstToken) })
	}
	return w
}

func (w *watchdog) fire(why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.why == "" {
		w.why = why
		w.cancel()
	}
}

// inTime reports whether no timeout has fired yet.
func (w *watchdog) inTime() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why == ""
}

// token notes a token: the TTFT timer gives way to the stall timer, which
// starts again.
func (w *watchdog) token() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stall > 0 && w.why == "" {
		w.timer = time.AfterFunc(w.stall, func() { w.fire(engine.StreamStalled) })
	}
}

func (w *watchdog) stop() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	return w.why
}

// streamRead is what a stream's events told.
type streamRead struct {
	first         time.Duration // wall time to the first token
	tokens        int
	ended         bool             // the stream's final event came
	input, output int              // usage, where the stream reported it
	text          *strings.Builder // the answer's text, kept for a gateway client's call
}

// add keeps a piece of a gateway client's answer, and passes it on to the
// client as it comes.
func (r *streamRead) add(call engine.Call, piece string) {
	if piece == "" {
		return
	}
	if r.text == nil {
		r.text = &strings.Builder{}
	}
	r.text.WriteString(piece)
	if call.Text != nil {
		call.Text(piece)
	}
}

// textDelta is a piece of streamed text as the model families send it.
type textDelta struct {
	Text string `json:"text"`
}

// chunkText is the text of an InvokeModelWithResponseStream chunk:
// Anthropic's content_block_delta carries it in delta.text, Amazon Nova's
// contentBlockDelta in delta.text one level down.
func chunkText(kind string, anthropic *textDelta, nova json.RawMessage) string {
	if kind == "content_block_delta" && anthropic != nil {
		return anthropic.Text
	}
	var d struct {
		Delta textDelta `json:"delta"`
	}
	if json.Unmarshal(nova, &d) != nil {
		return ""
	}
	return d.Delta.Text
}

// streamedCall is one streamed call's watch: its context, which the
// watchdog cancels when a timeout runs out, and when it began.
type streamedCall struct {
	ctx     context.Context
	dog     *watchdog
	start   time.Time
	read    streamRead
	onFirst func() // tells the engine of the first token, on a network backend
}

func (c *Client) watch(ctx context.Context, call engine.Call) (*streamedCall, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	return &streamedCall{ctx: ctx, dog: newWatchdog(cancel, c.wallTimeout(call.TTFTTimeout), c.wallTimeout(call.StallTimeout)),
		start: time.Now(), onFirst: call.FirstToken}, cancel
}

// token counts a token as it comes.
func (s *streamedCall) token() {
	if s.read.tokens == 0 {
		s.read.first = time.Since(s.start)
		if s.onFirst != nil && s.dog.inTime() {
			s.onFirst()
		}
	}
	s.read.tokens++
	s.dog.token()
}

func (c *Client) converseStream(ctx context.Context, a *Account, call engine.Call, opts []func(*bedrockruntime.Options)) engine.Reply {
	s, cancel := c.watch(ctx, call)
	defer cancel()
	messages, system, config := conversation(call)
	out, err := a.runtime.ConverseStream(s.ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(call.ModelID), Messages: messages, System: system, InferenceConfig: config}, opts...)
	if err != nil {
		return c.timedOut(s.dog.stop(), c.failure(err))
	}
	stream := out.GetStream()
	defer stream.Close()
	read := &s.read
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			s.token()
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok && call.Messages != nil {
				read.add(call, d.Value)
			}
		case *types.ConverseStreamOutputMemberMetadata:
			read.ended = true
			if u := e.Value.Usage; u != nil {
				read.input, read.output = int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.OutputTokens))
			}
		}
	}
	return c.streamReply(call, out.ResultMetadata, *read, stream.Err(), s.dog.stop())
}

func (c *Client) invokeModelStream(ctx context.Context, a *Account, call engine.Call, opts []func(*bedrockruntime.Options)) engine.Reply {
	s, cancel := c.watch(ctx, call)
	defer cancel()
	out, err := a.runtime.InvokeModelWithResponseStream(s.ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId:     aws.String(call.ModelID),
		Body:        invokeBody(call),
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	}, opts...)
	if err != nil {
		return c.timedOut(s.dog.stop(), c.failure(err))
	}
	stream := out.GetStream()
	defer stream.Close()
	read := &s.read
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			continue
		}
		// Anthropic's chunks say their "type"; Amazon Nova's carry
		// Converse's events by name. Both end with Bedrock's metrics.
		var body struct {
			Type      string          `json:"type"`
			TextDelta *textDelta      `json:"delta"` // Anthropic's content_block_delta
			Delta     json.RawMessage `json:"contentBlockDelta"`
			Metadata  json.RawMessage `json:"metadata"`
			Metrics   *struct {
				Input  int `json:"inputTokenCount"`
				Output int `json:"outputTokenCount"`
			} `json:"amazon-bedrock-invocationMetrics"`
		}
		if json.Unmarshal(chunk.Value.Bytes, &body) != nil {
			continue
		}
		switch {
		case body.Type == "content_block_delta" || body.Delta != nil:
			s.token()
			if call.Messages != nil {
				read.add(call, chunkText(body.Type, body.TextDelta, body.Delta))
			}
		case body.Type == "message_stop" || body.Metadata != nil:
			read.ended = true
			if m := body.Metrics; m != nil {
				read.input, read.output = m.Input, m.Output
			}
		}
	}
	return c.streamReply(call, out.ResultMetadata, *read, stream.Err(), s.dog.stop())
}

// wallTimeout is a stream timeout the client enforces itself: on the wall
// clock only.
func (c *Client) wallTimeout(d time.Duration) time.Duration {
	if c.target.Virtual {
		return 0
	}
	return d
}

// timedOut is a call the watchdog cancelled before its first token: the
// TTFT timeout, a timeout class the gateway may retry or fall back on.
func (c *Client) timedOut(why string, r engine.Reply) engine.Reply {
	if why == engine.NoFirstToken {
		return engine.Reply{RequestID: r.RequestID, Code: engine.NoFirstToken, Class: scenarios.ClassTimeout,
			Message: "no first token within the gateway's TTFT timeout"}
	}
	return r
}

// streamReply turns what a stream told into the engine's reply: its first
// token and tokens, and how it ended. On simulated time, the emulator's
// headers say when the first token came, when the answer ended and where
// it paused, since its events all arrive at once.
func (c *Client) streamReply(call engine.Call, md middleware.Metadata, read streamRead, err error, why string) engine.Reply {
	r := replyFrom(md)
	r.FirstToken, r.Streamed = read.first, read.tokens
	r.InputTokens, r.OutputTokens = read.input, read.output
	if read.text != nil {
		r.Text = read.text.String()
	}
	if r.InputTokens == 0 {
		r.InputTokens = call.InputTokens // a stream that broke never said; what was sent
	}
	raw, _ := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if c.target.Virtual && raw != nil {
		ms, _ := strconv.ParseInt(raw.Header.Get(wire.FirstTokenHeader), 10, 64)
		r.FirstToken = time.Duration(ms) * time.Millisecond
		r.Latency = latencyHeader(raw.Header)
		if after, at, pause, ok := wire.ParseStall(raw.Header.Get(wire.StallHeader)); ok {
			r.StallAfter, r.StallAt, r.Stall = after, at, pause
		}
	}
	if read.tokens == 0 {
		r.FirstToken = 0 // none came, whatever the headers planned
	}
	switch {
	case why == engine.NoFirstToken:
		// The gateway stopped waiting at its TTFT timeout; a token racing
		// the timer does not undo that.
		return c.timedOut(why, r)
	case why == engine.StreamStalled:
		r.Broken, r.Message = engine.StreamStalled, "no token within the gateway's stall timeout"
	case err != nil:
		var api smithy.APIError
		if code := ""; errors.As(err, &api) && api.ErrorCode() != "" {
			// An exception event, named as Bedrock names it in the stream.
			code = api.ErrorCode()
			r.Broken, r.Message = strings.ToLower(code[:1])+code[1:], api.ErrorMessage()
		} else {
			r.Broken, r.Message = engine.StreamCut, err.Error()
		}
	case !read.ended:
		r.Broken, r.Message = engine.StreamCut, "the stream ended without its last event: the connection was cut"
	}
	return r
}
