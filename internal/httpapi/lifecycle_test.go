package httpapi_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/testenv"
)

// The domain's cases that were here (first creation and reuse, a key deleted
// in AWS, warm and cold caches, adoption, a moved show, a legacy endpoint)
// run over the SQLite store in internal/ingest's lifecycle_sqlite_test.go;
// exactly-once creation under concurrent first requests is the store
// contract's (internal/ingest/storetest). These helpers serve the wire tests.

// storedShow reads what the service recorded on a show's row.
func storedShow(t *testing.T, env *testenv.Env, showID string) (keyARN, endpoint string) {
	t.Helper()
	rows := queryStrings(t, env.DatabaseURL, `SELECT coalesce(ivs_stream_key_arn, ''), coalesce(ivs_ingest_endpoint, '') FROM public.shows WHERE id = '`+showID+`'`)
	return rows[0], rows[1]
}

// deleteKeyInAWS deletes the show's recorded key behind the service's back,
// as someone in the AWS console would, and returns its ARN.
func deleteKeyInAWS(t *testing.T, env *testenv.Env, showID string) string {
	t.Helper()
	arn, _ := storedShow(t, env, showID)
	if _, err := env.IVS.DeleteStreamKey(context.Background(), &ivs.DeleteStreamKeyInput{Arn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteStreamKey: %v", err)
	}
	return arn
}
