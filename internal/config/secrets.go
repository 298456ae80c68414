package config

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// The suffixes of the variables that give a secret variable X by reference
// instead of by value: X_FILE names a file holding it (the Docker and
// Kubernetes convention), X_SECRET_ARN an AWS Secrets Manager secret.
const (
	FileSuffix      = "_FILE"
	SecretARNSuffix = "_SECRET_ARN"
)

// MaxSecretFileBytes bounds a secret read from a file: Secrets Manager's own
// limit, far above any secret of ours, and a stop for a path that names
// something else (a log, a device).
const MaxSecretFileBytes = 64 << 10

// Sourced reports whether the variable also accepts X_FILE and
// X_SECRET_ARN: every secret but the AWS credentials. Why not those: the
// SDK's credential chain reads them (and files, profiles, roles) itself, and
// reading a secret from AWS needs credentials first.
func (v Var) Sourced() bool { return v.Secret && v.Group != GroupAWS }

// Sources are where LoadFrom reads the secrets given by reference; a nil
// field leaves that kind unread (see Load). They are the only I/O of
// loading: internal/app supplies the real ones.
type Sources struct {
	// ReadFile returns the content of the file at path (an X_FILE), or at
	// least its first MaxSecretFileBytes+1 bytes.
	ReadFile func(path string) ([]byte, error)
	// SecretValue returns the value of the Secrets Manager secret ref.ARN
	// (an X_SECRET_ARN, in ref.Region): its SecretString, or its
	// SecretBinary as UTF-8 text. ref.Field is LoadFrom's business. Its
	// errors must not carry the value.
	SecretValue func(ctx context.Context, ref SecretRef) (string, error)
}

// SecretRef is an X_SECRET_ARN: a Secrets Manager secret's ARN, and
// optionally a field of the JSON object it holds (arn#field).
type SecretRef struct {
	// ARN is the secret's ARN, without #field.
	ARN string
	// Region is the ARN's region, where the secret is read.
	Region string
	// Field names the member of the secret's JSON object that is the
	// value; "" for the whole secret.
	Field string
}

// String is the reference as written: ARN, or ARN#field.
func (r SecretRef) String() string {
	if r.Field == "" {
		return r.ARN
	}
	return r.ARN + "#" + r.Field
}

// secretARNPattern is a Secrets Manager secret's ARN in any partition; the
// secret's name part may be partial (without the 6-character suffix).
var secretARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-[0-9]+):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`)

// ParseSecretRef parses an X_SECRET_ARN value: a secret's ARN, with
// #field to take one member of a JSON secret. Secret names cannot hold
// '#', so the first one starts the field.
func ParseSecretRef(s string) (SecretRef, error) {
	arn, field, hasField := strings.Cut(s, "#")
	m := secretARNPattern.FindStringSubmatch(arn)
	switch {
	case m == nil:
		return SecretRef{}, fmt.Errorf("%q is not a Secrets Manager secret ARN such as "+
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:ivs-ingest-AbCdEf (add #field for a field of a JSON secret)", s)
	case hasField && field == "":
		return SecretRef{}, fmt.Errorf("%q names no field after '#'", s)
	}
	return SecretRef{ARN: arn, Region: m[1], Field: field}, nil
}

// OriginKind is where a secret variable's value came from.
type OriginKind int

// The kinds of origin.
const (
	// OriginUnset: no value was given.
	OriginUnset OriginKind = iota
	// OriginEnv: the variable itself.
	OriginEnv
	// OriginFile: X_FILE.
	OriginFile
	// OriginSecretsManager: X_SECRET_ARN.
	OriginSecretsManager
)

// Origin says where a secret variable's value came from, for doctor and
// --print-config: never the value, only the variable set and what it names.
type Origin struct {
	Kind OriginKind
	// Var is the variable that was set: X, X_FILE or X_SECRET_ARN.
	Var string
	// Ref is the file's path, or the secret's ARN (with #field); "" for the
	// environment.
	Ref string
	// Read is false for a reference Load left unread (see Load).
	Read bool
}

func (o Origin) String() string {
	switch o.Kind {
	case OriginEnv:
		return "from the environment"
	case OriginFile:
		return "from file " + o.Ref + " (" + o.Var + ")"
	case OriginSecretsManager:
		return "from Secrets Manager " + o.Ref + " (" + o.Var + ")"
	}
	return "unset"
}

// Origin returns where the secret variable name came from; OriginUnset for
// a variable that was not given or is not a Sourced secret.
func (c Config) Origin(name string) Origin { return c.Origins[name] }

// secretReader resolves the Sourced secrets for one load, reading each
// Secrets Manager secret once however many variables name it.
type secretReader struct {
	ctx    context.Context
	src    Sources
	values map[string]secretResult // by ARN
}

type secretResult struct {
	value string
	err   error
}

// resolveSecrets works out, for every Sourced variable, which of X, X_FILE
// and X_SECRET_ARN gives it, reads the referenced ones through src, and
// returns the getenv the table's loads read (X answers the value read) and
// each variable's origin. Problems are recorded on l under X's name.
func (l *loader) resolveSecrets(ctx context.Context, src Sources) (func(string) string, map[string]Origin) {
	getenv := l.getenv
	resolved := map[string]string{}
	origins := map[string]Origin{}
	r := &secretReader{ctx: ctx, src: src, values: map[string]secretResult{}}
	for i := range table {
		v := &table[i]
		if !v.Sourced() {
			continue
		}
		l.v = v
		var given []Origin
		for _, o := range []Origin{
			{Kind: OriginEnv, Var: v.Name},
			{Kind: OriginFile, Var: v.Name + FileSuffix},
			{Kind: OriginSecretsManager, Var: v.Name + SecretARNSuffix},
		} {
			s := strings.TrimSpace(getenv(o.Var))
			if s == "" {
				continue
			}
			if o.Kind != OriginEnv {
				o.Ref = s
			}
			o.Read = o.Kind == OriginEnv
			given = append(given, o)
		}
		switch len(given) {
		case 0:
			continue
		case 1:
		default:
			names := make([]string, len(given))
			for j, o := range given {
				names[j] = o.Var
			}
			// Which one wins would be a guess: refuse, naming the
			// variables, never a value.
			l.fail(fmt.Sprintf("given %d ways, by %s: set only one", len(given), strings.Join(names, " and ")))
			given[0].Read = false
			origins[v.Name] = given[0]
			resolved[v.Name] = ""
			continue
		}
		o := given[0]
		origins[v.Name] = o
		if o.Kind == OriginEnv {
			continue
		}
		resolved[v.Name] = "" // unless read below
		value, read, err := r.read(o)
		if err != nil {
			l.failErr(o.Var+": "+err.Error(), err)
			continue
		}
		o.Read = read
		origins[v.Name] = o
		resolved[v.Name] = value
	}
	l.origins = origins
	return func(k string) string {
		if s, ok := resolved[k]; ok {
			return s
		}
		return getenv(k)
	}, origins
}

// read reads the value o refers to. It reports false, and no error, when
// the Sources cannot read that kind. Its errors name the path or ARN, never
// the value.
func (r *secretReader) read(o Origin) (string, bool, error) {
	switch o.Kind {
	case OriginFile:
		if r.src.ReadFile == nil {
			return "", false, nil
		}
		b, err := r.src.ReadFile(o.Ref)
		switch {
		case err != nil:
			return "", false, fmt.Errorf("cannot read the file: %w", err)
		case len(b) > MaxSecretFileBytes:
			return "", false, fmt.Errorf("%s is larger than %d KiB: is it the secret's file?", o.Ref, MaxSecretFileBytes>>10)
		}
		// One trailing newline, as editors and `echo` leave it; a second
		// one, or spaces, would be part of the value on purpose.
		s := strings.TrimSuffix(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			return "", false, fmt.Errorf("%s is empty", o.Ref)
		}
		return s, true, nil
	case OriginSecretsManager:
		ref, err := ParseSecretRef(o.Ref)
		if err != nil {
			return "", false, err
		}
		if r.src.SecretValue == nil {
			return "", false, nil
		}
		res, ok := r.values[ref.ARN]
		if !ok {
			res.value, res.err = r.src.SecretValue(r.ctx, ref)
			r.values[ref.ARN] = res
		}
		if res.err != nil {
			return "", false, fmt.Errorf("%s: %w", ref.ARN, res.err)
		}
		s, err := field(res.value, ref)
		if err != nil {
			return "", false, err
		}
		if s == "" {
			return "", false, fmt.Errorf("%s is empty", ref)
		}
		return s, true, nil
	}
	return "", false, nil
}

// field returns the value ref names in the secret value: all of it, or its
// JSON object's member ref.Field, which must be a string. Why no parser
// message: encoding/json's quote the offending character of the value.
func field(value string, ref SecretRef) (string, error) {
	if ref.Field == "" {
		return value, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &obj); err != nil || obj == nil {
		return "", fmt.Errorf("%s does not hold a JSON object, so it has no field %q: give the ARN without #%s for its whole value",
			ref.ARN, ref.Field, ref.Field)
	}
	raw, ok := obj[ref.Field]
	if !ok {
		return "", fmt.Errorf("%s has no field %q", ref.ARN, ref.Field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %q of %s is not a JSON string", ref.Field, ref.ARN)
	}
	return s, nil
}
