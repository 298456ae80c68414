package kmsemu

import (
	"fmt"
)

// Key is a KMS key created with Emulator.CreateKey.
type Key struct {
	ID  string // key id, a UUID
	ARN string // key ARN, arn:aws:kms:<region>:<account>:key/<id>
}

// CreateKey creates an enabled symmetric encryption key, as the CreateKey
// operation does, without an HTTP request and without counting a call.
func (e *Emulator) CreateKey(description string) Key {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.addKeyLocked(description)
	return Key{ID: k.id, ARN: k.arn}
}

// CreateAlias points the new alias aliasName ("alias/<name>") at the key
// that keyID names (key id or key ARN), as the CreateAlias operation does,
// without an HTTP request and without counting a call.
func (e *Emulator) CreateAlias(aliasName, keyID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.addAliasLocked(aliasName, &keyID); aerr != nil {
		return fmt.Errorf("kmsemu: create alias: %w", aerr)
	}
	return nil
}

// SetKeyEnabled enables or disables the key that keyID names (key id or key
// ARN), as EnableKey and DisableKey do, without counting a call.
func (e *Emulator) SetKeyEnabled(keyID string, enabled bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, aerr := e.resolveLocked("keyId", &keyID, false)
	if aerr != nil {
		return fmt.Errorf("kmsemu: set key enabled: %w", aerr)
	}
	k.enabled = enabled
	return nil
}
