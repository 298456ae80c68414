package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the table of variables in markdown, as
// docs/configuration.md shows it between its config-table markers: name,
// default, whether it is secret, and what it does.
func WriteTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| variable | default | secret | meaning |\n|---|---|---|---|\n")
	for _, v := range table {
		def := v.DefaultDoc
		switch {
		case def != "":
		case v.Default != "":
			def = "`" + v.Default + "`"
		default:
			def = "(unset)"
		}
		secret := ""
		switch {
		case v.Sourced():
			secret = "yes (or `_FILE`, `_SECRET_ARN`)"
		case v.Secret:
			secret = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, def, secret, v.Doc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
