package ivs

import (
	"context"
	"errors"
	"time"

	"github.com/aws/smithy-go"
)

// Identity says which AWS credentials a Client signs with, without the
// secret.
type Identity struct {
	// Source is the SDK provider that supplied them, such as
	// StaticCredentials, SharedConfigCredentials: <file>, EC2RoleProvider or
	// WebIdentityCredentials.
	Source string
	// AccessKeyHint is the last four characters of the access key ID, which
	// is what the IAM console shows to tell keys apart.
	AccessKeyHint string
	// Temporary reports credentials with a session token.
	Temporary bool
	// Expires is when they expire; zero when they do not.
	Expires time.Time
}

// Identity resolves the credentials the Client's calls sign with, through
// the same providers (static keys when configured, else the SDK's default
// chain), for `ivs-ingest doctor`. The error wraps ingest.ErrIVSCredentials
// when none resolve.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	creds, err := c.api.Options().Credentials.Retrieve(ctx)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Source: creds.Source, Temporary: creds.SessionToken != ""}
	if k := creds.AccessKeyID; len(k) > 4 {
		id.AccessKeyHint = k[len(k)-4:]
	}
	if creds.CanExpire {
		id.Expires = creds.Expires
	}
	return id, nil
}

// APIError returns the error code and message AWS answered with, found in
// err's chain, such as InvalidSignatureException or AccessDeniedException;
// "" when AWS did not answer with an error.
func APIError(err error) (code, message string) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	return "", ""
}
