package ivsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigV4 constants, as in AWS's "Create a signed AWS API request".
const (
	sigAlgorithm   = "AWS4-HMAC-SHA256"
	sigTerminator  = "aws4_request"
	sigService     = "ivs"
	amzDateFormat  = "20060102T150405Z"
	scopeDateForm  = "20060102"
	maxClockSkew   = 15 * time.Minute
	headerAmzDate  = "X-Amz-Date"
	headerAmzToken = "X-Amz-Security-Token"
)

// identity holds the one set of credentials the emulator accepts.
type identity struct {
	accessKeyID     string
	secretAccessKey string
	sessionToken    string
}

// verifySigV4 checks r's Authorization header against creds the way AWS
// does: it recomputes the canonical request from the received method, path,
// query, signed headers and body, derives the signing key and compares
// signatures in constant time. The body hash is computed here because the
// Go SDK does not send X-Amz-Content-Sha256, and computing it ourselves also
// catches a body altered after signing whatever that header says.
func verifySigV4(r *http.Request, body []byte, creds identity, region string, now time.Time) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return newError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algorithm, params, ok := strings.Cut(authz, " ")
	if !ok || algorithm != sigAlgorithm {
		return newError("IncompleteSignatureException", "Authorization header requires the %s algorithm", sigAlgorithm)
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
		return newError("IncompleteSignatureException",
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != sigTerminator {
		return newError("IncompleteSignatureException",
			"Credential must have the form <access key id>/<date>/<region>/<service>/%s", sigTerminator)
	}
	keyID, scopeDate, scopeRegion, scopeService := scope[0], scope[1], scope[2], scope[3]
	// Comparing the key ID in constant time costs nothing and leaks nothing
	// about which prefix of a guessed ID was right.
	if subtle.ConstantTimeCompare([]byte(keyID), []byte(creds.accessKeyID)) != 1 {
		return newError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}

	amzDate := r.Header.Get(headerAmzDate)
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return newError("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if scopeDate != signedAt.Format(scopeDateForm) {
		return newError("InvalidSignatureException",
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			sanitizeToken(scopeDate), signedAt.Format(scopeDateForm))
	}
	if scopeRegion != region {
		return newError("InvalidSignatureException", "Credential should be scoped to a valid region.")
	}
	if scopeService != sigService {
		return newError("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", sigService)
	}
	if d := now.Sub(signedAt); d > maxClockSkew || d < -maxClockSkew {
		return newError("InvalidSignatureException",
			"Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}

	headers := strings.Split(signedHeaders, ";")
	if !slices.IsSorted(headers) || !slices.Contains(headers, "host") || !slices.Contains(headers, "x-amz-date") {
		return newError("InvalidSignatureException", "SignedHeaders must be sorted and include 'host' and 'x-amz-date'.")
	}
	// A session token must be signed: an unsigned one could be swapped by
	// anyone on the path.
	token, hasToken := r.Header[headerAmzToken]
	if hasToken && !slices.Contains(headers, "x-amz-security-token") {
		return newError("InvalidSignatureException", "'X-Amz-Security-Token' must be a signed header.")
	}
	switch {
	case creds.sessionToken == "" && hasToken,
		creds.sessionToken != "" && (len(token) != 1 ||
			subtle.ConstantTimeCompare([]byte(token[0]), []byte(creds.sessionToken)) != 1):
		return newError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}

	want, err := hex.DecodeString(signature)
	if err != nil || len(want) != sha256.Size {
		return signatureMismatch()
	}
	credScope := scopeDate + "/" + scopeRegion + "/" + scopeService + "/" + sigTerminator
	canonical := canonicalRequest(r, headers, body)
	stringToSign := sigAlgorithm + "\n" + amzDate + "\n" + credScope + "\n" + hexSHA256([]byte(canonical))
	key := signingKey(creds.secretAccessKey, scopeDate, scopeRegion, scopeService)
	if !hmac.Equal(hmacSHA256(key, []byte(stringToSign)), want) {
		return signatureMismatch()
	}
	return nil
}

func signatureMismatch() *apiError {
	return newError("InvalidSignatureException",
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
	return hmacSHA256(k, []byte(sigTerminator))
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

// sanitizeToken returns s if it is short and plain, else a placeholder, so a
// client-chosen string echoed in a message cannot smuggle anything.
func sanitizeToken(s string) string {
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
