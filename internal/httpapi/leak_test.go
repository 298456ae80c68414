package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// TestNoSecretReachesTheLogs drives every path of the service with debug
// logging and checks that no stream key, token, AWS secret, JWT secret or
// database password appears in the log or in any answer but the one meant
// to carry it.
func TestNoSecretReachesTheLogs(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Supabase: true})
	const dbPassword = "db-Pa55word-NEVER-LOGGED"
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", dbPassword) // the test cluster trusts local connections
	svc := start(t, env, map[string]string{"DATABASE_URL": u.String(), "STREAM_KEY_CACHE_TTL": "0"})

	owner := env.Seller(t, "approved")
	show := env.Show(t, owner, true)
	pending := env.Seller(t, "pending")
	pendingShow := env.Show(t, pending, true)
	admin := env.Admin(t)
	goneShow := env.Show(t, owner, true)
	failingShow := env.Show(t, owner, true)

	var secrets []string // every value that must not be logged
	var keys, passphrases []string
	token := func(u testenv.User, opts ...authtest.Option) string {
		tok := env.Token(t, u, opts...)
		secrets = append(secrets, tok)
		return tok
	}
	send := func(tok, body string, header map[string]string) response {
		r := call(t, http.MethodPost, svc.URL+path, tok, body, header)
		if k, ok := r.Body["streamKey"].(string); ok {
			keys = append(keys, k)
		}
		if srt, ok := r.Body["srtUrl"].(string); ok {
			if u, err := url.Parse(srt); err == nil {
				passphrases = append(passphrases, u.Query().Get("passphrase"))
			}
		}
		return r
	}
	body := func(id string) string { return `{"showId":"` + id + `"}` }

	send(token(owner), body(show.ID), nil)                            // create
	send(token(owner), body(show.ID), nil)                            // read again
	send(token(owner, authtest.WithAlg("HS256")), body(show.ID), nil) // legacy token
	send(token(owner, authtest.WithExpiry(-time.Hour)), body(show.ID), nil)
	send(token(owner, authtest.WithClaims(map[string]any{"is_anonymous": true})), body(show.ID), nil)
	send(token(owner, authtest.WithKID("unknown")), body(show.ID), nil)
	send(env.Issuer.LegacyAPIKey(t, "service_role"), body(show.ID), nil)
	secrets = append(secrets, env.Issuer.LegacyAPIKey(t, "service_role"))
	send(token(owner), `{"showId": 7}`, nil)
	send(token(owner), `not json`, nil)
	send(token(owner), body(show.ID), map[string]string{"X-Impersonate-Seller-Id": pending.SellerID})
	send(token(pending), body(pendingShow.ID), nil)
	send(token(admin), body(pendingShow.ID), map[string]string{"X-Impersonate-Seller-Id": pending.SellerID})
	send(token(owner), body(testenv.NewID(t)), nil)
	send(token(owner), body(pendingShow.ID), nil)
	if _, err := env.IVS.DeleteChannel(context.Background(), &ivs.DeleteChannelInput{Arn: aws.String(goneShow.ChannelARN)}); err != nil {
		t.Fatal(err)
	}
	send(token(owner), body(goneShow.ID), nil)
	env.Emulator.Fail("CreateStreamKey", "AccessDeniedException")
	send(token(owner), body(failingShow.ID), nil)
	env.Emulator.ClearFailures()
	deleteKeyInAWS(t, env, show.ID)
	send(token(owner), body(show.ID), nil) // replaced
	send(token(admin), body(show.ID), map[string]string{"X-Impersonate-Seller-Id": testenv.NewID(t)})
	keep := func(r response) {
		if k, ok := r.Body["streamKey"].(string); ok {
			keys = append(keys, k)
		}
	}
	keep(call(t, http.MethodPost, svc.URL+rotatePath, token(owner), body(show.ID), nil))
	call(t, http.MethodPost, svc.URL+revokePath, token(owner), `{"showId":"`+show.ID+`","reason":"leak drill"}`, nil)
	call(t, http.MethodGet, svc.URL+auditPath+"?showId="+show.ID, token(owner), "", nil)
	send(token(owner), body(show.ID), nil)                                                                    // a fresh key after the revocation
	call(t, http.MethodPost, svc.URL+path, token(owner), `{"showId":"`+strings.Repeat("x", 70<<10)+`"}`, nil) // 413
	call(t, http.MethodGet, svc.URL+path, token(owner), "", nil)                                              // 405
	call(t, http.MethodPost, svc.URL+"/elsewhere", token(owner), body(show.ID), nil)                          // 404

	// A replica with a wrong AWS secret: IVS refuses its signatures.
	wrongSecret := start(t, env, map[string]string{"DATABASE_URL": u.String(), "AWS_SECRET_ACCESS_KEY": "wrong-secret-" + testenv.SecretAccessKey})
	secrets = append(secrets, "wrong-secret-"+testenv.SecretAccessKey)
	if r := call(t, http.MethodPost, wrongSecret.URL+path, token(owner), body(failingShow.ID), nil); r.Status != 500 {
		t.Errorf("request signed with a wrong AWS secret = %s, want 500", r)
	}

	// A replica started while the JWKS is down.
	env.Issuer.SetDown(true)
	jwksDown := start(t, env, map[string]string{"DATABASE_URL": u.String()})
	if r := call(t, http.MethodPost, jwksDown.URL+path, token(owner), body(show.ID), nil); r.Status != 503 {
		t.Errorf("request while the JWKS is down = %s, want 503", r)
	}
	env.Issuer.SetDown(false)

	signedOut := token(owner)
	env.SignOut(t, owner)
	send(signedOut, body(show.ID), nil)

	if len(keys) < 3 {
		t.Fatalf("the run handed out %d keys, want at least 3 (create, read, replace): the test would check nothing", len(keys))
	}
	secrets = append(secrets, keys...)
	if len(passphrases) == 0 {
		t.Fatal("no answer carried an SRT passphrase: the test would not check them")
	}
	secrets = append(secrets, passphrases...)
	secrets = append(secrets, testenv.SecretAccessKey, env.Issuer.HS256Secret(), dbPassword)
	for _, k := range keys {
		// The distinctive tail of a key must not appear either.
		secrets = append(secrets, k[len(k)-20:])
	}
	for _, tok := range secrets[:len(secrets)-len(keys)] {
		if parts := strings.Split(tok, "."); len(parts) == 3 {
			secrets = append(secrets, parts[2]) // a signature alone is still a leak
		}
	}

	logs := svc.logs.String() + wrongSecret.logs.String() + jwksDown.logs.String()
	if !strings.Contains(logs, `"level":"DEBUG"`) && !strings.Contains(logs, `"level":"INFO"`) {
		t.Fatalf("no log lines were captured: the test would check nothing")
	}
	for i, s := range secrets {
		if strings.Contains(logs, s) {
			// Say which, never what: test output must not carry it either.
			t.Errorf("the log contains secret #%d of %d (%d chars)", i, len(secrets), len(s))
		}
	}
}
