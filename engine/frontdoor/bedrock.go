package frontdoor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/smithy-go/eventstream"

	"spillway/engine"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// The Bedrock Runtime door: Converse, ConverseStream, InvokeModel and
// InvokeModelWithResponseStream, so that boto3 and the AWS SDKs can use
// the gateway as their endpoint_url. The model id in the path names a
// group. The tenant is the access key id the SigV4 Authorization header
// names, matched against the tenants' api_keys; the gateway holds no
// secrets, so it does not check the signature.

func (d *Door) bedrockRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /model/{id}/converse", func(w http.ResponseWriter, r *http.Request) { d.bedrock(w, r, false, false) })
	mux.HandleFunc("POST /model/{id}/converse-stream", func(w http.ResponseWriter, r *http.Request) { d.bedrock(w, r, false, true) })
	mux.HandleFunc("POST /model/{id}/invoke", func(w http.ResponseWriter, r *http.Request) { d.bedrock(w, r, true, false) })
	mux.HandleFunc("POST /model/{id}/invoke-with-response-stream", func(w http.ResponseWriter, r *http.Request) { d.bedrock(w, r, true, true) })
}

// accessKeyOf is the access key id of a SigV4 Authorization header.
func accessKeyOf(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// bedrockBody is what the door reads of a Converse body, or of an
// InvokeModel body in Anthropic's Messages or Amazon Nova's format.
type bedrockBody struct {
	// Converse and Nova.
	Messages        []bedrockMessage `json:"messages"`
	System          json.RawMessage  `json:"system"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"`
	} `json:"inferenceConfig"`
	// Anthropic.
	AnthropicVersion string `json:"anthropic_version"`
	MaxTokens        *int   `json:"max_tokens"`
}

type bedrockMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text is a message's or system prompt's text: a string (Anthropic), or
// blocks of {"text": …} or {"type": "text", "text": …}.
func blocksText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", errors.New("content must be a string or a list of content blocks")
	}
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

func (d *Door) bedrock(w http.ResponseWriter, r *http.Request, invoke, stream bool) {
	group := r.PathValue("id")
	tenant, ok := d.tenantFor(accessKeyOf(r), r)
	if !ok {
		awsError(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid: the gateway's scenario maps each tenant's api_keys, and this access key id is none of them.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		awsError(w, http.StatusRequestEntityTooLarge, "ValidationException", fmt.Sprintf("The request body is over the gateway's limit of %d bytes, or could not be read.", MaxBodyBytes))
		return
	}
	var in bedrockBody
	if err := json.Unmarshal(body, &in); err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "Malformed input request: "+err.Error()+", please reformat your input and try again.")
		return
	}
	if !d.hasGroup(group) {
		awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
			"The provided model identifier is invalid: the gateway's models are its scenario's groups (%s).", strings.Join(d.scenario.GroupNames(), ", ")))
		return
	}
	a := engine.Arrive{Tenant: tenant, Group: group, Stream: stream}
	if len(in.Messages) == 0 || len(in.Messages) > MaxMessages {
		awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("messages must hold from 1 to %d turns", MaxMessages))
		return
	}
	if system, err := blocksText(in.System); err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "system: "+err.Error())
		return
	} else if system != "" {
		a.Messages = append(a.Messages, engine.Message{Role: "system", Text: system})
	}
	for i, m := range in.Messages {
		text, err := blocksText(m.Content)
		if err != nil || (m.Role != "user" && m.Role != "assistant") {
			awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("messages[%d]: a message has role user or assistant, and content", i))
			return
		}
		a.Messages = append(a.Messages, engine.Message{Role: m.Role, Text: text})
	}
	a.InputTokens, a.MaxTokens = inputTokens(a.Messages), d.defaultMaxTokens(tenant)
	switch {
	case in.MaxTokens != nil:
		a.MaxTokens = *in.MaxTokens
	case in.InferenceConfig != nil && in.InferenceConfig.MaxTokens != nil:
		a.MaxTokens = *in.InferenceConfig.MaxTokens
	}
	if a.MaxTokens < 1 || a.MaxTokens > math.MaxInt32 {
		awsError(w, http.StatusBadRequest, "ValidationException", "max tokens must be at least 1")
		return
	}
	anthropic := invoke && in.AnthropicVersion != ""

	s, err := d.ask(a)
	if err != nil {
		awsError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", err.Error())
		return
	}
	first, ok := d.wait(r.Context(), s, stream)
	if !ok {
		if r.Context().Err() == nil {
			awsError(w, http.StatusGatewayTimeout, "ModelTimeoutException", "No answer within the gateway's wait of "+d.maxWait.String()+".")
		}
		return
	}
	view := d.follow.view(s)
	tell(w.Header(), &view)
	if !first && s.final.Kind != engine.Succeeded {
		bedrockFailure(w, s.final, d.controls.Snapshot().Speed)
		return
	}
	if !stream {
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(s.final.InputTokens))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(s.final.OutputTokens))
		switch {
		case anthropic:
			writeJSON(w, http.StatusOK, anthropicAnswer(s, group))
		default:
			writeJSON(w, http.StatusOK, converseAnswer(s.final, !invoke))
		}
		return
	}
	d.bedrockStream(w, r, s, invoke, anthropic)
}

func converseAnswer(ev engine.Event, metrics bool) map[string]any {
	out := map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]string{"text": ev.Text}}}},
		"stopReason": "end_turn",
		"usage":      map[string]int{"inputTokens": ev.InputTokens, "outputTokens": ev.OutputTokens, "totalTokens": ev.InputTokens + ev.OutputTokens},
	}
	if metrics {
		out["metrics"] = map[string]int64{"latencyMs": ev.Latency.Milliseconds()}
	}
	return out
}

func anthropicAnswer(s *story, group string) map[string]any {
	ev := s.final
	return map[string]any{
		"id": fmt.Sprintf("msg_spillway_%d", s.ticket), "type": "message", "role": "assistant", "model": group,
		"content":     []any{map[string]string{"type": "text", "text": ev.Text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": ev.InputTokens, "output_tokens": ev.OutputTokens},
	}
}

// bedrockStream answers as an AWS event stream: ConverseStream's events,
// or InvokeModelWithResponseStream's chunks of the model family's own
// events. The first goes out at the first token; the text when the answer
// is whole. An answer that breaks after its first token ends the stream
// with an exception event, which the SDKs raise.
func (d *Door) bedrockStream(w http.ResponseWriter, r *http.Request, s *story, invoke, anthropic bool) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	enc := eventstream.NewEncoder()
	flusher, _ := w.(http.Flusher)
	var buf bytes.Buffer
	send := func(kind, messageType string, payload any) {
		b, _ := json.Marshal(payload)
		var h eventstream.Headers
		h.Set(eventstream.MessageTypeHeader, eventstream.StringValue(messageType))
		if messageType == "exception" {
			h.Set(eventstream.ExceptionTypeHeader, eventstream.StringValue(kind))
		} else {
			h.Set(eventstream.EventTypeHeader, eventstream.StringValue(kind))
		}
		h.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
		buf.Reset()
		if enc.Encode(&buf, eventstream.Message{Headers: h, Payload: b}) == nil {
			w.Write(buf.Bytes())
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	event := func(kind string, payload any) {
		if !invoke {
			send(kind, "event", payload)
			return
		}
		// InvokeModelWithResponseStream wraps each model event in a chunk.
		if anthropic {
			if m, ok := payload.(map[string]any); ok {
				m["type"] = kind
			}
		} else {
			payload = map[string]any{kind: payload}
		}
		b, _ := json.Marshal(payload)
		send("chunk", "event", map[string]string{"bytes": base64.StdEncoding.EncodeToString(b)})
	}
	if anthropic {
		event("message_start", map[string]any{"message": map[string]any{"id": fmt.Sprintf("msg_spillway_%d", s.ticket), "type": "message", "role": "assistant", "content": []any{}}})
		event("content_block_start", map[string]any{"index": 0, "content_block": map[string]string{"type": "text", "text": ""}})
	} else {
		event("messageStart", map[string]string{"role": "assistant"})
	}
	ok := d.streamText(r.Context(), s, func(piece string) {
		if anthropic {
			event("content_block_delta", map[string]any{"index": 0, "delta": map[string]string{"type": "text_delta", "text": piece}})
		} else {
			event("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]string{"text": piece}})
		}
	})
	if !ok {
		return
	}
	ev := s.final
	if ev.Kind != engine.Succeeded {
		send("modelStreamErrorException", "exception", map[string]string{"message": describe(ev)})
		return
	}
	usage := map[string]int{"inputTokens": ev.InputTokens, "outputTokens": ev.OutputTokens, "totalTokens": ev.InputTokens + ev.OutputTokens}
	if anthropic {
		event("content_block_stop", map[string]any{"index": 0})
		event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]int{"output_tokens": ev.OutputTokens}})
		event("message_stop", map[string]any{"amazon-bedrock-invocationMetrics": map[string]int64{
			"inputTokenCount": int64(ev.InputTokens), "outputTokenCount": int64(ev.OutputTokens), "invocationLatency": ev.Latency.Milliseconds()}})
		return
	}
	event("contentBlockStop", map[string]int{"contentBlockIndex": 0})
	event("messageStop", map[string]string{"stopReason": "end_turn"})
	event("metadata", map[string]any{"usage": usage, "metrics": map[string]int64{"latencyMs": ev.Latency.Milliseconds()}})
}

// awsError answers as Bedrock's REST-JSON errors read: the code in
// X-Amzn-ErrorType, the words in the body.
func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, status, map[string]string{"message": msg})
}

// bedrockFailure answers a request that did not succeed, as Bedrock would.
func bedrockFailure(w http.ResponseWriter, ev engine.Event, speed float64) {
	switch ev.Kind {
	case engine.RateLimited:
		w.Header().Set("Retry-After", retryAfter(ev, speed))
		awsError(w, http.StatusTooManyRequests, wire.ThrottlingException, "Too many requests, please wait before trying again. ("+describe(ev)+")")
	case engine.Failed:
		code := ev.Code
		if code == "" || strings.ContainsAny(code, " \t") {
			code = "InternalServerException"
		}
		if code == engine.CodeSharedUnavailable {
			code = "ServiceUnavailableException" // as the SDKs know it: retryable
		}
		awsError(w, bedrockStatus(code), code, describe(ev))
	case engine.RunEnded, engine.Cancelled:
		awsError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "The gateway stopped before the request was answered.")
	default:
		awsError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", ev.Message)
	}
}

// bedrockStatus is the HTTP status Bedrock answers code with.
func bedrockStatus(code string) int {
	switch wire.Classify(code) {
	case scenarios.ClassThrottled, scenarios.ClassQuota:
		return http.StatusTooManyRequests
	case scenarios.ClassValidation:
		return http.StatusBadRequest
	case scenarios.ClassAccessDenied:
		return http.StatusForbidden
	case scenarios.ClassNotFound:
		return http.StatusNotFound
	case scenarios.ClassTimeout:
		return http.StatusRequestTimeout
	case scenarios.ClassServerError:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
