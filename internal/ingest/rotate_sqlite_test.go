package ingest_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsivs "github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// Rotation, revocation and the creation limit, through the service over the
// SQLite store (moved from internal/httpapi's keylifecycle_test.go, which
// keeps their answers on the wire).

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 5 * time.Minute, KeyCreatesPerHour: 10})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)

	old := w.get(t, "first get", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	oldARN, _ := w.stored(t, show.ID)

	// Live: the old key is deleted before the stream is stopped, so the
	// encoder cannot reconnect with it.
	if err := w.emu.SetLive(show.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	w.emu.ResetCounts()
	rotated := w.rotate(t, "rotate", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if rotated == old {
		t.Fatal("rotation returned the old key")
	}
	if w.keyExists(t, oldARN) {
		t.Error("the old key still exists in IVS after rotation")
	}
	var order []string
	for _, c := range w.emu.CallLog() {
		if c.Op == "DeleteStreamKey" || c.Op == "StopStream" || c.Op == "CreateStreamKey" {
			order = append(order, c.Op)
		}
	}
	if strings.Join(order, ",") != "DeleteStreamKey,StopStream,CreateStreamKey" {
		t.Errorf("rotation of a live channel called %v, want DeleteStreamKey, StopStream, CreateStreamKey in that order", order)
	}
	if got := w.get(t, "get after rotation", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != rotated {
		t.Error("get after rotation did not return the rotated key")
	}
	newARN, _ := w.stored(t, show.ID)
	if newARN == oldARN || !w.keyExists(t, newARN) {
		t.Errorf("stored key ARN after rotation = %q (old %q), want the new, existing key", newARN, oldARN)
	}

	// Offline: no stream to stop is no error.
	w.rotate(t, "rotate an offline channel", svc, owner.keyRequest(show.ID))

	// Who may rotate is who may get.
	pending := w.seller(t, "pending")
	if _, err := svc.RotateStreamKey(ctx, pending.keyRequest(w.show(t, pending, true).ID)); !errors.Is(err, ingest.ErrSellerNotApproved) {
		t.Errorf("rotate by a pending seller = %v, want %v", err, ingest.ErrSellerNotApproved)
	}
	other := w.seller(t, ingest.SellerApproved)
	if _, err := svc.RotateStreamKey(ctx, other.keyRequest(show.ID)); !errors.Is(err, ingest.ErrNotShowOwner) {
		t.Errorf("rotate another seller's show = %v, want %v", err, ingest.ErrNotShowOwner)
	}
	req := w.admin(t).keyRequest(show.ID)
	req.ImpersonateSellerID = owner.SellerID
	w.rotate(t, "rotate by an admin impersonating the owner", svc, req)
}

// A rotation that fails after the delete leaves nothing stuck: no replica
// hands out the deleted key, even from its cache, and the next get creates
// a key.
func TestFailedRotationIsRepairedByTheNextGet(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	opts := ingest.Options{KeyCacheTTL: 5 * time.Minute, KeyCreatesPerHour: 10} // caches on
	a, b := w.service(t, opts), w.service(t, opts)
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	old := w.get(t, "first get on A", a, owner.keyRequest(show.ID)).StreamKey.Reveal()
	if got := w.get(t, "first get on B", b, owner.keyRequest(show.ID)).StreamKey.Reveal(); got != old {
		t.Fatal("the replicas disagree on the key")
	}

	w.emu.Fail("CreateStreamKey", "InternalServerException")
	if _, err := a.RotateStreamKey(context.Background(), owner.keyRequest(show.ID)); !errors.Is(err, ingest.ErrStreamKeyUnavailable) {
		t.Errorf("rotation on A whose creation fails = %v, want %v", err, ingest.ErrStreamKeyUnavailable)
	}
	w.emu.ClearFailures()
	if got := w.get(t, "get on B, which had cached the deleted key", b, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == old {
		t.Error("replica B handed out the key deleted by the failed rotation")
	}
	if got := w.get(t, "get on A", a, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == old {
		t.Error("replica A handed out the deleted key")
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	svc := w.service(t, ingest.Options{KeyCacheTTL: 0, KeyCreatesPerHour: 10})
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)
	revoke := func(u sqliteUser, showID string) error {
		_, err := svc.RevokeStreamKey(ctx, u.revokeRequest(showID, ""))
		return err
	}

	old := w.get(t, "first get", svc, owner.keyRequest(show.ID)).StreamKey.Reveal()
	oldARN, _ := w.stored(t, show.ID)
	if err := w.emu.SetLive(show.ChannelARN, true); err != nil {
		t.Fatal(err)
	}
	rv, err := svc.RevokeStreamKey(ctx, owner.revokeRequest(show.ID, "key pasted in a public chat"))
	if err != nil {
		t.Fatalf("revoke by the owner: %v", err)
	}
	if rv.StreamKeyARN != oldARN || rv.SellerID != owner.SellerID {
		t.Errorf("revoke by the owner = %+v, want the revoked key %q of seller %s", rv, oldARN, owner.SellerID)
	}
	if w.keyExists(t, oldARN) {
		t.Error("the revoked key still exists in IVS")
	}
	if arn, _ := w.stored(t, show.ID); arn != "" {
		t.Errorf("stored key after revocation = %q, want none", arn)
	}
	if _, err := w.sdk.GetStream(ctx, &awsivs.GetStreamInput{ChannelArn: aws.String(show.ChannelARN)}); err == nil {
		t.Error("the channel is still live after revocation")
	}
	if got := w.get(t, "get after revocation", svc, owner.keyRequest(show.ID)).StreamKey.Reveal(); got == old {
		t.Error("get after revocation returned the revoked key")
	}

	// An admin revokes any show's key without impersonating.
	if err := revoke(w.admin(t), show.ID); err != nil {
		t.Errorf("revoke by an admin = %v, want nil", err)
	}
	// The owner may revoke whatever their status; others may not.
	pending := w.seller(t, "pending")
	if err := revoke(pending, w.show(t, pending, true).ID); err != nil {
		t.Errorf("revoke by a pending owner = %v, want nil", err)
	}
	if err := revoke(pending, show.ID); !errors.Is(err, ingest.ErrNotShowOwner) {
		t.Errorf("revoke by another seller = %v, want %v", err, ingest.ErrNotShowOwner)
	}
	if err := revoke(sqliteUser{ID: ingest.NewID()}, show.ID); !errors.Is(err, ingest.ErrSellerNotFound) {
		t.Errorf("revoke by a user who is not a seller = %v, want %v", err, ingest.ErrSellerNotFound)
	}
	if err := revoke(owner, w.show(t, owner, false).ID); !errors.Is(err, ingest.ErrNoChannel) {
		t.Errorf("revoke a show without a channel = %v, want %v", err, ingest.ErrNoChannel)
	}
}

// The hourly limit of key creations and rotations per seller holds across
// replicas: the 11th in an hour is refused, whichever replica serves it.
func TestKeyCreationLimitAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newSQLiteWorld(t)
	opts := ingest.Options{KeyCacheTTL: 5 * time.Minute, KeyCreatesPerHour: 10}
	replicas := []*ingest.Service{w.service(t, opts), w.service(t, opts)}
	owner := w.seller(t, ingest.SellerApproved)
	show := w.show(t, owner, true)

	w.get(t, "creation 1", replicas[0], owner.keyRequest(show.ID))
	for i := 2; i <= 10; i++ {
		w.rotate(t, "rotation "+strconv.Itoa(i), replicas[i%2], owner.keyRequest(show.ID))
	}
	_, err := replicas[1].RotateStreamKey(ctx, owner.keyRequest(show.ID))
	var limited *ingest.RateLimitedError
	if !errors.As(err, &limited) || !errors.Is(err, ingest.ErrRateLimited) {
		t.Fatalf("the 11th creation in an hour = %v, want a %T", err, limited)
	}
	if limited.RetryAfter < 3000*time.Second || limited.RetryAfter > time.Hour {
		t.Errorf("the 11th creation's RetryAfter = %v, want about an hour", limited.RetryAfter)
	}
	if _, err := replicas[0].RotateStreamKey(ctx, owner.keyRequest(show.ID)); !errors.Is(err, ingest.ErrRateLimited) {
		t.Errorf("the 11th on the other replica = %v, want %v", err, ingest.ErrRateLimited)
	}
	// Reading the existing key is not a creation.
	w.get(t, "get after the limit", replicas[0], owner.keyRequest(show.ID))
	// Another seller has a limit of their own.
	other := w.seller(t, ingest.SellerApproved)
	w.get(t, "another seller's creation", replicas[1], other.keyRequest(w.show(t, other, true).ID))
}
