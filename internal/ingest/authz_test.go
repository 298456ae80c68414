package ingest

import (
	"errors"
	"testing"
)

const (
	sellerA = "c0000000-0000-4000-8000-00000000000a"
	sellerB = "c0000000-0000-4000-8000-00000000000b"
	channel = "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl"
)

func TestMayGetKey(t *testing.T) {
	t.Parallel()
	approved := &Seller{ID: sellerA, Status: SellerApproved}
	pending := &Seller{ID: sellerA, Status: "pending"}
	own := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	shared := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel, ChannelShared: true}
	tests := []struct {
		name          string
		facts         AuthzFacts
		impersonating bool
		want          error
	}{
		{"signed out", AuthzFacts{Seller: approved, Show: own}, false, ErrSessionEnded},
		{"non-admin impersonates", AuthzFacts{SessionActive: true, Seller: approved, Show: own}, true, ErrImpersonationDenied},
		{"no seller", AuthzFacts{SessionActive: true, Show: own}, false, ErrSellerNotFound},
		{"pending seller", AuthzFacts{SessionActive: true, Seller: pending, Show: own}, false, ErrSellerNotApproved},
		{"admin acting as a pending seller", AuthzFacts{SessionActive: true, IsAdmin: true, Seller: pending, Show: own}, true, nil},
		{"no show", AuthzFacts{SessionActive: true, Seller: approved}, false, ErrShowNotFound},
		{"another seller's show", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerB, Status: SellerApproved}, Show: own}, false, ErrNotShowOwner},
		{"shared channel", AuthzFacts{SessionActive: true, Seller: approved, Show: shared}, false, ErrChannelShared},
		{"admin on a shared channel", AuthzFacts{SessionActive: true, IsAdmin: true, Seller: approved, Show: shared}, true, ErrChannelShared},
		{"no channel", AuthzFacts{SessionActive: true, Seller: approved, Show: &Show{ID: "s", SellerID: sellerA}}, false, ErrNoChannel},
		{"owner", AuthzFacts{SessionActive: true, Seller: approved, Show: own}, false, nil},
		// The first failing check decides: several things wrong at once.
		{"signed out non-admin impersonating", AuthzFacts{}, true, ErrSessionEnded},
		{"pending and not the owner", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerB}, Show: own}, false, ErrSellerNotApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			show, err := mayGetKey(tt.facts, tt.impersonating)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("mayGetKey(%+v, %v) = %v, want %v", tt.facts, tt.impersonating, err, tt.want)
			}
			if err == nil && show.ID != tt.facts.Show.ID {
				t.Errorf("mayGetKey() = show %q, want %q", show.ID, tt.facts.Show.ID)
			}
		})
	}
}

func TestMayRevoke(t *testing.T) {
	t.Parallel()
	pending := &Seller{ID: sellerA, Status: "pending"}
	own := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	shared := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel, ChannelShared: true}
	tests := []struct {
		name  string
		facts AuthzFacts
		want  error
	}{
		{"signed out", AuthzFacts{Seller: pending, Show: own}, ErrSessionEnded},
		{"no seller", AuthzFacts{SessionActive: true, Show: own}, ErrSellerNotFound},
		{"no show", AuthzFacts{SessionActive: true, Seller: pending}, ErrShowNotFound},
		{"another seller's show", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerB}, Show: own}, ErrNotShowOwner},
		{"owner on a shared channel", AuthzFacts{SessionActive: true, Seller: pending, Show: shared}, ErrChannelShared},
		{"no channel", AuthzFacts{SessionActive: true, Seller: pending, Show: &Show{ID: "s", SellerID: sellerA}}, ErrNoChannel},
		{"pending owner", AuthzFacts{SessionActive: true, Seller: pending, Show: own}, nil},
		{"admin, no seller profile", AuthzFacts{SessionActive: true, IsAdmin: true, Show: own}, nil},
		{"admin on a shared channel", AuthzFacts{SessionActive: true, IsAdmin: true, Show: shared}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mayRevoke(tt.facts); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("mayRevoke(%+v) = %v, want %v", tt.facts, err, tt.want)
			}
		})
	}
}

func TestMayWatch(t *testing.T) {
	t.Parallel()
	pending := &Seller{ID: sellerA, Status: "pending"}
	own := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	shared := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel, ChannelShared: true}
	bare := &Show{ID: "s", SellerID: sellerA}
	tests := []struct {
		name        string
		facts       AuthzFacts
		want        error
		wantChannel string
	}{
		{"signed out", AuthzFacts{Seller: pending, Show: own}, ErrSessionEnded, ""},
		{"signed-out admin", AuthzFacts{IsAdmin: true, Show: own}, ErrSessionEnded, ""},
		{"no seller", AuthzFacts{SessionActive: true, Show: own}, ErrSellerNotFound, ""},
		{"no show", AuthzFacts{SessionActive: true, Seller: pending}, ErrShowNotFound, ""},
		{"admin, no such show", AuthzFacts{SessionActive: true, IsAdmin: true}, ErrShowNotFound, ""},
		{"another seller's show", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerB, Status: SellerApproved}, Show: own}, ErrNotShowOwner, ""},
		{"owner on a shared channel", AuthzFacts{SessionActive: true, Seller: pending, Show: shared}, ErrChannelShared, ""},
		{"approved owner", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerA, Status: SellerApproved}, Show: own}, nil, channel},
		{"pending owner", AuthzFacts{SessionActive: true, Seller: pending, Show: own}, nil, channel},
		{"suspended owner", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerA, Status: "suspended"}, Show: own}, nil, channel},
		// No channel is no refusal: the status is unknown.
		{"owner, no channel", AuthzFacts{SessionActive: true, Seller: pending, Show: bare}, nil, ""},
		{"admin, no seller profile", AuthzFacts{SessionActive: true, IsAdmin: true, Show: own}, nil, channel},
		{"admin, another seller's show", AuthzFacts{SessionActive: true, IsAdmin: true, Seller: &Seller{ID: sellerB}, Show: own}, nil, channel},
		{"admin on a shared channel", AuthzFacts{SessionActive: true, IsAdmin: true, Show: shared}, nil, channel},
		// The first failing check decides.
		{"signed out, no seller, no show", AuthzFacts{}, ErrSessionEnded, ""},
		{"no seller and no show", AuthzFacts{SessionActive: true}, ErrSellerNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			show, err := mayWatch(tt.facts)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("mayWatch(%+v) = %v, want %v", tt.facts, err, tt.want)
			}
			if show.ChannelARN != tt.wantChannel {
				t.Errorf("mayWatch(%+v) = channel %q, want %q", tt.facts, show.ChannelARN, tt.wantChannel)
			}
		})
	}
}

func TestStillBound(t *testing.T) {
	t.Parallel()
	was := Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	moved := was
	moved.SellerID = sellerB
	rebound := was
	rebound.ChannelARN = channel + "x"
	shared := was
	shared.ChannelShared = true
	tests := []struct {
		name          string
		now           Show
		found, shared bool
		want          error
	}{
		{"unchanged", was, true, false, nil},
		{"deleted", Show{}, false, false, ErrShowNotFound},
		{"moved to another seller", moved, true, false, ErrShowChanged},
		{"pointed at another channel", rebound, true, false, ErrShowChanged},
		{"channel now shared", shared, true, false, ErrChannelShared},
		{"channel now shared, allowed", shared, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := stillBound(was, tt.now, tt.found, tt.shared); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("stillBound(%+v, %+v, %v, %v) = %v, want %v", was, tt.now, tt.found, tt.shared, err, tt.want)
			}
		})
	}
}

func TestMayReadAudit(t *testing.T) {
	t.Parallel()
	pending := &Seller{ID: sellerA, Status: "pending"}
	own := &Show{ID: "s", SellerID: sellerA, ChannelARN: channel}
	tests := []struct {
		name     string
		facts    AuthzFacts
		allShows bool
		want     error
	}{
		{"signed out", AuthzFacts{Seller: pending, Show: own}, false, ErrSessionEnded},
		{"signed-out admin", AuthzFacts{IsAdmin: true}, true, ErrSessionEnded},
		{"admin, every show", AuthzFacts{SessionActive: true, IsAdmin: true}, true, nil},
		{"admin, a show not theirs", AuthzFacts{SessionActive: true, IsAdmin: true, Show: own}, false, nil},
		{"admin, no such show", AuthzFacts{SessionActive: true, IsAdmin: true}, false, nil},
		{"seller, every show", AuthzFacts{SessionActive: true, Seller: pending, Show: own}, true, ErrAuditForbidden},
		{"no seller, every show", AuthzFacts{SessionActive: true}, true, ErrAuditForbidden},
		{"no seller", AuthzFacts{SessionActive: true, Show: own}, false, ErrSellerNotFound},
		{"no show", AuthzFacts{SessionActive: true, Seller: pending}, false, ErrShowNotFound},
		{"another seller's show", AuthzFacts{SessionActive: true, Seller: &Seller{ID: sellerB}, Show: own}, false, ErrNotShowOwner},
		{"pending owner", AuthzFacts{SessionActive: true, Seller: pending, Show: own}, false, nil},
		// A shared channel or a missing channel does not hide a show's trail
		// from its owner.
		{"owner on a shared channel", AuthzFacts{SessionActive: true, Seller: pending,
			Show: &Show{ID: "s", SellerID: sellerA, ChannelARN: channel, ChannelShared: true}}, false, nil},
		{"owner, no channel", AuthzFacts{SessionActive: true, Seller: pending, Show: &Show{ID: "s", SellerID: sellerA}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := mayReadAudit(tt.facts, tt.allShows); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("mayReadAudit(%+v, %v) = %v, want %v", tt.facts, tt.allShows, err, tt.want)
			}
		})
	}
}

func TestMayUseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		aal        AssuranceLevel
		requireMFA bool
		want       error
	}{
		{"aal2, MFA required", AAL2, true, nil},
		{"aal1, MFA required", AAL1, true, ErrMFARequired},
		// A token without the claim counts as aal1.
		{"no aal, MFA required", "", true, ErrMFARequired},
		// Only the exact level Supabase issues passes: no case folding, no
		// levels it does not issue.
		{"AAL2 in capitals, MFA required", "AAL2", true, ErrMFARequired},
		{"aal3, MFA required", "aal3", true, ErrMFARequired},
		{"aal2, MFA off", AAL2, false, nil},
		{"aal1, MFA off", AAL1, false, nil},
		{"no aal, MFA off", "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller := Caller{UserID: sellerA, AAL: tt.aal}
			if err := mayUseKeys(caller, tt.requireMFA); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("mayUseKeys(%+v, %v) = %v, want %v", caller, tt.requireMFA, err, tt.want)
			}
		})
	}
}

func TestAdmitGatesEveryActionButTheAuditRead(t *testing.T) {
	t.Parallel()
	gated := NewService(nil, nil, Options{RequireMFA: true})
	defer gated.Close()
	open := NewService(nil, nil, Options{})
	defer open.Close()
	aal1, aal2 := Caller{UserID: sellerA, AAL: AAL1}, Caller{UserID: sellerA, AAL: AAL2}
	for _, a := range []Action{ActionGet, ActionCreate, ActionRotate, ActionRevoke, ActionExpire} {
		if err := gated.Admit(aal1, a); !errors.Is(err, ErrMFARequired) {
			t.Errorf("Admit(aal1, %s) with MFA required = %v, want %v", a, err, ErrMFARequired)
		}
		if err := gated.Admit(aal2, a); err != nil {
			t.Errorf("Admit(aal2, %s) with MFA required = %v, want nil", a, err)
		}
		if err := open.Admit(aal1, a); err != nil {
			t.Errorf("Admit(aal1, %s) with MFA off = %v, want nil", a, err)
		}
	}
	if err := gated.Admit(aal1, ActionAuditRead); err != nil {
		t.Errorf("Admit(aal1, %s) with MFA required = %v, want nil (the audit read shows no key)", ActionAuditRead, err)
	}
}
