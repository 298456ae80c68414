package secret

import (
	"net/url"
	"strings"
)

// RedactURL returns raw as logs, errors and printed configuration may show
// it: scheme://host[:port]/path. User info, query and fragment are where
// passwords and API keys hide (https://user:pw@host/...?apikey=sb_secret_...),
// so each is replaced by "[REDACTED]", which still tells the reader that the
// configured URL has one. A URL that does not parse, or whose opaque part
// could hold anything, is not shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme + ":")
	}
	if u.Opaque != "" {
		// "user:pw@host" parses as scheme "user" and opaque "pw@host".
		b.WriteString(redacted)
		return b.String()
	}
	if u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString(redacted + "@")
		}
		b.WriteString(u.Host)
	}
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + redacted)
	}
	if u.Fragment != "" || u.RawFragment != "" {
		b.WriteString("#" + redacted)
	}
	return b.String()
}
