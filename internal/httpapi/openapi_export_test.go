package httpapi

import "net/http"

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
func RegisteredRoutes() []string {
	var rec routeRecorder
	(&server{}).routes(&rec)
	return rec
}

type routeRecorder []string

func (r *routeRecorder) Handle(pattern string, _ http.Handler) { *r = append(*r, pattern) }
