package app

import (
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
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
	return keyvault.NewVault(current, retiring...)
}
