package app

import (
	"errors"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// Vault is the key store's vault of cfg's master keys
// (STREAM_KEY_ENCRYPTION_KEY, STREAM_KEY_DECRYPTION_KEYS); nil when none is
// configured, which keeps keys in each process's memory only.
func Vault(cfg config.Config) (ingest.Vault, error) {
	current, retiring, ok, err := cfg.MasterKeys()
	if err != nil || !ok {
		return nil, err
	}
	return NewVault(current, retiring...)
}

// NewVault is the domain's Vault over a keyring that seals under current
// and also opens what retiring sealed.
func NewVault(current keyvault.Key, retiring ...keyvault.Key) (ingest.Vault, error) {
	r, err := keyvault.NewKeyring(current, retiring...)
	if err != nil {
		return nil, err
	}
	known := []string{current.ID}
	for _, k := range retiring {
		known = append(known, k.ID)
	}
	return keyringVault{r: r, known: known}, nil
}

// keyringVault is ingest.Vault over a keyvault.Keyring.
type keyringVault struct {
	r     *keyvault.Keyring
	known []string
}

func (v keyringVault) Seal(value secret.String, binding ...string) ([]byte, error) {
	return v.r.Seal(value, binding...)
}

// Open maps keyvault's unknown key to the domain's: such a value is served
// from IVS and never overwritten.
func (v keyringVault) Open(sealed []byte, binding ...string) (secret.String, bool, error) {
	value, id, err := v.r.Open(sealed, binding...)
	if errors.Is(err, keyvault.ErrUnknownKey) {
		return secret.String{}, false, &ingest.UnknownKeyError{KeyID: id}
	}
	if err != nil {
		return secret.String{}, false, err
	}
	return value, id == v.r.CurrentID(), nil
}

func (v keyringVault) KeyIDs() (string, []string) { return v.r.CurrentID(), v.known }
