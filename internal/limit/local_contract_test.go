package limit_test

import (
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/limit"
	"github.com/ivs-ingest/ivs-ingest/internal/limit/limittest"
)

func TestLocalContract(t *testing.T) {
	t.Parallel()
	limittest.Run(t, limit.NewLocal(), "")
}
