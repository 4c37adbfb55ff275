package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"spillway/engine"
	"spillway/scenarios"
)

// Codes for failures that never reached Bedrock, so they have no AWS error
// code of their own.
const (
	CodeClientTimeout = "ClientTimeout"       // the call's deadline passed
	CodeUnreachable   = "EndpointUnreachable" // no connection to the endpoint
	CodeCancelled     = "Cancelled"           // the run stopped while the call was out
)

// classify finds what went wrong with a call, by the error's type. The class
// decides whether the request falls back (the scenario's fallback_on).
func classify(err error) (code, message string, class scenarios.ErrorClass) {
	var (
		throttling  *types.ThrottlingException
		unavailable *types.ServiceUnavailableException
		notReady    *types.ModelNotReadyException
		internal    *types.InternalServerException
		modelTime   *types.ModelTimeoutException
		modelErr    *types.ModelErrorException
		denied      *types.AccessDeniedException
		validation  *types.ValidationException
		notFound    *types.ResourceNotFoundException
		quota       *types.ServiceQuotaExceededException
		api         smithy.APIError
	)
	switch {
	case errors.As(err, &throttling):
		return throttling.ErrorCode(), throttling.ErrorMessage(), scenarios.ClassThrottled
	case errors.As(err, &unavailable):
		return unavailable.ErrorCode(), unavailable.ErrorMessage(), scenarios.ClassThrottled
	case errors.As(err, &notReady):
		return notReady.ErrorCode(), notReady.ErrorMessage(), scenarios.ClassThrottled
	case errors.As(err, &internal):
		return internal.ErrorCode(), internal.ErrorMessage(), scenarios.ClassServerError
	case errors.As(err, &modelTime):
		return modelTime.ErrorCode(), modelTime.ErrorMessage(), scenarios.ClassServerError
	case errors.As(err, &modelErr):
		return modelErr.ErrorCode(), modelErr.ErrorMessage(), scenarios.ClassServerError
	case errors.As(err, &denied):
		return denied.ErrorCode(), denied.ErrorMessage(), scenarios.ClassAccessDenied
	case errors.As(err, &validation):
		return validation.ErrorCode(), validation.ErrorMessage(), scenarios.ClassValidation
	case errors.As(err, &notFound):
		return notFound.ErrorCode(), notFound.ErrorMessage(), scenarios.ClassNotFound
	case errors.As(err, &quota):
		return quota.ErrorCode(), quota.ErrorMessage(), scenarios.ClassQuota
	case errors.As(err, &api):
		// Errors outside the Bedrock model, such as an expired token.
		return api.ErrorCode(), api.ErrorMessage(), engine.Classify(api.ErrorCode())
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
