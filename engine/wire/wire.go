// Package wire is what the gateway, the AWS client side and the simulated
// AWS agree on without depending on each other: Bedrock's error codes and
// the one table of what each means to a gateway, the headers Spillway adds
// to the AWS protocol, and a Region histogram's bar.
package wire

import (
	"fmt"
	"time"

	"spillway/scenarios"
)

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

// StallHeader tells Spillway, on simulated time, of a pause in a streamed
// answer's tokens, "after=N;at=MS;for=MS": after N tokens, at MS since the
// call, no token for MS. Written at once, the events cannot show it.
const StallHeader = "X-Spillway-Stream-Stall"

// FormatStall writes a StallHeader value.
func FormatStall(after int, at, pause time.Duration) string {
	return fmt.Sprintf("after=%d;at=%d;for=%d", after, at.Milliseconds(), pause.Milliseconds())
}

// ParseStall reads a StallHeader value; ok is false for anything else.
func ParseStall(v string) (after int, at, pause time.Duration, ok bool) {
	var atMS, forMS int64
	if n, err := fmt.Sscanf(v, "after=%d;at=%d;for=%d", &after, &atMS, &forMS); n != 3 || err != nil || after < 0 || atMS < 0 || forMS < 0 {
		return 0, 0, 0, false
	}
	return after, time.Duration(atMS) * time.Millisecond, time.Duration(forMS) * time.Millisecond, true
}

// RegionCount is one bar of a Region histogram.
type RegionCount struct {
	Region string
	Count  int
}
