package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/auth/authtest"
)

// BenchmarkVerify measures the token check on the hot path: a Supabase
// access token verified against a JWKS fetched over HTTP (already loaded, as
// in a running server). ES256 is what Supabase issues today; RS256 and the
// legacy HS256 are there for comparison. "full" checks every token in full
// (JWT_CACHE_SIZE=0); "cached" is a seller's repeated request, found in the
// verified-token cache.
func BenchmarkVerify(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchmarkVerify(b, auth.NoTokenCache) })
	b.Run("cached", func(b *testing.B) { benchmarkVerify(b, 0) })
}

func benchmarkVerify(b *testing.B, cacheSize int) {
	iss := authtest.NewIssuer(b)
	ctx := context.Background()
	cfg := iss.Config()
	cfg.TokenCacheSize = cacheSize
	v, err := auth.New(ctx, cfg)
	if err != nil {
		b.Fatalf("auth.New: %v", err)
	}
	b.Cleanup(v.Close)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.Ready(rctx); err != nil {
		b.Fatalf("Ready: %v", err)
	}
	const userID, sessionID = "8d0a5b1e-4c3f-4e55-9f8a-2b6c7d8e9f01", "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b"
	for _, alg := range []string{"ES256", "RS256", "HS256"} {
		token := iss.Token(b, userID, sessionID, authtest.WithAlg(alg))
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatalf("Verify(%s token) = %v, want nil", alg, err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
