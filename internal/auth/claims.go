package auth

import "github.com/golang-jwt/jwt/v5"

// supabaseClaims are the claims of a Supabase access token that authorization
// depends on. iss, aud, exp, nbf and iat are checked by the parser's options;
// Validate checks the rest.
type supabaseClaims struct {
	jwt.RegisteredClaims
	Role        string `json:"role"`
	SessionID   string `json:"session_id"`
	IsAnonymous bool   `json:"is_anonymous"`
	// AAL is the authenticator assurance level, "aal1" or "aal2"; Supabase
	// Auth puts it in every token, whatever its algorithm.
	AAL string `json:"aal"`
}

// defaultAAL is the level of a token without the aal claim: one factor.
const defaultAAL = "aal1"

// aal is the token's assurance level, defaultAAL when it has none.
func (c supabaseClaims) aal() string {
	if c.AAL == "" {
		return defaultAAL
	}
	return c.AAL
}

// claimError is a fixed reason; it never quotes a claim's value.
type claimError string

func (e claimError) Error() string { return string(e) }

// Validate implements jwt.ClaimsValidator; the parser calls it after the
// signature and the registered claims have been checked.
func (c supabaseClaims) Validate() error {
	switch {
	// Refuses the anon and service_role API keys, which are validly signed
	// with the same secret as legacy user tokens.
	case c.Role != "authenticated":
		return claimError("role is not authenticated")
	case c.Subject == "":
		return claimError("missing sub")
	case !isUUID(c.Subject):
		return claimError("sub is not a uuid")
	case c.SessionID != "" && !isUUID(c.SessionID):
		return claimError("session_id is not a uuid")
	// Anonymous sign-ins get role authenticated too, but are not users.
	case c.IsAnonymous:
		return claimError("anonymous user")
	}
	return nil
}

// isUUID reports whether s is a UUID in canonical 8-4-4-4-12 hex form, in
// either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
