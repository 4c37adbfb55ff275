// Package wire is what the gateway, the AWS client side and the simulated
// AWS agree on without depending on each other: Bedrock's error codes and
// the one table of what each means to a gateway, the headers Spillway adds
// to the AWS protocol, and a Region histogram's bar.
package wire

import "spillway/scenarios"

// Bedrock error codes, as the service and the SDKs name them.
const (
	ThrottlingException         = "ThrottlingException"
	ServiceUnavailableException = "ServiceUnavailableException"
	ModelNotReadyException      = "ModelNotReadyException"
	ValidationException         = "ValidationException"
	ResourceNotFoundException   = "ResourceNotFoundException"
	AccessDeniedException       = "AccessDeniedException"
	InternalServerException     = "InternalServerException"
	ModelTimeoutException       = "ModelTimeoutException"
	ModelErrorException         = "ModelErrorException"
	ModelStreamErrorException   = "ModelStreamErrorException"
	ServiceQuotaExceeded        = "ServiceQuotaExceededException"
)

// Classify maps an AWS error code to its class. It is the one table of
// which error means what: the simulated fleet answers with these codes and
// the SDK client reads them back from any API error, so both sides of the
// wire classify alike.
func Classify(code string) scenarios.ErrorClass {
	switch code {
	case ThrottlingException, ServiceUnavailableException, ModelNotReadyException:
		return scenarios.ClassThrottled
	case InternalServerException, ModelTimeoutException, ModelErrorException, ModelStreamErrorException:
		return scenarios.ClassServerError
	case AccessDeniedException, "UnrecognizedClientException", "ExpiredTokenException",
		"InvalidSignatureException", "MissingAuthenticationTokenException", "InvalidClientTokenId":
		return scenarios.ClassAccessDenied
	case ValidationException:
		return scenarios.ClassValidation
	case ResourceNotFoundException:
		return scenarios.ClassNotFound
	case ServiceQuotaExceeded:
		return scenarios.ClassQuota
	}
	return scenarios.ClassOther
}

// TimeHeader carries the simulated time of a request, in Unix nanoseconds.
// A client on simulated time sends it; the emulator judges the call at that
// time instead of its own clock, which keeps runs fixed by their seed.
const TimeHeader = "X-Spillway-Time"

// RegionHeader tells Spillway where a call ran. Bedrock itself reveals that
// only in the invocation logs; the emulator adds it so the dashboard can
// show the Region before the logs arrive.
const RegionHeader = "X-Spillway-Inference-Region"

// FirstTokenHeader tells Spillway, on a streamed answer, how many
// milliseconds after the call its first token came: on simulated time the
// emulator writes every event at once, so their arrival says nothing.
const FirstTokenHeader = "X-Spillway-First-Token-Latency"

// RegionCount is one bar of a Region histogram.
type RegionCount struct {
	Region string
	Count  int
}
