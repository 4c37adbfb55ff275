package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"spillway/engine/simaws/fleet"
	"spillway/scenarios"

	"spillway/engine/wire"
)

// textMessage is a message as Converse and Amazon Nova write it: a role,
// and content blocks of which the emulator reads the text.
type textMessage struct {
	Role    string `json:"role"`
	Content []struct {
		Text *string `json:"text"`
	} `json:"content"`
}

// promptOf is the text of every message, one per line; ok is false when
// the conversation does not start with a user message.
func promptOf(messages []textMessage) (prompt string, ok bool) {
	if len(messages) == 0 || messages[0].Role != "user" {
		return "", false
	}
	var text []string
	for _, m := range messages {
		for _, c := range m.Content {
			if c.Text != nil {
				text = append(text, *c.Text)
			}
		}
	}
	return strings.Join(text, "\n"), true
}

// converseRequest is the part of a Converse body the emulator reads.
type converseRequest struct {
	Messages        []textMessage `json:"messages"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"`
	} `json:"inferenceConfig"`
}

// anthropicRequest is an InvokeModel body in Anthropic's Messages format.
type anthropicRequest struct {
	AnthropicVersion string `json:"anthropic_version"`
	MaxTokens        *int   `json:"max_tokens"`
	Messages         []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"` // a string, or a list of blocks
	} `json:"messages"`
}

// novaRequest is an InvokeModel body in Amazon Nova's messages-v1 format.
type novaRequest struct {
	SchemaVersion   string        `json:"schemaVersion"`
	Messages        []textMessage `json:"messages"`
	InferenceConfig *struct {
		MaxTokens *int `json:"maxTokens"` // Nova's own name for it; max_new_tokens in older samples
		MaxNew    *int `json:"max_new_tokens"`
	} `json:"inferenceConfig"`
}

const anthropicVersion = "bedrock-2023-05-31"

// maxModelIDLength is Bedrock's limit on a modelId. Model ids that are
// ARNs are logged as sent, so the bound also bounds each log record.
const maxModelIDLength = 2048

// The Bedrock Runtime operations the emulator serves, by the last segment
// of their path.
const (
	opConverse       = "converse"
	opInvoke         = "invoke"
	opConverseStream = "converse-stream"
	opInvokeStream   = "invoke-with-response-stream"
)

// operationNames are the operations as invocation logs name them.
var operationNames = map[string]string{
	opConverse: scenarios.OpConverse, opInvoke: scenarios.OpInvokeModel,
	opConverseStream: "ConverseStream", opInvokeStream: "InvokeModelWithResponseStream",
}

// bedrock serves POST /model/{modelId}/converse, /invoke and their
// streaming forms.
func (s *Server) bedrock(q *request) {
	// The model id is one path segment, percent-encoded: an ARN's slashes
	// arrive as %2F, so split the escaped path, then unescape.
	rest := strings.TrimPrefix(q.r.URL.EscapedPath(), "/model/")
	slash := strings.LastIndexByte(rest, '/')
	if slash < 0 {
		writeJSONError(q, restProtocol, "UnknownOperationException", "expected POST /model/{modelId}/converse or /model/{modelId}/invoke")
		return
	}
	modelID, err := url.PathUnescape(rest[:slash])
	op := rest[slash+1:]
	if err != nil || modelID == "" {
		writeJSONError(q, restProtocol, wire.ValidationException, "The provided model identifier is invalid.")
		return
	}
	if _, known := operationNames[op]; q.r.Method != http.MethodPost || !known {
		writeJSONError(q, restProtocol, "UnknownOperationException", fmt.Sprintf(
			"%s /model/{modelId}/%s is not served; the emulator answers POST …/converse, …/converse-stream, …/invoke and …/invoke-with-response-stream", clip(q.r.Method), clip(op)))
		return
	}
	if len(modelID) > maxModelIDLength {
		writeJSONError(q, restProtocol, wire.ValidationException, fmt.Sprintf(
			"1 validation error detected: Value at 'modelId' failed to satisfy constraint: Member must have length less than or equal to %d", maxModelIDLength))
		return
	}
	body, ok := s.signedBody(q, restProtocol)
	if !ok {
		return
	}
	call := fleet.Call{Account: q.account.Name, SourceRegion: q.region, ModelID: modelID, ReceivedAt: s.opts.Clock(),
		Stream: op == opConverseStream || op == opInvokeStream}
	family := providerOf(modelID)
	call.Operation = operationNames[op]
	switch {
	case op == opConverse || op == opConverseStream:
		call.Prompt, call.MaxTokens, err = parseConverse(body)
	case family == "amazon":
		call.Prompt, call.MaxTokens, err = parseNova(body)
	case family == "anthropic":
		call.Prompt, call.MaxTokens, err = parseAnthropic(body)
	default:
		// Each family has a body of its own; the simulation reads two.
		err = fmt.Errorf("Malformed input request: the simulated Bedrock reads InvokeModel bodies of Anthropic Claude and Amazon Nova models only; call %s with Converse, please reformat your input and try again.", clip(scenarios.BaseModelID(modelID)))
	}
	call.DefaultMaxTokens = call.MaxTokens == unsetMaxTokens
	if call.DefaultMaxTokens {
		call.MaxTokens = 0
	}
	if err != nil {
		writeJSONError(q, restProtocol, wire.ValidationException, err.Error())
		return
	}

	reply := s.fleet.Invoke(q.now, call)
	if s.opts.LogRetention > 0 {
		s.fleet.ExpireLogs(call.ReceivedAt)
	}
	s.releaseBody(q) // not needed while the latency is slept
	latencyMS := reply.Latency.Milliseconds()
	if reply.Err == nil && (op == opConverseStream || op == opInvokeStream) {
		q.w.Header().Set("x-amzn-RequestId", reply.RequestID)
		q.w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(latencyMS, 10))
		s.stream(q, op, modelID, reply, latencyMS)
		return
	}
	if !q.virtual && s.opts.Sleep && !sleep(q.r.Context(), reply.Latency) {
		return // the client gave up waiting
	}
	h := q.w.Header()
	h.Set("x-amzn-RequestId", reply.RequestID)
	// Bedrock sends this header with InvokeModel replies; the emulator sends
	// it with every reply, errors too, so a client on simulated time knows
	// how long each answer took.
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(latencyMS, 10))
	if reply.Err != nil {
		if reply.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(reply.RetryAfter/time.Second)))
		}
		writeJSONError(q, restProtocol, reply.Err.Code, reply.Err.Message)
		return
	}
	h.Set(wire.RegionHeader, reply.Region)
	if op == opConverse {
		writeJSON(q, restProtocol, http.StatusOK, converseReply(reply, latencyMS))
		return
	}
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(reply.InputTokens))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(reply.OutputTokens))
	if family == "amazon" {
		writeJSON(q, restProtocol, http.StatusOK, novaReply(reply))
		return
	}
	writeJSON(q, restProtocol, http.StatusOK, anthropicReply(reply, modelID))
}

// providerOf is the family a model id belongs to: "anthropic", "amazon",
// "meta", … from its foundation id.
func providerOf(modelID string) string {
	base := scenarios.BaseModelID(modelID)
	if i := strings.IndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return ""
}

// decodeBody decodes a request body into v. Every call pays for it, so
// the faster decoder goes first; a body it refuses is decoded again by
// encoding/json, whose words the error messages have always used.
func decodeBody[T any](body []byte, v *T) error {
	if gojson.Unmarshal(body, v) == nil {
		return nil
	}
	var zero T
	*v = zero // nothing half-decoded stays
	return json.Unmarshal(body, v)
}

// unsetMaxTokens marks a body that sets no max_tokens: Bedrock then
// reserves, and allows, the model's maximum.
const unsetMaxTokens = -1 << 31

func parseNova(body []byte) (prompt string, maxTokens int, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return "", 0, fmt.Errorf("Malformed input request: %v, please reformat your input and try again.", err)
	}
	for _, key := range slices.Sorted(maps.Keys(probe)) { // the first in order, on every call
		switch key {
		case "schemaVersion", "messages", "system", "inferenceConfig", "toolConfig":
		default:
			return "", 0, fmt.Errorf("Malformed input request: #: extraneous key [%s] is not permitted, please reformat your input and try again.", clip(key))
		}
	}
	var req novaRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", 0, fmt.Errorf("Malformed input request: %v, please reformat your input and try again.", err)
	}
	prompt, ok := promptOf(req.Messages)
	if !ok {
		return "", 0, fmt.Errorf("Malformed input request: #: required key [messages] not found, please reformat your input and try again.")
	}
	maxTokens = unsetMaxTokens
	if c := req.InferenceConfig; c != nil && c.MaxTokens != nil {
		maxTokens = *c.MaxTokens
	} else if c != nil && c.MaxNew != nil {
		maxTokens = *c.MaxNew
	}
	return prompt, maxTokens, nil
}

func parseConverse(body []byte) (prompt string, maxTokens int, err error) {
	var req converseRequest
	if err := decodeBody(body, &req); err != nil {
		return "", 0, fmt.Errorf("Malformed input request: %v, please reformat your input and try again.", err)
	}
	prompt, ok := promptOf(req.Messages)
	if !ok {
		return "", 0, fmt.Errorf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	maxTokens = unsetMaxTokens
	if req.InferenceConfig != nil && req.InferenceConfig.MaxTokens != nil {
		maxTokens = *req.InferenceConfig.MaxTokens // the fleet checks its range, in Bedrock's words
	}
	return prompt, maxTokens, nil
}

func parseAnthropic(body []byte) (prompt string, maxTokens int, err error) {
	var req anthropicRequest
	if err := decodeBody(body, &req); err != nil {
		return "", 0, fmt.Errorf("Malformed input request: %v, please reformat your input and try again.", err)
	}
	switch {
	case req.AnthropicVersion != anthropicVersion:
		return "", 0, fmt.Errorf("Malformed input request: anthropic_version must be %q, got %q, please reformat your input and try again.", anthropicVersion, req.AnthropicVersion)
	case req.MaxTokens == nil:
		return "", 0, fmt.Errorf("Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.")
	case *req.MaxTokens < 1:
		return "", 0, fmt.Errorf("Malformed input request: #/max_tokens: %d is not greater or equal to 1, please reformat your input and try again.", *req.MaxTokens)
	case *req.MaxTokens > fleet.MaxOutputTokens:
		return "", 0, fmt.Errorf("Malformed input request: #/max_tokens: %d is not less or equal to %d, please reformat your input and try again.", *req.MaxTokens, fleet.MaxOutputTokens)
	case len(req.Messages) == 0:
		return "", 0, fmt.Errorf("Malformed input request: #: required key [messages] not found, please reformat your input and try again.")
	}
	var text []string
	for _, m := range req.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			text = append(text, s)
			continue
		}
		var blocks []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			return "", 0, fmt.Errorf("Malformed input request: #/messages/content: expected a string or a list of content blocks, please reformat your input and try again.")
		}
		for _, b := range blocks {
			text = append(text, b.Text)
		}
	}
	return strings.Join(text, "\n"), *req.MaxTokens, nil
}

type textBlock struct {
	Text string `json:"text"`
}

type converseOutput struct {
	Output struct {
		Message struct {
			Role    string      `json:"role"`
			Content []textBlock `json:"content"`
		} `json:"message"`
	} `json:"output"`
	StopReason string `json:"stopReason"`
	Usage      struct {
		InputTokens  int `json:"inputTokens"`
		OutputTokens int `json:"outputTokens"`
		TotalTokens  int `json:"totalTokens"`
	} `json:"usage"`
	Metrics struct {
		LatencyMs int64 `json:"latencyMs"`
	} `json:"metrics"`
}

func converseReply(r fleet.Reply, latencyMS int64) *converseOutput {
	out := &converseOutput{StopReason: r.StopReason}
	out.Output.Message.Role = "assistant"
	out.Output.Message.Content = []textBlock{{Text: r.Text}}
	out.Usage.InputTokens, out.Usage.OutputTokens = r.InputTokens, r.OutputTokens
	out.Usage.TotalTokens = r.InputTokens + r.OutputTokens
	out.Metrics.LatencyMs = latencyMS
	return out
}

type anthropicOutput struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
	Usage      struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	} `json:"usage"`
}

// novaReply is an InvokeModel answer in Amazon Nova's format, which is
// Converse's without the metrics.
func novaReply(r fleet.Reply) any {
	out := converseReply(r, 0)
	return struct {
		Output     any    `json:"output"`
		StopReason string `json:"stopReason"`
		Usage      any    `json:"usage"`
	}{out.Output, out.StopReason, out.Usage}
}

func anthropicReply(r fleet.Reply, modelID string) *anthropicOutput {
	out := &anthropicOutput{ID: "msg_bdrk_" + strings.ReplaceAll(r.RequestID, "-", ""), Type: "message", Role: "assistant",
		Model: scenarios.BaseModelID(modelID), StopReason: r.StopReason}
	out.Content = append(out.Content, struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"text", r.Text})
	out.Usage.InputTokens, out.Usage.OutputTokens = r.InputTokens, r.OutputTokens
	return out
}
