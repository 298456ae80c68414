package ingest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// The MFA gate (Options.RequireMFA) in the service itself, whatever the
// transport: a caller without aal2 gets, rotates and revokes nothing, and
// IVS and the store are never asked. The wire's side (the 403, its order
// before the per-user limit, its audit row) is internal/httpapi's
// mfa_test.go.

func TestMFAGateInTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	gated := w.service(t, ingest.Options{RequireMFA: true, KeyCreatesPerHour: 100})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	admin := w.admin(t)

	withAAL := func(u sqliteUser, aal ingest.AssuranceLevel) ingest.Caller {
		c := u.caller()
		c.AAL = aal
		return c
	}
	get := func(c ingest.Caller) error {
		req := owner.keyRequest(show.ID)
		req.Caller = c
		_, err := gated.IngestDetails(ctx, req)
		return err
	}
	rotate := func(c ingest.Caller) error {
		req := owner.keyRequest(show.ID)
		req.Caller = c
		_, err := gated.RotateStreamKey(ctx, req)
		return err
	}
	revoke := func(c ingest.Caller) error {
		req := owner.revokeRequest(show.ID, "")
		req.Caller = c
		_, err := gated.RevokeStreamKey(ctx, req)
		return err
	}
	ops := []struct {
		name string
		do   func(ingest.Caller) error
	}{{"get", get}, {"rotate", rotate}, {"revoke", revoke}}

	w.emu.ResetCounts()
	for _, op := range ops {
		for _, aal := range []ingest.AssuranceLevel{ingest.AAL1, ""} {
			if err := op.do(withAAL(owner, aal)); !errors.Is(err, ingest.ErrMFARequired) {
				t.Errorf("%s by the owner with aal %q = %v, want %v", op.name, aal, err, ingest.ErrMFARequired)
			}
		}
	}
	if n := w.emu.TotalCalls(); n != 0 {
		t.Errorf("refused requests made %d IVS calls, want 0", n)
	}
	if arn, _ := w.stored(t, show.ID); arn != "" {
		t.Errorf("stored key after refused requests = %q, want none", arn)
	}

	// With aal2 the owner gets, rotates and revokes.
	for _, op := range ops {
		if err := op.do(withAAL(owner, ingest.AAL2)); err != nil {
			t.Errorf("%s by the owner with aal2 = %v, want nil", op.name, err)
		}
	}

	// Admins too: an admin's revocation of any show, and an admin acting
	// as the seller, are gated on the admin's own sign-in.
	if err := revoke(withAAL(admin, ingest.AAL1)); !errors.Is(err, ingest.ErrMFARequired) {
		t.Errorf("revoke by an admin with aal1 = %v, want %v", err, ingest.ErrMFARequired)
	}
	impersonated := owner.keyRequest(show.ID)
	impersonated.Caller, impersonated.ImpersonateSellerID = withAAL(admin, ingest.AAL1), owner.SellerID
	if _, err := gated.IngestDetails(ctx, impersonated); !errors.Is(err, ingest.ErrMFARequired) {
		t.Errorf("get by an admin acting as the seller with aal1 = %v, want %v", err, ingest.ErrMFARequired)
	}
	impersonated.Caller = withAAL(admin, ingest.AAL2)
	if _, err := gated.IngestDetails(ctx, impersonated); err != nil {
		t.Errorf("get by an admin acting as the seller with aal2 = %v, want nil", err)
	}
	if err := revoke(withAAL(admin, ingest.AAL2)); err != nil {
		t.Errorf("revoke by an admin with aal2 = %v, want nil", err)
	}

	// The audit read stays open: it shows no key, and it is where a seller
	// without the second factor sees what was done on their show.
	if _, err := gated.ReadAudit(ctx, withAAL(owner, ingest.AAL1), ingest.AuditQuery{ShowID: show.ID, Limit: 10}); err != nil {
		t.Errorf("audit read by the owner with aal1 = %v, want nil", err)
	}

	// Off (the default), aal1 and no aal are enough.
	open := w.service(t, ingest.Options{KeyCreatesPerHour: 100})
	for _, aal := range []ingest.AssuranceLevel{ingest.AAL1, ""} {
		req := owner.keyRequest(show.ID)
		req.Caller = withAAL(owner, aal)
		if _, err := open.IngestDetails(ctx, req); err != nil {
			t.Errorf("get by the owner with aal %q, MFA off = %v, want nil", aal, err)
		}
	}
}
