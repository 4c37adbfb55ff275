package frontdoor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"spillway/engine"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// chatRequest is what the door reads of an OpenAI chat completion request;
// other fields (temperature, tools, …) are accepted and not used.
type chatRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Stream              bool          `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text is a message's content: a string, or the text of its content parts.
func (m chatMessage) text() (string, error) {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", errors.New("content must be a string or a list of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// chatCompletions is POST /v1/chat/completions.
func (d *Door) chatCompletions(w http.ResponseWriter, r *http.Request) {
	tenant, ok := d.tenantOf(r)
	if !ok {
		openAIError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
			"Incorrect API key provided, or no such tenant. The gateway's scenario maps each tenant's api_keys; send one as Authorization: Bearer <key>.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			openAIError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
				fmt.Sprintf("The request body is over the gateway's limit of %d bytes.", MaxBodyBytes))
			return
		}
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "", "The request body could not be read: "+err.Error())
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json",
			"We could not parse the JSON body of your request: "+err.Error())
		return
	}
	arrive, status, code, msg := d.arrival(tenant, req)
	if status != 0 {
		openAIError(w, status, "invalid_request_error", code, msg)
		return
	}
	s, err := d.ask(arrive)
	if err != nil {
		refuse(w, err)
		return
	}
	first, ok := d.wait(r.Context(), s, req.Stream)
	if !ok {
		if r.Context().Err() == nil {
			openAIError(w, http.StatusGatewayTimeout, "api_error", "timeout", "No answer within the gateway's wait of "+d.maxWait.String()+".")
		}
		return // the client went away; nothing to write to
	}
	id := fmt.Sprintf("chatcmpl-spillway-%d", s.ticket)
	if first {
		d.stream(w, r, s, req, id)
		return
	}
	view := d.follow.view(s)
	tell(w.Header(), &view)
	if s.final.Kind != engine.Succeeded {
		failure(w, s.final, d.controls.Snapshot().Speed)
		return
	}
	if req.Stream {
		// Answered whole (no first token came apart from the end): still
		// a stream, as the client asked.
		d.stream(w, r, s, req, id)
		return
	}
	stop := "stop"
	writeJSON(w, http.StatusOK, completion{
		ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		Choices: []choice{{Index: 0, Message: &assistant{Role: "assistant", Content: s.final.Text}, FinishReason: &stop}},
		Usage:   usageOf(s.final),
	})
}

// arrival turns a chat request into the engine's Arrive, or says what is
// wrong with it (status, code and message for the client).
func (d *Door) arrival(tenant string, req chatRequest) (engine.Arrive, int, string, string) {
	a := engine.Arrive{Tenant: tenant, Group: req.Model, Stream: req.Stream}
	switch {
	case req.Model == "":
		return a, http.StatusBadRequest, "missing_model", "you must provide a model parameter"
	case !d.hasGroup(req.Model):
		return a, http.StatusNotFound, "model_not_found", fmt.Sprintf(
			"The model `%s` does not exist: the gateway's models are its scenario's groups (%s).", clip(req.Model), strings.Join(d.scenario.GroupNames(), ", "))
	case len(req.Messages) == 0:
		return a, http.StatusBadRequest, "missing_messages", "messages must hold at least one message"
	case len(req.Messages) > MaxMessages:
		return a, http.StatusBadRequest, "too_many_messages", fmt.Sprintf("messages holds %d turns, over the gateway's limit of %d", len(req.Messages), MaxMessages)
	}
	for i, m := range req.Messages {
		text, err := m.text()
		if err != nil {
			return a, http.StatusBadRequest, "invalid_content", fmt.Sprintf("messages[%d]: %v", i, err)
		}
		role := m.Role
		switch role {
		case "system", "developer":
			role = "system"
		case "user", "assistant":
		case "tool":
			role = "user"
		default:
			return a, http.StatusBadRequest, "invalid_role", fmt.Sprintf("messages[%d].role %q is not one of system, developer, user, assistant or tool", i, clip(m.Role))
		}
		a.Messages = append(a.Messages, engine.Message{Role: role, Text: text})
	}
	a.InputTokens, a.MaxTokens = inputTokens(a.Messages), d.defaultMaxTokens(tenant)
	for _, n := range []*int{req.MaxCompletionTokens, req.MaxTokens} {
		if n != nil {
			if *n < 1 || *n > math.MaxInt32 {
				return a, http.StatusBadRequest, "invalid_max_tokens", fmt.Sprintf("max_tokens must be at least 1, got %d", *n)
			}
			a.MaxTokens = *n
			break
		}
	}
	return a, 0, "", ""
}

func (d *Door) hasGroup(name string) bool {
	for _, g := range d.scenario.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

// models is GET /v1/models: the scenario's groups, as LiteLLM lists its
// model_name groups.
func (d *Door) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, name := range d.scenario.GroupNames() {
		out.Data = append(out.Data, model{ID: name, Object: "model", OwnedBy: "spillway"})
	}
	writeJSON(w, http.StatusOK, out)
}

type completion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

type choice struct {
	Index        int        `json:"index"`
	Message      *assistant `json:"message,omitempty"`
	Delta        *assistant `json:"delta,omitempty"`
	FinishReason *string    `json:"finish_reason"`
}

// assistant is a message or a stream's delta.
type assistant struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func usageOf(ev engine.Event) *usage {
	return &usage{PromptTokens: ev.InputTokens, CompletionTokens: ev.OutputTokens, TotalTokens: ev.InputTokens + ev.OutputTokens}
}

// stream answers as server-sent events: the role at the first token, the
// text as it comes (see streamText), then the end. An answer that fails after
// its first token ends the stream with an error event, which OpenAI's
// clients raise.
func (d *Door) stream(w http.ResponseWriter, r *http.Request, s *story, req chatRequest, id string) {
	h := w.Header()
	view := d.follow.view(s)
	tell(h, &view)
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	created := time.Now().Unix()
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(delta *assistant, finish *string) completion {
		return completion{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []choice{{Index: 0, Delta: delta, FinishReason: finish}}}
	}
	send(chunk(&assistant{Role: "assistant", Content: ""}, nil))
	if !d.streamText(r.Context(), s, func(piece string) { send(chunk(&assistant{Content: piece}, nil)) }) {
		return
	}
	if s.final.Kind != engine.Succeeded {
		send(map[string]any{"error": errorBody{Message: describe(s.final), Type: "api_error", Code: s.final.Code}})
		return
	}
	stop := "stop"
	send(chunk(&assistant{}, &stop))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		c := chunk(nil, nil)
		c.Choices, c.Usage = []choice{}, usageOf(s.final)
		send(c)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// pieces splits text into the chunks a stream sends: a word each, with the
// space before it.
func pieces(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code,omitempty"`
}

func openAIError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, struct {
		Error errorBody `json:"error"`
	}{errorBody{Message: msg, Type: typ, Code: code}})
}

// refuse answers an Arrive the engine would not take.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, engine.ErrRunOver) {
		openAIError(w, http.StatusServiceUnavailable, "api_error", "gateway_stopping", "The gateway is shutting down.")
		return
	}
	openAIError(w, http.StatusServiceUnavailable, "api_error", "gateway_busy", err.Error())
}

// failure answers a request that did not succeed, with the status its end
// calls for: 429 with Retry-After for a limit, the provider's error's
// status for a failed call.
func failure(w http.ResponseWriter, ev engine.Event, speed float64) {
	switch ev.Kind {
	case engine.RateLimited:
		w.Header().Set("Retry-After", retryAfter(ev, speed))
		openAIError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", describe(ev))
	case engine.Failed:
		status, typ := http.StatusBadGateway, "api_error"
		switch wire.Classify(ev.Code) {
		case scenarios.ClassThrottled, scenarios.ClassQuota:
			status, typ = http.StatusTooManyRequests, "requests"
		case scenarios.ClassTimeout:
			status = http.StatusGatewayTimeout
		case scenarios.ClassValidation:
			status, typ = http.StatusBadRequest, "invalid_request_error"
		case scenarios.ClassAccessDenied:
			status, typ = http.StatusForbidden, "permission_error"
		case scenarios.ClassNotFound:
			status, typ = http.StatusNotFound, "invalid_request_error"
		}
		if ev.Code == engine.CodeSharedUnavailable {
			status = http.StatusServiceUnavailable // the gateway cannot count, for now: try again
		}
		openAIError(w, status, typ, ev.Code, describe(ev))
	case engine.RunEnded, engine.Cancelled:
		openAIError(w, http.StatusServiceUnavailable, "api_error", "gateway_stopping", "The gateway stopped before the request was answered.")
	default: // ControlRefused
		openAIError(w, http.StatusServiceUnavailable, "api_error", "gateway_refused", ev.Message)
	}
}

// retryAfter is a refused request's Retry-After, in whole seconds of wall
// time: the engine's wait is simulated time, the client waits on the wall.
func retryAfter(ev engine.Event, speed float64) string {
	wait := time.Duration(float64(ev.RetryAfter) / speed)
	if ev.RetryAfter < 0 || math.IsInf(speed, 0) {
		wait = time.Minute // a limit that never frees; a minute is as good a guess as any
	}
	return strconv.Itoa(int(math.Ceil(max(time.Second, wait).Seconds())))
}

// inputTokens is what the gateway counts of a conversation, as the
// simulated Bedrock counts it.
func inputTokens(messages []engine.Message) int {
	texts := make([]string, len(messages))
	for i, m := range messages {
		texts[i] = m.Text
	}
	return scenarios.PromptTokens(strings.Join(texts, "\n"))
}

// defaultMaxTokens is a request's max_tokens when it sets none: its
// tenant's, else the scenario's.
func (d *Door) defaultMaxTokens(tenant string) int {
	for _, t := range d.scenario.Tenants {
		if t.Name == tenant && t.MaxTokens > 0 {
			return t.MaxTokens
		}
	}
	return d.scenario.MaxTokens
}

func describe(ev engine.Event) string {
	if ev.Message != "" {
		return ev.Message
	}
	return ev.Kind.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"the gateway could not encode its answer","type":"api_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// clip shortens what a client sent before it is quoted back.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
