package bedrock

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"spillway/scenarios"
)

// Every error the SDK hands back, typed or generic and however wrapped,
// is classified by its AWS code through the one table in engine/wire.
func TestClassifyReadsTheCodeOfEverySDKError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
		want scenarios.ErrorClass
	}{
		{&types.ThrottlingException{Message: ptr("slow down")}, "ThrottlingException", scenarios.ClassThrottled},
		{&types.ServiceUnavailableException{}, "ServiceUnavailableException", scenarios.ClassThrottled},
		{&types.ModelNotReadyException{}, "ModelNotReadyException", scenarios.ClassThrottled},
		{&types.InternalServerException{}, "InternalServerException", scenarios.ClassServerError},
		{&types.ModelTimeoutException{}, "ModelTimeoutException", scenarios.ClassServerError},
		{&types.ModelErrorException{}, "ModelErrorException", scenarios.ClassServerError},
		{&types.AccessDeniedException{}, "AccessDeniedException", scenarios.ClassAccessDenied},
		{&types.ValidationException{}, "ValidationException", scenarios.ClassValidation},
		{&types.ResourceNotFoundException{}, "ResourceNotFoundException", scenarios.ClassNotFound},
		{&types.ServiceQuotaExceededException{}, "ServiceQuotaExceededException", scenarios.ClassQuota},
		{&smithy.GenericAPIError{Code: "ExpiredTokenException", Message: "expired"}, "ExpiredTokenException", scenarios.ClassAccessDenied},
		{fmt.Errorf("operation error Bedrock Runtime: Converse: %w", &types.ThrottlingException{}), "ThrottlingException", scenarios.ClassThrottled},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), CodeClientTimeout, scenarios.ClassTimeout},
		{&net.OpError{Op: "dial", Err: fmt.Errorf("connection refused")}, CodeUnreachable, scenarios.ClassUnreachable},
	} {
		code, _, class := classify(tc.err)
		if code != tc.code || class != tc.want {
			t.Errorf("classify(%v) = %s, %s; want %s, %s", tc.err, code, class, tc.code, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }
