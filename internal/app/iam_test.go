package app_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ivs-ingest/ivs-ingest/internal/app"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
)

// repoRoot is the module's root, where go.mod is.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// iamActions are the IAM actions of each service the service calls, as
// documents name them (not an ARN's "ivs:us-east-1" or a wildcard), and the
// one list each must match.
var iamActions = []struct {
	service string
	pattern *regexp.Regexp
	list    []string
}{
	{"IVS", regexp.MustCompile(`\bivs:[A-Z][A-Za-z]+`), ivs.RequiredActions(true)},
	{"Secrets Manager", regexp.MustCompile(`\bsecretsmanager:[A-Z][A-Za-z]+`), app.SecretActions()},
	// Not the condition keys kms:EncryptionContext:<key>.
	{"KMS", regexp.MustCompile(`\b(kms:[A-Z][A-Za-z]+)(?:[^A-Za-z:]|$)`), app.KMSActions()},
}

// TestOneIAMActionList checks the Lambda template and every markdown file
// of the repository that names IVS or Secrets Manager actions against the
// one list of each, ivs.RequiredActions and app.SecretActions: each must
// name exactly those actions, no fewer (an AccessDenied in production) and
// no more (a needless grant). The files are found by what they say, not by
// name, so the check follows the documentation wherever it moves.
func TestOneIAMActionList(t *testing.T) {
	t.Parallel()
	for _, s := range iamActions {
		checkActionList(t, s.service, s.pattern, s.list)
	}
}

func checkActionList(t *testing.T, service string, iamAction *regexp.Regexp, list []string) {
	root := repoRoot(t)
	want := slices.Clone(list)
	slices.Sort(want)
	files := []string{filepath.Join(root, "deploy", "lambda", "template.yaml")}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, m := range iamAction.FindAllStringSubmatch(string(b), -1) {
			found = append(found, m[len(m)-1]) // the action: the pattern's group, if it has one
		}
		named := slices.Compact(slices.Sorted(slices.Values(found)))
		rel, _ := filepath.Rel(root, f)
		if len(named) == 0 {
			if strings.HasSuffix(f, "template.yaml") {
				t.Errorf("%s names no %s action, want the role's policy to grant %v", rel, service, want)
			}
			continue
		}
		checked++
		if diff := cmp.Diff(want, named); diff != "" {
			t.Errorf("%s names other %s actions than its one list (-list +%s):\n%s", rel, service, rel, diff)
		}
	}
	if checked < 2 {
		t.Errorf("%d files name %s actions, want the Lambda template and the documentation's IAM policy at least", checked, service)
	}
}

func TestIAMPolicy(t *testing.T) {
	t.Parallel()
	cfg := config.Config{AWSRegion: "eu-west-1"}
	listStreams := app.PolicyStatement{Effect: "Allow", Action: []string{"ivs:ListStreams"}, Resource: []string{"*"}}
	want := app.Policy{Version: "2012-10-17", Statement: []app.PolicyStatement{{
		Effect:   "Allow",
		Action:   ivs.ResourceActions(false),
		Resource: []string{"arn:aws:ivs:eu-west-1:*:channel/*", "arn:aws:ivs:eu-west-1:*:stream-key/*"},
	}, listStreams}}
	if diff := cmp.Diff(want, app.IAMPolicy(cfg)); diff != "" {
		t.Errorf("IAMPolicy(no key expiry) (-want +got):\n%s", diff)
	}
	cfg.StreamKeyMaxAge = 720 * time.Hour
	if got := app.IAMPolicy(cfg).Statement[0].Action; !slices.Equal(got, ivs.ResourceActions(true)) {
		t.Errorf("IAMPolicy(key expiry).Action = %v, want %v", got, ivs.ResourceActions(true))
	}
	// Every action of the one list is granted, each where it applies.
	var granted []string
	for _, st := range app.IAMPolicy(cfg).Statement {
		granted = append(granted, st.Action...)
	}
	if !slices.Equal(granted, ivs.RequiredActions(true)) {
		t.Errorf("IAMPolicy grants %v, want the one list %v", granted, ivs.RequiredActions(true))
	}

	// The events queue: its three actions on its ARN only.
	cfg.EventsQueueURL, cfg.EventsQueueRegion = "https://sqs.eu-west-1.amazonaws.com/123456789012/ivs-events", "eu-west-1"
	p := app.IAMPolicy(cfg)
	queue := app.PolicyStatement{Effect: "Allow", Action: ivs.QueueActions(), Resource: []string{"arn:aws:sqs:eu-west-1:123456789012:ivs-events"}}
	if diff := cmp.Diff(queue, p.Statement[len(p.Statement)-1]); diff != "" {
		t.Errorf("IAMPolicy with IVS_EVENTS_QUEUE_URL: last statement (-want +got):\n%s", diff)
	}
}
