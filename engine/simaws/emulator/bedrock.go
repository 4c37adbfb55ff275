package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"spillway/engine/simaws/fleet"
	"spillway/scenarios"

	"spillway/engine/wire"
)

// converseRequest is the part of a Converse body the emulator reads.
type converseRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content []struct {
			Text *string `json:"text"`
		} `json:"content"`
	} `json:"messages"`
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

const anthropicVersion = "bedrock-2023-05-31"

// defaultMaxTokens is used when a Converse call sets no maxTokens.
const defaultMaxTokens = 512

// maxModelIDLength is Bedrock's limit on a modelId. Model ids that are
// ARNs are logged as sent, so the bound also bounds each log record.
const maxModelIDLength = 2048

// bedrock serves POST /model/{modelId}/converse and /invoke.
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
	if q.r.Method != http.MethodPost || (op != "converse" && op != "invoke") {
		writeJSONError(q, restProtocol, "UnknownOperationException", fmt.Sprintf(
			"%s /model/{modelId}/%s is not served; the emulator answers POST …/converse and POST …/invoke (no streaming)", clip(q.r.Method), clip(op)))
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
	call := fleet.Call{Account: q.account.Name, SourceRegion: q.region, ModelID: modelID, ReceivedAt: s.opts.Clock()}
	if op == "converse" {
		call.Operation = scenarios.OpConverse
		call.Prompt, call.MaxTokens, err = parseConverse(body)
	} else {
		call.Operation = scenarios.OpInvokeModel
		call.Prompt, call.MaxTokens, err = parseAnthropic(body)
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
	if !q.virtual && s.opts.Sleep && !sleep(q.r.Context(), reply.Latency) {
		return // the client gave up waiting
	}
	latencyMS := reply.Latency.Milliseconds()
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
	if op == "converse" {
		writeJSON(q, restProtocol, http.StatusOK, converseReply(reply, latencyMS))
		return
	}
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(reply.InputTokens))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(reply.OutputTokens))
	writeJSON(q, restProtocol, http.StatusOK, anthropicReply(reply, modelID))
}

func parseConverse(body []byte) (prompt string, maxTokens int, err error) {
	var req converseRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", 0, fmt.Errorf("Malformed input request: %v, please reformat your input and try again.", err)
	}
	if len(req.Messages) == 0 || req.Messages[0].Role != "user" {
		return "", 0, fmt.Errorf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	var text []string
	for _, m := range req.Messages {
		for _, c := range m.Content {
			if c.Text != nil {
				text = append(text, *c.Text)
			}
		}
	}
	maxTokens = defaultMaxTokens
	if req.InferenceConfig != nil && req.InferenceConfig.MaxTokens != nil {
		maxTokens = *req.InferenceConfig.MaxTokens // the fleet checks its range, in Bedrock's words
	}
	return strings.Join(text, "\n"), maxTokens, nil
}

func parseAnthropic(body []byte) (prompt string, maxTokens int, err error) {
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
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
	out := &converseOutput{StopReason: "end_turn"}
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

func anthropicReply(r fleet.Reply, modelID string) *anthropicOutput {
	out := &anthropicOutput{ID: "msg_bdrk_" + strings.ReplaceAll(r.RequestID, "-", ""), Type: "message", Role: "assistant",
		Model: scenarios.BaseModelID(modelID), StopReason: "end_turn"}
	out.Content = append(out.Content, struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"text", r.Text})
	out.Usage.InputTokens, out.Usage.OutputTokens = r.InputTokens, r.OutputTokens
	return out
}
