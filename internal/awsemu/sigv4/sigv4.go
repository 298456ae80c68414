// Package sigv4 verifies AWS Signature Version 4 on requests received by the
// repository's AWS emulators (ivsemu, kmsemu), the way AWS's front end does
// before a request reaches a service. It has no third-party dependencies, so
// the emulators stay free of them too.
//
// Verify answers the error name and message AWS would send; each emulator
// maps the name to the HTTP status its protocol uses (restJson1 IVS answers
// 403, AWS JSON 1.1 KMS answers 400).
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigV4 constants, as in AWS's "Create a signed AWS API request".
const (
	algorithm      = "AWS4-HMAC-SHA256"
	terminator     = "aws4_request"
	amzDateFormat  = "20060102T150405Z"
	scopeDateForm  = "20060102"
	maxClockSkew   = 15 * time.Minute
	headerAmzDate  = "X-Amz-Date"
	headerAmzToken = "X-Amz-Security-Token"
)

// Error names Verify answers, as AWS names them.
const (
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	IncompleteSignature        = "IncompleteSignatureException"
	InvalidSignature           = "InvalidSignatureException"
	UnrecognizedClient         = "UnrecognizedClientException"
)

// Credentials are the one set of credentials an emulator accepts. Its
// String, GoString and LogValue redact the secret and the token.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must be sent (and signed) as
	// X-Amz-Security-Token; when empty, a request carrying one is refused.
	SessionToken string
}

// String implements fmt.Stringer with the secret and token redacted.
func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKeyID:%s SecretAccessKey:%s SessionToken:%s}",
		c.AccessKeyID, redact(c.SecretAccessKey), redact(c.SessionToken))
}

// GoString implements fmt.GoStringer, covering %#v.
func (c Credentials) GoString() string { return "sigv4.Credentials" + c.String() }

// LogValue implements slog.LogValuer.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", redact(c.SecretAccessKey)),
		slog.String("session_token", redact(c.SessionToken)),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// Error is a refused request: Code is one of the error names above and
// Message is AWS's message, safe to send (it quotes no client-chosen value
// other than a plain date).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Verify checks r's Authorization header against creds for service (e.g.
// "ivs", "kms") in region the way AWS does: it recomputes the canonical
// request from the received method, path, query, signed headers and body,
// derives the signing key and compares signatures in constant time. The body
// hash is computed here because the Go SDK does not send
// X-Amz-Content-Sha256 to these services, and computing it ourselves also
// catches a body altered after signing whatever that header says.
//
// It returns nil or an *Error.
func Verify(r *http.Request, body []byte, creds Credentials, service, region string, now time.Time) error {
	if err := verify(r, body, creds, service, region, now); err != nil {
		return err
	}
	return nil
}

func verify(r *http.Request, body []byte, creds Credentials, service, region string, now time.Time) *Error {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return newError(MissingAuthenticationToken, "Missing Authentication Token")
	}
	alg, params, ok := strings.Cut(authz, " ")
	if !ok || alg != algorithm {
		return newError(IncompleteSignature, "Authorization header requires the %s algorithm", algorithm)
	}
	var credential, signedHeaders, signature string
	for part := range strings.SplitSeq(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			signature = v
		}
	}
	if credential == "" || signedHeaders == "" || signature == "" {
		return newError(IncompleteSignature,
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != terminator {
		return newError(IncompleteSignature,
			"Credential must have the form <access key id>/<date>/<region>/<service>/%s", terminator)
	}
	keyID, scopeDate, scopeRegion, scopeService := scope[0], scope[1], scope[2], scope[3]
	// Comparing the key ID in constant time costs nothing and leaks nothing
	// about which prefix of a guessed ID was right.
	if subtle.ConstantTimeCompare([]byte(keyID), []byte(creds.AccessKeyID)) != 1 {
		return newError(UnrecognizedClient, "The security token included in the request is invalid.")
	}

	amzDate := r.Header.Get(headerAmzDate)
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return newError(IncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if scopeDate != signedAt.Format(scopeDateForm) {
		return newError(InvalidSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			sanitizeDate(scopeDate), signedAt.Format(scopeDateForm))
	}
	if scopeRegion != region {
		return newError(InvalidSignature, "Credential should be scoped to a valid region.")
	}
	if scopeService != service {
		return newError(InvalidSignature, "Credential should be scoped to correct service: '%s'.", service)
	}
	if d := now.Sub(signedAt); d > maxClockSkew || d < -maxClockSkew {
		return newError(InvalidSignature,
			"Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}

	headers := strings.Split(signedHeaders, ";")
	if !slices.IsSorted(headers) || !slices.Contains(headers, "host") || !slices.Contains(headers, "x-amz-date") {
		return newError(InvalidSignature, "SignedHeaders must be sorted and include 'host' and 'x-amz-date'.")
	}
	// A session token must be signed: an unsigned one could be swapped by
	// anyone on the path.
	token, hasToken := r.Header[headerAmzToken]
	if hasToken && !slices.Contains(headers, "x-amz-security-token") {
		return newError(InvalidSignature, "'X-Amz-Security-Token' must be a signed header.")
	}
	switch {
	case creds.SessionToken == "" && hasToken,
		creds.SessionToken != "" && (len(token) != 1 ||
			subtle.ConstantTimeCompare([]byte(token[0]), []byte(creds.SessionToken)) != 1):
		return newError(UnrecognizedClient, "The security token included in the request is invalid.")
	}

	want, err := hex.DecodeString(signature)
	if err != nil || len(want) != sha256.Size {
		return signatureMismatch()
	}
	credScope := scopeDate + "/" + scopeRegion + "/" + scopeService + "/" + terminator
	canonical := canonicalRequest(r, headers, body)
	stringToSign := algorithm + "\n" + amzDate + "\n" + credScope + "\n" + hexSHA256([]byte(canonical))
	key := signingKey(creds.SecretAccessKey, scopeDate, scopeRegion, scopeService)
	if !hmac.Equal(hmacSHA256(key, []byte(stringToSign)), want) {
		return signatureMismatch()
	}
	return nil
}

func signatureMismatch() *Error {
	return newError(InvalidSignature,
		"The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

// canonicalRequest builds the SigV4 canonical request from what was received.
func canonicalRequest(r *http.Request, signedHeaders []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Services other than S3 encode the already-escaped path once more.
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(hexSHA256(body))
	return b.String()
}

// canonicalHeaderValue returns the values of header name, trimmed, with runs
// of spaces collapsed, joined by commas. net/http moves Host out of the
// header map, and Content-Length may be known only as r.ContentLength.
func canonicalHeaderValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		values = []string{r.Host}
	case "content-length":
		values = r.Header.Values("Content-Length")
		if len(values) == 0 && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		values = r.Header.Values(name)
	}
	for i, v := range values {
		values[i] = collapseSpaces(strings.TrimSpace(v))
	}
	return strings.Join(values, ",")
}

// collapseSpaces replaces each run of spaces in s by one space.
func collapseSpaces(s string) string {
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// canonicalQuery encodes each name and value, then sorts the pairs, as SigV4
// requires (sorting happens after encoding).
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte except the RFC 3986 unreserved
// characters (and '/' unless encodeSlash).
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sanitizeDate returns s if it is short and all digits, else a placeholder,
// so a client-chosen string echoed in a message cannot smuggle anything.
func sanitizeDate(s string) string {
	if len(s) > 16 {
		return "(invalid)"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9') {
			return "(invalid)"
		}
	}
	return s
}
