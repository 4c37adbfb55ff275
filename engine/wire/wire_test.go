package wire

import (
	"testing"

	"spillway/scenarios"
)

// The one table: each Bedrock code lands in the class the gateway acts on.
func TestClassify(t *testing.T) {
	for code, want := range map[string]scenarios.ErrorClass{
		ThrottlingException:           scenarios.ClassThrottled,
		ServiceUnavailableException:   scenarios.ClassThrottled,
		ModelNotReadyException:        scenarios.ClassThrottled,
		InternalServerException:       scenarios.ClassServerError,
		ModelTimeoutException:         scenarios.ClassServerError,
		ModelErrorException:           scenarios.ClassServerError,
		ModelStreamErrorException:     scenarios.ClassServerError,
		AccessDeniedException:         scenarios.ClassAccessDenied,
		"ExpiredTokenException":       scenarios.ClassAccessDenied,
		"UnrecognizedClientException": scenarios.ClassAccessDenied,
		ValidationException:           scenarios.ClassValidation,
		ResourceNotFoundException:     scenarios.ClassNotFound,
		ServiceQuotaExceeded:          scenarios.ClassQuota,
		"SomethingNew":                scenarios.ClassOther,
	} {
		if got := Classify(code); got != want {
			t.Errorf("Classify(%s) = %s, want %s", code, got, want)
		}
	}
}
