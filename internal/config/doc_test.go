package config_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
)

// The table in docs/configuration.md is generated from the configuration
// table; after changing a variable, regenerate it with
//
//	go test ./internal/config -run TestConfigurationDoc -update
var update = flag.Bool("update", false, "rewrite the variable table in docs/configuration.md")

const (
	docFile    = "../../docs/configuration.md"
	beginTable = "<!-- BEGIN config-table -->\n"
	endTable   = "<!-- END config-table -->\n"
)

func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(doc, []byte(beginTable))
	current, after, ok2 := bytes.Cut(rest, []byte(endTable))
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the lines %q and %q around the variable table", filepath.Base(docFile), beginTable, endTable)
	}
	var want bytes.Buffer
	if err := config.WriteTable(&want); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(current, want.Bytes()) {
		return
	}
	if *update {
		// Cloned: before shares doc's array with after, which appending
		// to before in place would overwrite.
		out := append(append(append(append(bytes.Clone(before), beginTable...), want.Bytes()...), endTable...), after...)
		if err := os.WriteFile(docFile, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/configuration.md's variable table is stale; regenerate it with\n\tgo test ./internal/config -run TestConfigurationDoc -update")
}

// Every variable of the table is in the document, once, with its default.
func TestConfigurationDocNamesEveryVariable(t *testing.T) {
	var b strings.Builder
	if err := config.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars() {
		if n := strings.Count(b.String(), "| `"+v.Name+"` |"); n != 1 {
			t.Errorf("the table has %d rows for %s, want 1", n, v.Name)
		}
		if v.Doc == "" || (v.Default == "" && v.DefaultDoc == "" && !strings.Contains(b.String(), "| `"+v.Name+"` | (unset) |")) {
			t.Errorf("%s: no description, or no default shown", v.Name)
		}
	}
}
