package bedrock

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine"
	"spillway/scenarios"

	"spillway/engine/wire"
)

// resultsPollInterval is how often a running Logs Insights query is asked
// for its results.
const resultsPollInterval = 250 * time.Millisecond

// RegionQuery is the seed's Logs Insights query: invocations of models
// stamped at or after since, counted by the Region they ran in.
func RegionQuery(models []string, since time.Time) string {
	var alternatives []string
	for _, m := range models {
		var prefix string
		switch {
		case strings.HasPrefix(m, "arn:"):
			// The log names the ARN as called.
		case scenarios.Geography(m) != "":
			prefix = "inference-profile/"
		default:
			prefix = "foundation-model/"
		}
		alternatives = append(alternatives, strings.ReplaceAll(regexp.QuoteMeta(prefix+m), "/", `\/`))
	}
	pattern := strings.Join(alternatives, "|")
	if len(alternatives) > 1 {
		pattern = "(" + pattern + ")"
	}
	return fmt.Sprintf("filter modelId like /%s/\nand toMillis(@timestamp) >= %d\n| stats count(*) as invocationCount by inferenceRegion\n| sort inferenceRegion",
		pattern, since.UnixMilli())
}

// RegionCounts runs the Region query on the account's invocation log group
// and waits for it to complete. Every failure comes back as an error whose
// text belongs on the histogram: the run goes on without it.
func (c *Client) RegionCounts(ctx context.Context, q engine.LogQuery) ([]engine.RegionCount, error) {
	a, ok := c.accounts[q.Account]
	if !ok {
		return nil, fmt.Errorf("account %q was not loaded", q.Account)
	}
	ctx, cancel := context.WithTimeout(ctx, c.target.QueryTimeout)
	defer cancel()
	to := q.To
	var opts []func(*cloudwatchlogs.Options)
	if c.target.Virtual {
		opts = append(opts, func(o *cloudwatchlogs.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(wire.TimeHeader, strconv.FormatInt(q.To.UnixNano(), 10)))
		})
	} else {
		to = time.Now() // real logs are stamped on the wall clock
	}
	started, err := a.logs.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
		LogGroupName: aws.String(q.LogGroup),
		StartTime:    aws.Int64(q.From.Unix()),
		EndTime:      aws.Int64(to.Unix() + 1),
		QueryString:  aws.String(RegionQuery(q.Models, q.Since)),
	}, opts...)
	if err != nil {
		return nil, c.logsError(a, q.LogGroup, err)
	}
	for {
		out, err := a.logs.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: started.QueryId}, opts...)
		if err != nil {
			return nil, c.logsError(a, q.LogGroup, err)
		}
		switch out.Status {
		case types.QueryStatusComplete:
			return regionCounts(out.Results)
		case types.QueryStatusScheduled, types.QueryStatusRunning:
		default:
			return nil, fmt.Errorf("the Logs Insights query on %s ended %s in account %s; the next poll tries again",
				q.LogGroup, out.Status, a.Masked())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the Logs Insights query on %s was still running after %v in account %s; the next poll tries again",
				q.LogGroup, c.target.QueryTimeout, a.Masked())
		case <-time.After(resultsPollInterval):
		}
	}
}

func regionCounts(rows [][]types.ResultField) ([]engine.RegionCount, error) {
	var out []engine.RegionCount
	for _, row := range rows {
		var rc engine.RegionCount
		for _, f := range row {
			switch aws.ToString(f.Field) {
			case "inferenceRegion":
				rc.Region = aws.ToString(f.Value)
			case "invocationCount":
				n, err := strconv.Atoi(aws.ToString(f.Value))
				if err != nil {
					return nil, fmt.Errorf("the Logs Insights result has a non-numeric count %q", aws.ToString(f.Value))
				}
				rc.Count = n
			}
		}
		if rc.Region == "" {
			rc.Region = "(unknown)" // records without inferenceRegion
		}
		out = append(out, rc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// logsError says what a failed Logs call means for the histogram.
func (c *Client) logsError(a *Account, group string, err error) error {
	var (
		notFound *types.ResourceNotFoundException
		limit    *types.LimitExceededException
		bad      *types.MalformedQueryException
	)
	code, msg, class := classify(err)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("log group %q does not exist in account %s (%s): turn on Bedrock model invocation logging to CloudWatch Logs with that group, or set logs.group in the scenario",
			group, a.Masked(), a.Spec.Region)
	case errors.As(err, &limit), class == scenarios.ClassThrottled:
		return fmt.Errorf("CloudWatch Logs throttled the query in account %s (%s); the next poll tries again", a.Masked(), msg)
	case errors.As(err, &bad):
		return fmt.Errorf("CloudWatch Logs rejected the Region query: %s", msg)
	case class == scenarios.ClassAccessDenied:
		return fmt.Errorf("not allowed to query logs in account %s (%s: %s): grant logs:StartQuery and logs:GetQueryResults to profile %q",
			a.Masked(), code, msg, a.Spec.Profile)
	}
	return fmt.Errorf("log query failed in account %s: %s", a.Masked(), describe(err, c.target.Endpoint, a.Spec.Profile))
}
