package ingest

import "errors"

// DeniedError is the refusal of a request about a show that is someone
// else's: Err is the refusal, which errors.Is finds (ErrNotShowOwner), and
// SellerID the seller the show belongs to, which the refusal's audit row
// names in seller_id.
// Why: "who tried to read whose key" is then one look at the audit trail,
// with no join on shows, which may have moved to another seller since.
// The caller is not told whose the show is: the answer is Err's.
type DeniedError struct {
	Err      error
	SellerID string
}

func (e *DeniedError) Error() string { return e.Err.Error() }

func (e *DeniedError) Unwrap() error { return e.Err }

// DeniedSeller returns the seller of the show err refused a request about,
// when err says (a *DeniedError in its chain).
func DeniedSeller(err error) (sellerID string, ok bool) {
	var denied *DeniedError
	if errors.As(err, &denied) && denied.SellerID != "" {
		return denied.SellerID, true
	}
	return "", false
}

// notOwner is ErrNotShowOwner for the show of f, naming its seller.
func notOwner(f AuthzFacts) error {
	return &DeniedError{Err: ErrNotShowOwner, SellerID: f.Show.SellerID}
}
