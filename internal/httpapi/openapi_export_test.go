package httpapi

import (
	"context"
	"net/http"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// ErrorTableRow is one row of the error table as a client sees it.
type ErrorTableRow struct {
	Status  int
	Message string
}

// ErrorTableRows returns the error table's answers, in order, so that the
// contract test in package httpapi_test can require a case for each.
func ErrorTableRows() []ErrorTableRow {
	rows := make([]ErrorTableRow, len(errorTable))
	for i, e := range errorTable {
		rows[i] = ErrorTableRow{Status: e.status, Message: e.message}
	}
	return rows
}

// RegisteredRoutes returns the patterns routes registers, in order, so that
// the contract test in package httpapi_test can hold them against
// api/openapi.yaml.
// Every optional route is on: the events route (with a token) and the stream
// status route.
func RegisteredRoutes() []string {
	var rec routeRecorder
	(&server{streamEvents: noStreams{}, streamViews: noStreams{}}).routes(&rec)
	return rec
}

// noStreams stands for the stream status ports where only the routes matter.
type noStreams struct{}

func (noStreams) Receive(context.Context, []byte) (streamstatus.Outcome, error) {
	return streamstatus.Irrelevant, nil
}

func (noStreams) View(context.Context, string) (streamstatus.View, error) {
	return streamstatus.View{Status: "unknown"}, nil
}

type routeRecorder []string

func (r *routeRecorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }
