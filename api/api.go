// Package api holds the service's HTTP contract: the OpenAPI 3.1 description
// of every endpoint, error and header, embedded so that the binary serves
// exactly the file in the repository.
package api

import _ "embed"

// Spec is api/openapi.yaml, as the binary was built with it. Callers must
// not modify it.
//
//go:embed openapi.yaml
var Spec []byte
