package app_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres/pgtest"
	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The assembled service calls each channel's region, signed for it, and
// keeps a call schedule per region in PostgreSQL: AWS_REGION's in the
// default bucket, any other region's in a row of its own.
func TestDomainCallsEachChannelsRegion(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	west, err := ivsemu.New(ivsemu.Config{Region: "eu-west-1", AccessKeyID: testenv.AccessKeyID, SecretAccessKey: testenv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ivsemu.Regions(env.Emulator, west)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	seller := env.Seller(t, "approved")
	east := env.Show(t, seller, true)
	ch, err := west.CreateChannel("west")
	if err != nil {
		t.Fatal(err)
	}
	westShow := testenv.NewID(t)
	pgtest.Exec(t, env.DatabaseURL, `INSERT INTO public.shows (id, seller_id, ivs_channel_arn) VALUES ($1, $2, $3)`,
		westShow, seller.SellerID, ch.ARN)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := app.OpenDomain(ctx, load(t, env.Getenv(map[string]string{"AWS_ENDPOINT_URL_IVS": srv.URL})), discard)
	if err != nil {
		t.Fatalf("OpenDomain: %v", err)
	}
	defer d.Close()
	res, err := d.Service.Provision(ctx, []string{east.ID, westShow}, ingest.BatchOptions{})
	if err != nil || res.Failed != 0 {
		t.Fatalf("Provision = %+v, %v; want no failure", res, err)
	}
	for name, emu := range map[string]*ivsemu.Emulator{"us-east-1": env.Emulator, "eu-west-1": west} {
		if got := emu.Succeeded("GetChannel"); got != 1 {
			t.Errorf("%s's emulator answered %d GetChannel calls, want 1: its own show's", name, got)
		}
	}

	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT bucket FROM ivs_ingest.ivs_call_budget ORDER BY bucket`)
	if err != nil {
		t.Fatal(err)
	}
	buckets, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "eu-west-1"}; !slices.Equal(buckets, want) {
		t.Errorf("call schedules = %q, want %q (AWS_REGION's default bucket and eu-west-1's)", buckets, want)
	}
}
