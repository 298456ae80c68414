package smemu

import (
	"fmt"
	"slices"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Secret is a secret created with Emulator.CreateSecret.
type Secret struct {
	Name string
	// ARN is arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6
	// random characters>.
	ARN string
	// VersionID is the id of its first version.
	VersionID string
}

// CreateSecret creates the secret name whose AWSCURRENT value is the string
// value (its SecretString), as the CreateSecret operation does, without an
// HTTP request and without counting a call.
func (e *Emulator) CreateSecret(name, value string) (Secret, error) {
	return e.create(name, &version{str: &value})
}

// CreateBinarySecret creates the secret name whose AWSCURRENT value is the
// binary value (its SecretBinary), as CreateSecret does.
func (e *Emulator) CreateBinarySecret(name string, value []byte) (Secret, error) {
	return e.create(name, &version{bin: slices.Clone(value)})
}

func (e *Emulator) create(name string, v *version) (Secret, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v.id, v.created = awsjson.NewUUID(), time.Now()
	sec, err := e.addSecretLocked(name, v)
	if err != nil {
		return Secret{}, fmt.Errorf("smemu: create secret: %w", err)
	}
	return Secret{Name: sec.name, ARN: sec.arn, VersionID: v.id}, nil
}

// PutSecretValue stores the string value as a new AWSCURRENT version of the
// secret that secretID names (ARN or name), as the PutSecretValue operation
// does: the version that was current becomes AWSPREVIOUS. It returns the
// new version's id.
func (e *Emulator) PutSecretValue(secretID, value string) (string, error) {
	return e.put(secretID, &version{str: &value})
}

// PutBinarySecretValue is PutSecretValue with a binary value.
func (e *Emulator) PutBinarySecretValue(secretID string, value []byte) (string, error) {
	return e.put(secretID, &version{bin: slices.Clone(value)})
}

func (e *Emulator) put(secretID string, v *version) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sec, aerr := e.resolveLocked(&secretID)
	if aerr != nil {
		return "", fmt.Errorf("smemu: put secret value: %w", aerr)
	}
	v.id, v.created = awsjson.NewUUID(), time.Now()
	if err := putVersionLocked(sec, v); err != nil {
		return "", fmt.Errorf("smemu: put secret value: %w", err)
	}
	return v.id, nil
}
