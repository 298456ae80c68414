package awsjson

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/sigv4"
)

// Defaults applied by Resolve to an empty Config field.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// Config is the account, region and credentials of an emulated endpoint
// (kmsemu.Config and smemu.Config are this type).
type Config struct {
	// Region is the emulated region; requests must be signed for it and
	// ARNs name it. Default DefaultRegion.
	Region string
	// AccountID is the 12-digit account in every ARN. Default
	// DefaultAccountID.
	AccountID string
	// AccessKeyID and SecretAccessKey are the only credentials accepted.
	// Both are required.
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must be sent (and signed) as
	// X-Amz-Security-Token; when empty, a request carrying one is refused.
	SessionToken string
}

// Resolve returns c with the defaults applied to its empty fields, or an
// error prefixed with name (the emulator's package, e.g. "kmsemu") if a
// field is invalid or a credential is missing.
func (c Config) Resolve(name string) (Config, error) {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	switch {
	case !regionPattern.MatchString(c.Region):
		return Config{}, fmt.Errorf("%s: invalid region %q", name, c.Region)
	case !accountPattern.MatchString(c.AccountID):
		return Config{}, fmt.Errorf("%s: account id %q is not 12 digits", name, c.AccountID)
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return Config{}, errors.New(name + ": access key id and secret access key are required")
	}
	return c, nil
}

func (c Config) credentials() sigv4.Credentials {
	return sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

// String implements fmt.Stringer with the secret and token redacted, so a
// Config can be printed or logged. The redaction is sigv4.Credentials'.
func (c Config) String() string {
	return fmt.Sprintf("{Region:%s AccountID:%s %s}", c.Region, c.AccountID, strings.Trim(c.credentials().String(), "{}"))
}

// GoString implements fmt.GoStringer, covering %#v.
func (c Config) GoString() string { return "awsjson.Config" + c.String() }

// LogValue implements slog.LogValuer, with the credentials redacted by
// sigv4.Credentials.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("region", c.Region), slog.String("account_id", c.AccountID)}
	return slog.GroupValue(append(attrs, c.credentials().LogValue().Group()...)...)
}
