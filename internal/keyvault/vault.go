package keyvault

import (
	"errors"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// NewVault is the domain's Vault over a keyring that seals under current
// and also opens what retiring sealed.
func NewVault(current Key, retiring ...Key) (ingest.Vault, error) {
	r, err := NewKeyring(current, retiring...)
	if err != nil {
		return nil, err
	}
	known := []string{current.ID}
	for _, k := range retiring {
		known = append(known, k.ID)
	}
	return vault{r: r, known: known}, nil
}

// vault is ingest.Vault over a Keyring.
type vault struct {
	r     *Keyring
	known []string
}

func (v vault) Seal(value secret.String, binding ...string) ([]byte, error) {
	return v.r.Seal(value, binding...)
}

// Open maps ErrUnknownKey to the domain's: such a value is served from IVS
// and never overwritten.
func (v vault) Open(sealed []byte, binding ...string) (secret.String, bool, error) {
	value, id, err := v.r.Open(sealed, binding...)
	if errors.Is(err, ErrUnknownKey) {
		return secret.String{}, false, &ingest.UnknownKeyError{KeyID: id}
	}
	if err != nil {
		return secret.String{}, false, err
	}
	return value, id == v.r.CurrentID(), nil
}

func (v vault) KeyIDs() (string, []string) { return v.r.CurrentID(), v.known }
