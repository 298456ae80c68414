package httpapi

import (
	"encoding/json"
	"errors"
	"testing"
)

// reasonOf keeps text in any script, right-to-left included, and refuses
// the characters that forge lines or make text display as other text.
func TestReasonOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		json string // the reason field, as JSON
		want string // "" with ok false: refused
		ok   bool
	}{
		{`"key pasted in a public chat"`, "key pasted in a public chat", true},
		{`"  trimmed\t"`, "", false}, // a tab is a control character
		{`"  trimmed  "`, "trimmed", true},
		{`"clé publiée — 鍵が漏れました"`, "clé publiée — 鍵が漏れました", true},
		{`"המפתח דלף בצ'אט"`, "המפתח דלף בצ'אט", true}, // right-to-left by its letters, no override
		{`"leaked 🔑"`, "leaked 🔑", true},
		{`null`, "", true},
		{`"a\nforged row"`, "", false},
		{`"a\u0085b"`, "", false}, // C1 next line
		{`"evil\u202egnp.exe"`, "", false},
		{`"a\u202ab"`, "", false},
		{`"a\u2066b\u2069"`, "", false},
		{`"a\u200bb"`, "", false},
		{`"a\u200db"`, "", false},
		{`"\ufeffa"`, "", false},
		{`"a\u2029b"`, "", false},
		{`"a\u061cb"`, "", false}, // Arabic letter mark, Cf
		{`42`, "", false},
	} {
		got, err := reasonOf(map[string]json.RawMessage{"reason": json.RawMessage(tt.json)})
		if tt.ok && (err != nil || got != tt.want) || !tt.ok && !errors.Is(err, errBadReason) {
			t.Errorf("reasonOf(%s) = %q, %v; want %q, ok %v", tt.json, got, err, tt.want, tt.ok)
		}
	}
}
