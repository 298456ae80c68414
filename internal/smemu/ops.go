package smemu

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Version stages Secrets Manager maintains itself.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// Limits from the Secrets Manager model.
const (
	maxSecretIDLength = 2048
	maxValueBytes     = 65536
)

var (
	// namePattern is what CreateSecret accepts as a name.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	// secretARNPattern splits a Secrets Manager ARN into region, account
	// and the secret's part (its name and a 6-character suffix).
	secretARNPattern = regexp.MustCompile(`^arn:aws:secretsmanager:([a-z0-9-]+):([0-9]{12}):secret:(.+)$`)
	suffixAlphabet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// secret is one secret and its versions, read and written under
// Emulator.mu.
type secret struct {
	name     string
	arn      string
	created  time.Time
	versions []*version // oldest first
}

// version is one value of a secret.
type version struct {
	id      string
	str     *string // SecretString, or nil
	bin     []byte  // SecretBinary, or nil
	created time.Time
	stages  []string
}

// notFound is Secrets Manager's answer for a secret it cannot find, whatever
// the reason (another account's, another region's, never created): it says
// no more than that.
func notFound() *awsjson.Error {
	return awsjson.Errorf(errNotFound, "Secrets Manager can't find the specified secret.")
}

// resolveLocked returns the secret id names: its ARN, its ARN without the
// 6-character suffix (a partial ARN), or its name.
func (e *Emulator) resolveLocked(id *string) (*secret, *awsjson.Error) {
	switch {
	case id == nil:
		return nil, awsjson.Errorf(errValidation, "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	case *id == "" || len(*id) > maxSecretIDLength:
		return nil, awsjson.Errorf(errValidation, "1 validation error detected: Value at 'secretId' failed to satisfy constraint: "+
			"Member must have length less than or equal to %d and greater than or equal to 1", maxSecretIDLength)
	}
	s := *id
	if m := secretARNPattern.FindStringSubmatch(s); m != nil {
		region, account, resource := m[1], m[2], m[3]
		if region != e.region || account != e.accountID {
			// One account in one region: another's secret is not found.
			return nil, notFound()
		}
		if sec := e.secrets[s]; sec != nil {
			return sec, nil
		}
		if arn, ok := e.names[resource]; ok {
			return e.secrets[arn], nil
		}
		return nil, notFound()
	}
	if strings.HasPrefix(s, "arn:") {
		return nil, notFound()
	}
	if arn, ok := e.names[s]; ok {
		return e.secrets[arn], nil
	}
	return nil, notFound()
}

type getSecretValueInput struct {
	SecretID     *string `json:"SecretId"`
	VersionID    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

// getSecretValueOutput is GetSecretValue's answer. SecretBinary is encoded
// as base64 by encoding/json, as AWS JSON encodes blobs; CreatedDate is in
// epoch seconds.
type getSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
	CreatedDate   float64  `json:"CreatedDate"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"`
}

// getSecretValue answers the version of the secret that VersionId and
// VersionStage name (both must name the same version), AWSCURRENT when
// neither is given.
func (e *Emulator) getSecretValue(body []byte) (any, *awsjson.Error) {
	var in getSecretValueInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	sec, aerr := e.resolveLocked(in.SecretID)
	if aerr != nil {
		return nil, aerr
	}
	stage := stageCurrent
	if in.VersionStage != nil {
		stage = *in.VersionStage
	}
	var v *version
	for _, cand := range sec.versions {
		if in.VersionID != nil && cand.id != *in.VersionID {
			continue
		}
		if (in.VersionID == nil || in.VersionStage != nil) && !slices.Contains(cand.stages, stage) {
			continue
		}
		v = cand
	}
	switch {
	case v == nil && in.VersionID != nil:
		return nil, awsjson.Errorf(errNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionID)
	case v == nil:
		return nil, awsjson.Errorf(errNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	return getSecretValueOutput{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionID:     v.id,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   float64(v.created.UnixMilli()) / 1000,
		SecretString:  v.str,
		SecretBinary:  v.bin,
	}, nil
}

// addSecretLocked creates the secret name with its first version.
func (e *Emulator) addSecretLocked(name string, v *version) (*secret, error) {
	if !namePattern.MatchString(name) {
		return nil, fmt.Errorf("%s: invalid name %q", errInvalidParameter, name)
	}
	if _, ok := e.names[name]; ok {
		return nil, fmt.Errorf("ResourceExistsException: the secret %s already exists", name)
	}
	if err := checkValue(v); err != nil {
		return nil, err
	}
	sec := &secret{name: name, arn: e.secretARN(name), created: time.Now()}
	v.stages = []string{stageCurrent}
	sec.versions = []*version{v}
	e.secrets[sec.arn] = sec
	e.names[name] = sec.arn
	return sec, nil
}

// putVersionLocked makes v the secret's AWSCURRENT version; the current one
// becomes AWSPREVIOUS, and the previous one loses its stage.
func putVersionLocked(sec *secret, v *version) error {
	if err := checkValue(v); err != nil {
		return err
	}
	for _, old := range sec.versions {
		switch {
		case slices.Contains(old.stages, stageCurrent):
			old.stages = []string{stagePrevious}
		case slices.Contains(old.stages, stagePrevious):
			old.stages = nil
		}
	}
	v.stages = []string{stageCurrent}
	sec.versions = append(sec.versions, v)
	return nil
}

// checkValue applies the model's rules to a value: exactly one of string
// and binary, at most 64 KiB.
func checkValue(v *version) error {
	switch {
	case (v.str == nil) == (v.bin == nil):
		return fmt.Errorf("%s: exactly one of SecretString and SecretBinary must be set", errInvalidParameter)
	case v.str != nil && len(*v.str) > maxValueBytes, len(v.bin) > maxValueBytes:
		return fmt.Errorf("%s: the value exceeds %d bytes", errInvalidParameter, maxValueBytes)
	}
	return nil
}

// secretARN is the ARN of a new secret called name: Secrets Manager appends
// a hyphen and 6 random characters, so that a secret deleted and created
// again under its name gets another ARN.
func (e *Emulator) secretARN(name string) string {
	var b [6]byte
	rand.Read(b[:])
	suffix := make([]byte, len(b))
	for i, c := range b {
		suffix[i] = suffixAlphabet[int(c)%len(suffixAlphabet)]
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", e.region, e.accountID, name, suffix)
}
