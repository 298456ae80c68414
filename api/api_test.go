package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/ivs-ingest/ivs-ingest/api"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(api.Spec)
	if err != nil {
		t.Fatalf("libopenapi.NewDocument(api.Spec): %v", err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi version = %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("NewValidator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			msg := fmt.Sprintf("%s: %s", e.Message, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				msg += fmt.Sprintf("\n\t%s (line %d): %s", f.FieldPath, f.Line, f.Reason)
			}
			t.Errorf("ValidateDocument: %s", msg)
		}
	}
}

// The examples are for humans and generated clients: none may hold what looks
// like a real stream key.
func TestOpenAPIExamplesHoldNoRealLookingKey(t *testing.T) {
	t.Parallel()
	for i, line := range strings.Split(string(api.Spec), "\n") {
		if j := strings.Index(line, "sk_us-"); j >= 0 && !strings.Contains(line[j:], "EXAMPLE") {
			t.Errorf("api/openapi.yaml line %d holds a stream key that is not marked EXAMPLE: %s", i+1, strings.TrimSpace(line))
		}
	}
}
