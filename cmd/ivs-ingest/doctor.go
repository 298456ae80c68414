package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/auth"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/postgres"
	"github.com/ivs-ingest/ivs-ingest/internal/secret"
)

// errDoctorFailed makes `doctor` exit 1 when a check failed.
var errDoctorFailed = errors.New("doctor: checks failed")

// Check statuses. Only FAIL makes doctor exit non-zero: WARN is a working
// setup with a caveat, SKIP a check that could not run because one it needs
// failed (or was not asked for), INFO a fact to act on.
const (
	statusPass = "PASS"
	statusFail = "FAIL"
	statusWarn = "WARN"
	statusSkip = "SKIP"
	statusInfo = "INFO"
)

// The checks' names, in the order they run.
const (
	checkConfig   = "config"
	checkKeys     = "keys"
	checkDatabase = "database"
	checkColumns  = "columns"
	checkShared   = "shared"
	checkJWKS     = "jwks"
	checkIssuer   = "issuer"
	checkAWS      = "aws"
	checkChannel  = "channel"
	checkIAM      = "iam"
)

// checkLine is one line of doctor's report.
type checkLine struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// doctor checks, one by one, what `serve` needs, and records a line for
// each. Every detail it records is free of secrets: database URLs are reduced
// to user, host and database, other URLs show no user info, query or
// fragment (secret.RedactURL), and AWS credentials are named by their source
// and the last four characters of the access key ID.
type doctor struct {
	getenv  func(string) string
	timeout time.Duration // bounds each network check
	showID  string        // "" when --show was not given

	lines []checkLine
}

// add records a line. Its detail is kept on one line: some errors (pgx's
// connection errors) span several.
func (d *doctor) add(check, status, format string, args ...any) {
	detail := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	d.lines = append(d.lines, checkLine{Check: check, Status: status, Detail: detail})
}

// failed returns the checks that have a FAIL line, in order.
func (d *doctor) failed() []string {
	var names []string
	for _, l := range d.lines {
		if l.Status == statusFail && !slices.Contains(names, l.Check) {
			names = append(names, l.Check)
		}
	}
	return names
}

// cmdDoctor checks everything `serve` needs, a line each, and exits
// non-zero when something is broken.
func cmdDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", "doctor [--show <uuid>] [--timeout 10s] [--json] [--policy]", stderr)
	show := fs.String("show", "", "also read this show's IVS channel with GetChannel, which proves the AWS credentials work")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each network check")
	asJSON := fs.Bool("json", false, "print one JSON document instead of lines")
	policy := fs.Bool("policy", false, "also print the IAM policy the enabled features need")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	d := &doctor{getenv: getenv, timeout: *timeout}
	if *show != "" {
		id, ok := ingest.ParseID(*show)
		if !ok {
			return fmt.Errorf("%w: --show must be a UUID", errUsage)
		}
		d.showID = id
	}
	if err := d.print(stdout, *asJSON, *policy, d.run(ctx)); err != nil {
		return err
	}
	if failed := d.failed(); len(failed) > 0 {
		return fmt.Errorf("%w: %s", errDoctorFailed, strings.Join(failed, ", "))
	}
	return nil
}

// run runs every check and returns the IAM policy for the enabled
// features. A check that needs another one's result is skipped when
// that one failed; the others run whatever came before.
func (d *doctor) run(ctx context.Context) app.Policy {
	cfg, bad := d.checkConfig(ctx)
	d.checkKeys(cfg, bad)

	db := d.checkDatabase(ctx, cfg, bad)
	if db != nil {
		defer db.Close()
	}
	d.checkColumns(ctx, db)
	d.checkDataKey(ctx, cfg, db)
	d.checkShared(ctx, db)
	d.checkJWKS(ctx, cfg, bad)
	d.checkIssuer(ctx, cfg, bad)
	// The doctor's call spends the IVS call budget that every replica
	// shares, when the database that holds it is usable.
	var parts app.Parts
	if db != nil {
		parts = app.PostgresParts(db)
	}
	client, identity := d.checkAWS(ctx, cfg, bad, parts)
	d.checkChannel(ctx, cfg, db, client, identity)
	d.listIAM(cfg)
	return app.IAMPolicy(cfg)
}

// checkGroups are the configuration groups whose dependency each check
// reaches: the check needs the group's Reach variables valid.
var checkGroups = map[string]config.Group{
	checkDatabase: config.GroupDatabase,
	checkJWKS:     config.GroupAuth,
	checkIssuer:   config.GroupAuth,
	checkAWS:      config.GroupAWS,
}

// checkConfig loads the configuration as `serve` does, its secrets read
// from their files and Secrets Manager (each read bounded by --timeout), and
// reports each problem on a line of its own, then where each secret came
// from. It returns the variables that are wrong, so that the checks that
// need them are skipped.
func (d *doctor) checkConfig(ctx context.Context) (config.Config, map[string]bool) {
	cfg, err := config.LoadFrom(ctx, d.getenv, app.SecretSources(d.getenv, d.timeout))
	errs := flatten(err)
	errs = append(errs, flatten(cfg.RequireServe())...)
	bad := map[string]bool{}
	for _, e := range errs {
		if ve := (*config.VarError)(nil); errors.As(e, &ve) {
			bad[ve.Name] = true
		}
		d.add(checkConfig, statusFail, "%s", e.Error())
	}
	if len(errs) == 0 {
		d.add(checkConfig, statusPass, "every variable serve needs is set and valid")
	}
	for _, v := range config.Vars() {
		if o := cfg.Origin(v.Name); v.Sourced() && o.Kind != config.OriginUnset && !bad[v.Name] {
			d.add(checkConfig, statusInfo, "%s %s", v.Name, o)
		}
	}
	return cfg, bad
}

// checkKeys says whether a key store is configured: INFO when not, with
// what that costs, which never fails doctor (memory-only keys work).
func (d *doctor) checkKeys(cfg config.Config, bad map[string]bool) {
	if bad["STREAM_KEY_ENCRYPTION_KEY"] || bad["STREAM_KEY_ENCRYPTION_KEY_ID"] || bad["STREAM_KEY_DECRYPTION_KEYS"] {
		d.add(checkKeys, statusSkip, "skipped: needs valid STREAM_KEY_* master keys")
		return
	}
	current, retiring, ok, err := cfg.MasterKeys()
	switch {
	case cfg.StreamKeyKMSKeyID != "" && err == nil:
		d.add(checkKeys, statusInfo, "key store with AWS KMS key %q: its data key is checked once the database answers", cfg.StreamKeyKMSKeyID)
	case err != nil:
		d.add(checkKeys, statusFail, "%v", err)
	case !ok:
		d.add(checkKeys, statusInfo, "%s", app.NoKeyStore)
	default:
		d.add(checkKeys, statusPass, "key store: new values sealed under master key %q, %d retiring key(s) still open", current.ID, len(retiring))
	}
}

// checkDataKey checks the KMS option's data key: present in the database
// and unwrapped by KMS (one kms:Decrypt, as each process makes at start).
// It writes nothing: with no data key yet, the first replica to start
// makes it.
func (d *doctor) checkDataKey(ctx context.Context, cfg config.Config, db *postgres.DB) {
	if cfg.StreamKeyKMSKeyID == "" {
		return
	}
	if db == nil {
		d.add(checkKeys, statusSkip, "KMS data key: skipped, needs the database")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	rows, err := db.DataKeys(ctx)
	if err != nil {
		d.add(checkKeys, statusFail, "KMS data key: %v", err)
		return
	}
	if len(rows) == 0 {
		d.add(checkKeys, statusInfo, "KMS key %q: no data key stored yet; the first replica to start makes it (kms:GenerateDataKey)", cfg.StreamKeyKMSKeyID)
		return
	}
	w, err := app.KMS(ctx, cfg)
	if err != nil {
		d.add(checkKeys, statusFail, "KMS data key: %v", err)
		return
	}
	newest := rows[len(rows)-1]
	if _, err := w.Decrypt(ctx, newest.Wrapped, newest.KMSKeyID); err != nil {
		d.add(checkKeys, statusFail, "KMS key %q: data key %q present, unwrap failed: %v", cfg.StreamKeyKMSKeyID, newest.ID, err)
		return
	}
	d.add(checkKeys, statusPass, "KMS key %q: data key %q present (of %d), unwrap OK", cfg.StreamKeyKMSKeyID, newest.ID, len(rows))
}

// flatten lists the errors that errors.Join joined.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// needsConfig records a SKIP line for check when a variable it needs is
// wrong, and reports whether it did.
func (d *doctor) needsConfig(check string, bad map[string]bool) bool {
	var wrong []string
	for _, v := range config.Vars() {
		if v.Reach && v.Group == checkGroups[check] && bad[v.Name] {
			wrong = append(wrong, v.Name)
		}
	}
	if len(wrong) == 0 {
		return false
	}
	d.add(check, statusSkip, "skipped: needs a valid %s", strings.Join(wrong, " and "))
	return true
}

// checkDatabase connects as `serve` does and checks the schema version with
// serve's own check. It returns the open store, or nil when it failed.
func (d *doctor) checkDatabase(ctx context.Context, cfg config.Config, bad map[string]bool) *postgres.DB {
	if d.needsConfig(checkDatabase, bad) {
		return nil
	}
	target := postgres.Target(cfg.DatabaseURL.Reveal())
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	db, err := app.OpenPostgres(ctx, cfg, postgres.Options{MaxConns: 2, ConnectTimeout: d.timeout})
	if err != nil {
		cause, advice := postgres.Explain(err)
		if advice != "" {
			cause += ": " + advice
		}
		d.add(checkDatabase, statusFail, "%s: %s", target, cause)
		return nil
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		d.add(checkDatabase, statusFail, "%s reachable, but %v", target, err)
		return nil
	}
	v, err := db.CurrentSchemaVersion(ctx)
	switch {
	case err != nil:
		db.Close()
		d.add(checkDatabase, statusFail, "%s reachable, but %v", target, err)
		return nil
	case v > postgres.SchemaVersion:
		d.add(checkDatabase, statusPass, "%s reachable, schema %d (newer than this binary's %d: a newer release migrated it)", target, v, postgres.SchemaVersion)
	default:
		d.add(checkDatabase, statusPass, "%s reachable, schema %d (this binary's)", target, v)
	}
	d.add(checkDatabase, statusInfo, "%s", preparedStatementsLine(cfg.DatabasePreparedStatements))
	if !db.ChecksSessions() {
		d.add(checkDatabase, statusInfo, "no auth.sessions table: signing out will not revoke tokens before they expire (every Supabase database has one)")
	}
	return db
}

// preparedStatementsLine says whether statements are prepared, and when to
// change it: information, since the pooler's mode cannot be read from here.
func preparedStatementsLine(on bool) string {
	if on {
		return "prepared statements on (DATABASE_PREPARED_STATEMENTS=true): each statement is prepared once per connection; " +
			"this needs a direct or session-mode connection (port 5432), PgBouncer >= 1.21 with max_prepared_statements, " +
			"or Supavisor in session mode; behind a transaction-mode pooler (port 6543) set it to false"
	}
	return "prepared statements off (DATABASE_PREPARED_STATEMENTS=false): every statement is planned per request, which any pooler " +
		"passes; set it to true on a direct or session-mode connection (port 5432), PgBouncer >= 1.21 with max_prepared_statements, " +
		"or Supavisor in session mode, for less database CPU per request"
}

// showsTrigger names the trigger that protects public.shows, for the lines
// that tell the operator what to do about it.
const showsTrigger = "zz_ivs_ingest_protect_columns"

// checkColumns fails when Supabase's Data API roles can write what
// authorization rests on: a user who can set sellers.status approves
// themselves, one who can write user_roles makes themselves an admin, and a
// seller who can point shows.ivs_channel_arn at another seller's channel
// gets that seller's key (the trigger refuses the shows columns to them).
func (d *doctor) checkColumns(ctx context.Context, db *postgres.DB) {
	if db == nil {
		d.add(checkColumns, statusSkip, "skipped: needs database")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	e, err := db.Exposure(ctx)
	if err != nil {
		d.add(checkColumns, statusFail, "%v", err)
		return
	}
	if len(e.Roles) == 0 {
		d.add(checkColumns, statusPass, "no anon or authenticated role (not a Supabase database): no Data API to write through")
		return
	}
	for _, w := range e.Writes {
		target := w.Table
		if w.Column != "" {
			target += "." + w.Column
		}
		var why []string
		switch {
		case w.RLSOff:
			why = append(why, "row level security off")
		case w.RLSBypassed:
			why = append(why, "row level security does not apply to "+w.Role)
		case len(w.Policies) == 1:
			why = append(why, fmt.Sprintf("RLS policy %q", w.Policies[0]))
		default:
			quoted := make([]string, len(w.Policies))
			for i, p := range w.Policies {
				quoted[i] = fmt.Sprintf("%q", p)
			}
			why = append(why, "RLS policies "+strings.Join(quoted, ", "))
		}
		fix := "revoke the privilege or narrow the policy"
		if w.RLSOff {
			fix = "revoke the privilege or enable row level security"
		}
		if w.Table == "public.shows" {
			why = append(why, "trigger "+showsTrigger+" "+string(e.Guard))
			fix = guardFix(e.Guard)
		}
		d.add(checkColumns, statusFail, "%s can %s %s (%s): %s", w.Role, w.Command, target, strings.Join(why, "; "), fix)
	}
	if len(e.Writes) > 0 {
		return
	}
	roles := strings.Join(e.Roles, " and ")
	if e.Guard != postgres.GuardOn {
		d.add(checkColumns, statusWarn, "%s cannot write sellers.status, sellers.user_id, user_roles or shows' ivs_* and seller_id columns, "+
			"but trigger %s on public.shows is %s, so only the app's grants and policies keep them from the shows columns: %s",
			roles, showsTrigger, e.Guard, guardFix(e.Guard))
		return
	}
	d.add(checkColumns, statusPass, "%s cannot write sellers.status, sellers.user_id or user_roles, and trigger %s keeps them from shows' ivs_* and seller_id columns",
		roles, showsTrigger)
}

// guardFix says how to bring the shows trigger back.
func guardFix(g postgres.ShowsGuard) string {
	if g == postgres.GuardDisabled {
		return "ALTER TABLE public.shows ENABLE TRIGGER " + showsTrigger
	}
	return "re-create it by applying supabase/migrations/20261206100000_protect_show_columns.sql again"
}

// maxSharedListed bounds the channels checkShared lists one by one.
const maxSharedListed = 10

// checkShared warns about each channel that shows of different sellers
// name: the service refuses it to all of them, so that no seller gets
// another's key through a shared channel.
func (d *doctor) checkShared(ctx context.Context, db *postgres.DB) {
	if db == nil {
		d.add(checkShared, statusSkip, "skipped: needs database")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	channels, total, err := db.SharedChannels(ctx, maxSharedListed)
	if err != nil {
		d.add(checkShared, statusFail, "%v", err)
		return
	}
	if total == 0 {
		d.add(checkShared, statusPass, "no IVS channel is named by shows of two different sellers")
		return
	}
	for _, c := range channels {
		d.add(checkShared, statusWarn, "channel %s is named by shows of %d sellers (%d shows): get, rotate and revoke answer 403 "+
			"\"Channel is shared with another seller's show\" until one seller's shows name it", c.ARN, c.Sellers, c.Shows)
	}
	if more := total - len(channels); more > 0 {
		d.add(checkShared, statusWarn, "and %d more such channels (%d in all): SELECT ivs_channel_arn FROM public.shows "+
			"WHERE ivs_channel_arn <> '' GROUP BY 1 HAVING count(DISTINCT seller_id) > 1", more, total)
	}
}

// checkJWKS fetches the key set as the verifier does and counts the keys it
// would use. The legacy secret alone is enough to verify HS256 tokens.
func (d *doctor) checkJWKS(ctx context.Context, cfg config.Config, bad map[string]bool) {
	if d.needsConfig(checkJWKS, bad) {
		return
	}
	hasSecret := !cfg.JWTSecret.IsZero()
	if cfg.JWKSURL == "" {
		if hasSecret {
			d.add(checkJWKS, statusPass, "no JWKS URL; the legacy HS256 secret (SUPABASE_JWT_SECRET) is set, so HS256 tokens only")
		} else {
			d.add(checkJWKS, statusSkip, "skipped: needs SUPABASE_URL")
		}
		return
	}
	where := "GET " + secret.RedactURL(cfg.JWKSURL)
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	usable, skipped, err := auth.ProbeJWKS(ctx, cfg.JWKSURL, &http.Client{Timeout: d.timeout})
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		err = fmt.Errorf("no answer within %s (--timeout)", d.timeout)
	}
	skippedNote := ""
	if skipped > 0 {
		skippedNote = fmt.Sprintf(" (%d skipped: not a P-256 or 2048-bit RSA signature key with a kid)", skipped)
	}
	switch {
	case err != nil && hasSecret:
		d.add(checkJWKS, statusWarn, "%s: %v: only HS256 tokens (SUPABASE_JWT_SECRET) will verify; ES256 and RS256 tokens get 503 until it answers", where, err)
	case err != nil:
		d.add(checkJWKS, statusFail, "%s: %v: check SUPABASE_URL (or SUPABASE_JWKS_URL) and that the auth server is reachable from this host", where, err)
	case usable > 0 && hasSecret:
		d.add(checkJWKS, statusPass, "%s: %s%s; the legacy HS256 secret is set too", where, usableKeys(usable), skippedNote)
	case usable > 0:
		d.add(checkJWKS, statusPass, "%s: %s%s", where, usableKeys(usable), skippedNote)
	case hasSecret:
		d.add(checkJWKS, statusPass, "%s: no usable keys%s; the legacy HS256 secret (SUPABASE_JWT_SECRET) is set, so HS256 tokens only", where, skippedNote)
	default:
		d.add(checkJWKS, statusFail, "%s: no usable keys%s, and SUPABASE_JWT_SECRET is unset: no token can be verified; check SUPABASE_JWKS_URL or set the legacy secret", where, skippedNote)
	}
}

// checkIssuer compares the issuer tokens must carry (SUPABASE_JWT_ISSUER, or
// its default) with the one the auth server publishes in its OpenID
// discovery document: a wrong issuer refuses every token while the key set
// looks fine. Every place the document may be is asked at once; a document
// naming another issuer fails. An auth server that publishes none (older
// Supabase Auth, other servers) leaves the issuer unchecked, which is
// information, never a failure.
func (d *doctor) checkIssuer(ctx context.Context, cfg config.Config, bad map[string]bool) {
	if d.needsConfig(checkIssuer, bad) {
		return
	}
	if cfg.JWTIssuer == "" {
		d.add(checkIssuer, statusSkip, "skipped: needs SUPABASE_URL")
		return
	}
	urls := auth.DiscoveryURLs(cfg.JWTIssuer, cfg.SupabaseURL, cfg.JWKSURL)
	type answer struct {
		issuer string
		err    error
	}
	answers := make([]answer, len(urls))
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	client := &http.Client{Timeout: d.timeout}
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			iss, err := auth.ProbeIssuer(ctx, u, client)
			answers[i] = answer{iss, err}
		})
	}
	wg.Wait()

	want := secret.RedactURL(cfg.JWTIssuer)
	source := "the default, ${SUPABASE_URL}/auth/v1"
	if strings.TrimSpace(d.getenv("SUPABASE_JWT_ISSUER")) != "" {
		source = "SUPABASE_JWT_ISSUER"
	}
	var matched, unchecked []string
	mismatched := false
	for i, a := range answers {
		where := "GET " + secret.RedactURL(urls[i])
		switch {
		case a.err != nil:
			var netErr net.Error
			if errors.Is(a.err, context.DeadlineExceeded) || errors.As(a.err, &netErr) && netErr.Timeout() {
				a.err = fmt.Errorf("no answer within %s (--timeout)", d.timeout)
			}
			unchecked = append(unchecked, fmt.Sprintf("%s: %v", where, a.err))
		case a.issuer == cfg.JWTIssuer:
			matched = append(matched, where)
		default:
			mismatched = true
			published := secret.RedactURL(a.issuer)
			fix := "set SUPABASE_JWT_ISSUER=" + published
			if a.issuer == cfg.SupabaseURL+"/auth/v1" {
				fix = "unset SUPABASE_JWT_ISSUER: its default is that"
			}
			d.add(checkIssuer, statusFail, "%s: the auth server publishes issuer %q, but tokens must carry %q (%s), so every token "+
				"it issues is refused (401, issuer mismatch): %s", where, published, want, source, fix)
		}
	}
	switch {
	case mismatched:
	case len(matched) > 0:
		d.add(checkIssuer, statusPass, "%s: the auth server publishes issuer %q, the one tokens must carry", strings.Join(matched, ", "), want)
	default:
		// Information, not a failure: many working auth servers publish
		// no discovery document.
		d.add(checkIssuer, statusInfo, "issuer %q (%s) could not be checked: no OpenID discovery document (%s); "+
			"make sure it is the iss claim of your tokens", want, source, strings.Join(unchecked, "; "))
	}
}

func usableKeys(n int) string {
	if n == 1 {
		return "1 usable key"
	}
	return fmt.Sprintf("%d usable keys", n)
}

// checkAWS builds the IVS client as the service does and resolves its
// credentials through the same providers. It returns the client and the
// identity, or a nil client when no credentials resolve. Its call spends
// the budget in parts.Slots, shared with the replicas when set.
func (d *doctor) checkAWS(ctx context.Context, cfg config.Config, bad map[string]bool, parts app.Parts) (*ivs.Client, ivs.Identity) {
	if d.needsConfig(checkAWS, bad) {
		return nil, ivs.Identity{}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	client, err := app.IVS(ctx, cfg, app.IVSOptions{Budget: app.CallBudget(cfg, parts.Slots), AttemptTimeout: d.timeout})
	if err != nil {
		d.add(checkAWS, statusFail, "%v: fix the AWS configuration (AWS_PROFILE, AWS_CONFIG_FILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", err)
		return nil, ivs.Identity{}
	}
	id, err := client.Identity(ctx)
	if err != nil {
		d.add(checkAWS, statusFail, "no AWS credentials: %v: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the process a profile, web identity, container or instance role", err)
		return nil, ivs.Identity{}
	}
	endpoint := "AWS's"
	if cfg.AWSEndpointIVS != "" {
		endpoint = secret.RedactURL(cfg.AWSEndpointIVS)
	}
	d.add(checkAWS, statusPass, "credentials from %s, region %s, IVS endpoint %s", describeIdentity(cfg, id), cfg.AWSRegion, endpoint)
	return client, id
}

// describeIdentity says where the credentials come from, never the secret.
func describeIdentity(cfg config.Config, id ivs.Identity) string {
	var b strings.Builder
	if cfg.AWSAccessKeyID != "" {
		b.WriteString("static keys (AWS_ACCESS_KEY_ID")
		if !cfg.AWSSessionToken.IsZero() {
			b.WriteString(" with AWS_SESSION_TOKEN")
		}
		b.WriteString(")")
	} else {
		fmt.Fprintf(&b, "the SDK's default chain (%s)", id.Source)
	}
	if id.AccessKeyHint != "" {
		fmt.Fprintf(&b, ", access key ending %s", id.AccessKeyHint)
	}
	if !id.Expires.IsZero() {
		fmt.Fprintf(&b, ", temporary until %s", id.Expires.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// checkChannel reads the --show's channel with GetChannel through the
// service's IVS adapter: the one check that proves AWS accepts the
// credentials.
func (d *doctor) checkChannel(ctx context.Context, cfg config.Config, db *postgres.DB, client *ivs.Client, id ivs.Identity) {
	if d.showID == "" {
		d.add(checkChannel, statusSkip, "not checked: give --show <uuid> to read a show's channel with GetChannel, which proves AWS accepts the credentials")
		return
	}
	var missing []string
	if db == nil {
		missing = append(missing, checkDatabase)
	}
	if client == nil {
		missing = append(missing, checkAWS)
	}
	if len(missing) > 0 {
		d.add(checkChannel, statusSkip, "skipped: needs %s", strings.Join(missing, " and "))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	show, found, err := db.Show(ctx, d.showID)
	switch {
	case err != nil:
		d.add(checkChannel, statusFail, "show %s: %v", d.showID, err)
		return
	case !found:
		d.add(checkChannel, statusFail, "show %s not found in public.shows: check the id", d.showID)
		return
	case show.ChannelARN == "":
		d.add(checkChannel, statusFail, "show %s has no IVS channel (public.shows.ivs_channel_arn is empty): attach one", d.showID)
		return
	}
	ch, err := client.GetChannel(ctx, show.ChannelARN)
	if err != nil {
		d.add(checkChannel, statusFail, "show %s: GetChannel %s: %s", d.showID, show.ChannelARN, ivs.Explain(err, cfg.AWSRegion, id))
		return
	}
	d.add(checkChannel, statusPass, "show %s: GetChannel %s readable, ingest endpoint %s", d.showID, show.ChannelARN, ch.IngestEndpoint)
}

// listIAM lists the IVS actions each enabled feature needs; the doctor can
// only try GetChannel, so the others are listed, not tested.
func (d *doctor) listIAM(cfg config.Config) {
	d.add(checkIAM, statusInfo, "get-ivs-ingest and provision need %s", strings.Join(ivs.Actions(ivs.NeedKeys), ", "))
	d.add(checkIAM, statusInfo, "rotate-ivs-stream-key and revoke-ivs-stream-key also need %s", strings.Join(ivs.Actions(ivs.NeedRotation), ", "))
	expiry := strings.Join(ivs.Actions(ivs.NeedExpiry), ", ")
	if cfg.StreamKeyMaxAge > 0 {
		d.add(checkIAM, statusInfo, "key expiry (STREAM_KEY_MAX_AGE=%s) and rotate-expired also need %s", cfg.StreamKeyMaxAge, expiry)
	} else {
		d.add(checkIAM, statusInfo, "key expiry is off (STREAM_KEY_MAX_AGE unset), so %s is not needed", expiry)
	}
	d.add(checkIAM, statusInfo, "reconcile-streams also needs %s, on Resource \"*\" (it names no channel)", strings.Join(ivs.Actions(ivs.NeedStreamStatus), ", "))
	if arns := app.SecretARNs(cfg); len(arns) > 0 {
		d.add(checkIAM, statusInfo, "the secrets given as _SECRET_ARN need %s on %s (read at start: the config check tried it)",
			strings.Join(app.SecretActions(), ", "), strings.Join(arns, ", "))
	}
	d.add(checkIAM, statusInfo, "only ivs:GetChannel is tried (with --show); `ivs-ingest doctor --policy` prints the policy to attach")
}

func (d *doctor) print(w io.Writer, asJSON, withPolicy bool, policy app.Policy) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			OK     bool        `json:"ok"`
			Checks []checkLine `json:"checks"`
			Policy app.Policy  `json:"policy"`
		}{len(d.failed()) == 0, d.lines, policy})
	}
	for _, l := range d.lines {
		if _, err := fmt.Fprintf(w, "%-4s  %-8s  %s\n", l.Status, l.Check, l.Detail); err != nil {
			return err
		}
	}
	if withPolicy {
		b, err := json.MarshalIndent(policy, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nIAM policy for the enabled features:\n%s\n", b)
	}
	if failed := d.failed(); len(failed) > 0 {
		_, err := fmt.Fprintf(w, "\n%d of %d checks failed: %s\n", len(failed), d.checks(), strings.Join(failed, ", "))
		return err
	}
	_, err := fmt.Fprintf(w, "\nno check failed: serve has what it needs\n")
	return err
}

// checks counts the checks that ran or were skipped (the iam lines are
// information, not a check).
func (d *doctor) checks() int {
	var names []string
	for _, l := range d.lines {
		if l.Check != checkIAM && !slices.Contains(names, l.Check) {
			names = append(names, l.Check)
		}
	}
	return len(names)
}
