package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// Codes for failures that never reached Bedrock, so they have no AWS error
// code of their own.
const (
	CodeClientTimeout = "ClientTimeout"       // the call's deadline passed
	CodeUnreachable   = "EndpointUnreachable" // no connection to the endpoint
	CodeCancelled     = "Cancelled"           // the run stopped while the call was out
)

// classify finds what went wrong with a call. Every error Bedrock, STS or
// CloudWatch Logs sends back is a smithy.APIError with its AWS code, which
// wire.Classify, the one table of what each code means, sorts; failures that
// never reached AWS get codes of their own. The class decides whether the
// request falls back (the scenario's fallback_on).
func classify(err error) (code, message string, class scenarios.ErrorClass) {
	var api smithy.APIError
	switch {
	case errors.As(err, &api):
		return api.ErrorCode(), api.ErrorMessage(), wire.Classify(api.ErrorCode())
	case errors.Is(err, context.DeadlineExceeded):
		return CodeClientTimeout, "no answer before the call's deadline", scenarios.ClassTimeout
	case errors.Is(err, context.Canceled):
		return CodeCancelled, "the run stopped before the answer arrived", scenarios.ClassOther
	case isConnectionError(err):
		return CodeUnreachable, connectionMessage(err), scenarios.ClassUnreachable
	}
	return "", err.Error(), scenarios.ClassOther
}

func isConnectionError(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

func connectionMessage(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Sprintf("cannot reach the endpoint: %v", op.Err)
	}
	return fmt.Sprintf("cannot reach the endpoint: %v", err)
}

// describe turns a setup-time error into a sentence that says what to do.
func describe(err error, endpoint, profile string) string {
	code, msg, _ := classify(err)
	switch code {
	case "ExpiredToken", "ExpiredTokenException":
		return fmt.Sprintf("the credentials have expired (%s); refresh them (for SSO: aws sso login --profile %s) and run again", msg, profile)
	case "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException":
		return fmt.Sprintf("the credentials were rejected (%s: %s); check the keys of profile %s", code, msg, profile)
	case CodeUnreachable, CodeClientTimeout:
		where := "AWS"
		if endpoint != "" {
			where = endpoint
		}
		advice := "check the network"
		if endpoint != "" {
			advice = "is 'spillway emulator' (or another endpoint) running there? Start it, fix --endpoint, or drop --endpoint"
		}
		return fmt.Sprintf("cannot reach %s: %s; %s", where, strings.TrimPrefix(msg, "cannot reach the endpoint: "), advice)
	case "":
		return msg
	}
	return code + ": " + msg
}
