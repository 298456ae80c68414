package ivs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Explain says what an error from a Client's call means to the operator and
// what to do about it, for `ivs-ingest doctor`. region is the client's
// region; id the identity it signs with (Identity's answer), which names
// the access key by its last four characters, never the secret.
func Explain(err error, region string, id Identity) string {
	key := "the access key"
	if id.AccessKeyHint != "" {
		key = "the access key ending " + id.AccessKeyHint
	}
	secretVar := "the secret of the credentials from " + id.Source
	if id.Source == credentials.StaticCredentialsName {
		// Static keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
		// (New uses them only then).
		secretVar = "AWS_SECRET_ACCESS_KEY"
	}
	code, msg := APIError(err)
	switch {
	case code == "InvalidSignatureException" && strings.Contains(msg, "expired"),
		code == "RequestExpired", code == "RequestTimeTooSkewed":
		return fmt.Sprintf("AWS refused the request's time (%s): this host's clock is off by over 15 minutes; fix it (NTP)", code)
	case code == "InvalidSignatureException", code == "SignatureDoesNotMatch":
		return fmt.Sprintf("AWS refused the request signature (%s): %s is not the secret of %s; fix it", code, secretVar, key)
	case code == "UnrecognizedClientException", code == "InvalidClientTokenId":
		return fmt.Sprintf("AWS does not know %s or its session token (%s): the key was deleted or mistyped, or the session token is wrong", key, code)
	case code == "ExpiredTokenException":
		return fmt.Sprintf("the session token has expired (%s): refresh the credentials", code)
	case code == "AccessDeniedException":
		return fmt.Sprintf("the credentials may not call ivs:GetChannel on this channel (%s): attach the policy that `ivs-ingest doctor --policy` prints", code)
	case errors.Is(err, ingest.ErrIVSNotFound):
		return fmt.Sprintf("no such channel in region %s (%s): the show's ivs_channel_arn names a deleted channel, or one in another account or region (AWS_REGION)", region, code)
	case code == "ValidationException":
		return fmt.Sprintf("IVS refused the ARN (%s: %s): check public.shows.ivs_channel_arn", code, msg)
	case errors.Is(err, ingest.ErrIVSThrottled):
		return "IVS throttled the calls through every retry: something else on this account and region spends its 5 calls per second; try again"
	case errors.Is(err, ingest.ErrIVSBusy):
		return "the IVS call budget (IVS_MAX_CALLS_PER_SECOND) has no free slot within IVS_BUDGET_WAIT: the replicas are busy; try again"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within the doctor's timeout: check that this host reaches the IVS endpoint (%v)", err)
	}
	return err.Error()
}
