package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine"
	"spillway/scenarios"

	"spillway/engine/wire"
)

// Instant is true on simulated time: the emulator answers at once with the
// simulated latency, and the engine schedules the reply itself. Against
// real AWS each call blocks for as long as Bedrock takes.
func (c *Client) Instant() bool { return c.target.Virtual }

// Invoke makes one Converse or InvokeModel call for the engine.
func (c *Client) Invoke(ctx context.Context, at time.Time, call engine.Call) engine.Reply {
	a, ok := c.accounts[call.Account]
	if !ok {
		return engine.Reply{Code: "AccountNotLoaded", Message: fmt.Sprintf("account %q was not loaded", call.Account),
			Class: scenarios.ClassOther}
	}
	ctx, cancel := context.WithTimeout(ctx, c.target.CallTimeout)
	defer cancel()
	var opts []func(*bedrockruntime.Options)
	if c.target.Virtual {
		opts = append(opts, func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(wire.TimeHeader, strconv.FormatInt(at.UnixNano(), 10)))
		})
	}
	switch {
	case call.Messages != nil && call.Stream:
		return c.converseStream(ctx, a, call, opts) // a gateway client's: Converse, whatever the scenario's operation
	case call.Messages != nil:
		return c.converse(ctx, a, call, opts)
	case call.Stream && call.Operation == scenarios.OpInvokeModel:
		return c.invokeModelStream(ctx, a, call, opts)
	case call.Stream:
		return c.converseStream(ctx, a, call, opts)
	case call.Operation == scenarios.OpInvokeModel:
		return c.invokeModel(ctx, a, call, opts)
	}
	return c.converse(ctx, a, call, opts)
}

// conversation is the one user message a call sends, of the input the
// gateway counted, and its max_tokens: for Converse and ConverseStream.
func conversation(call engine.Call) ([]types.Message, []types.SystemContentBlock, *types.InferenceConfiguration) {
	config := &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(call.MaxTokens))}
	if call.Messages == nil {
		return []types.Message{{
			Role:    types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: scenarios.PromptOfTokens(call.Prompt, call.InputTokens)}},
		}}, nil, config
	}
	// A gateway client's conversation, as the client wrote it.
	var messages []types.Message
	var system []types.SystemContentBlock
	for _, m := range call.Messages {
		switch m.Role {
		case "system":
			system = append(system, &types.SystemContentBlockMemberText{Value: m.Text})
		default:
			role := types.ConversationRoleUser
			if m.Role == "assistant" {
				role = types.ConversationRoleAssistant
			}
			messages = append(messages, types.Message{Role: role, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: m.Text}}})
		}
	}
	return messages, system, config
}

// answerText is the text of a Converse answer's content blocks.
func answerText(out types.ConverseOutput) string {
	m, ok := out.(*types.ConverseOutputMemberMessage)
	if !ok {
		return ""
	}
	var text strings.Builder
	for _, b := range m.Value.Content {
		if t, ok := b.(*types.ContentBlockMemberText); ok {
			text.WriteString(t.Value)
		}
	}
	return text.String()
}

func (c *Client) converse(ctx context.Context, a *Account, call engine.Call, opts []func(*bedrockruntime.Options)) engine.Reply {
	messages, system, config := conversation(call)
	out, err := a.runtime.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(call.ModelID), Messages: messages, System: system, InferenceConfig: config}, opts...)
	if err != nil {
		return c.failure(err)
	}
	r := replyFrom(out.ResultMetadata)
	if call.Messages != nil {
		r.Text = answerText(out.Output)
	}
	if u := out.Usage; u != nil {
		r.InputTokens, r.OutputTokens = int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.OutputTokens))
	}
	if c.target.Virtual && out.Metrics != nil {
		r.Latency = time.Duration(aws.ToInt64(out.Metrics.LatencyMs)) * time.Millisecond
	}
	return r
}

// anthropicBody is the Messages request the seed's CRIS and sharding demos
// send with InvokeModel.
type anthropicBody struct {
	AnthropicVersion string             `json:"anthropic_version"`
	MaxTokens        int                `json:"max_tokens"`
	Messages         []anthropicMessage `json:"messages"`
}

type anthropicMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// novaBody is the messages-v1 request Amazon Nova models read.
type novaBody struct {
	SchemaVersion   string        `json:"schemaVersion"`
	Messages        []novaMessage `json:"messages"`
	InferenceConfig struct {
		MaxTokens int `json:"maxTokens"`
	} `json:"inferenceConfig"`
}

type novaMessage struct {
	Role    string `json:"role"`
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
}

// invokeBody is the model family's own InvokeModel body: Amazon Nova's for
// amazon.* models, Anthropic's Messages for the rest.
func invokeBody(call engine.Call) []byte {
	prompt := scenarios.PromptOfTokens(call.Prompt, call.InputTokens)
	if strings.HasPrefix(scenarios.BaseModelID(call.ModelID), "amazon.") {
		b := novaBody{SchemaVersion: "messages-v1", Messages: []novaMessage{{Role: "user"}}}
		b.Messages[0].Content = append(b.Messages[0].Content, struct {
			Text string `json:"text"`
		}{prompt})
		b.InferenceConfig.MaxTokens = call.MaxTokens
		body, _ := json.Marshal(b)
		return body
	}
	body, _ := json.Marshal(anthropicBody{
		AnthropicVersion: "bedrock-2023-05-31",
		MaxTokens:        call.MaxTokens,
		Messages:         []anthropicMessage{{Role: "user", Content: prompt}},
	})
	return body
}

func (c *Client) invokeModel(ctx context.Context, a *Account, call engine.Call, opts []func(*bedrockruntime.Options)) engine.Reply {
	body := invokeBody(call)
	out, err := a.runtime.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(call.ModelID),
		Body:        body,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	}, opts...)
	if err != nil {
		return c.failure(err)
	}
	r := replyFrom(out.ResultMetadata)
	// Anthropic's usage is snake_case, Nova's camelCase; Bedrock's token
	// count headers say the same for both.
	var answer struct {
		Usage struct {
			InputTokens   int `json:"input_tokens"`
			OutputTokens  int `json:"output_tokens"`
			InputTokens2  int `json:"inputTokens"`
			OutputTokens2 int `json:"outputTokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(out.Body, &answer) == nil {
		u := answer.Usage
		r.InputTokens, r.OutputTokens = max(u.InputTokens, u.InputTokens2), max(u.OutputTokens, u.OutputTokens2)
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && c.target.Virtual {
		r.Latency = latencyHeader(raw.Header)
	}
	return r
}

// latencyHeader reads Bedrock's X-Amzn-Bedrock-Invocation-Latency.
func latencyHeader(h http.Header) time.Duration {
	ms, _ := strconv.ParseInt(h.Get("X-Amzn-Bedrock-Invocation-Latency"), 10, 64)
	return time.Duration(ms) * time.Millisecond
}

// replyFrom reads the request id, and the Region where the emulator says
// the call ran; real Bedrock reveals that only in its invocation logs.
func replyFrom(md middleware.Metadata) engine.Reply {
	var r engine.Reply
	r.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		r.Region = raw.Header.Get(wire.RegionHeader)
	}
	return r
}

func (c *Client) failure(err error) engine.Reply {
	code, msg, class := classify(err)
	if code == "" {
		code = "Error"
	}
	r := engine.Reply{Code: code, Message: msg, Class: class}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		r.RequestID = re.ServiceRequestID()
		if re.Response != nil {
			r.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
			if c.target.Virtual {
				r.Latency = latencyHeader(re.Response.Header)
			}
		}
	}
	return r
}

// retryAfter reads a Retry-After header given in seconds; an HTTP date or
// anything else counts as absent. An endpoint may send any number, so the
// wait is held to scenarios.MaxWait, the longest backoff a file may ask
// for: a larger one would overflow, or stall the run for years.
func retryAfter(v string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, int64(scenarios.MaxWait/time.Second))) * time.Second
}
