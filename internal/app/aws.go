package app

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/budget"
	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ivs"
	"github.com/ivs-ingest/ivs-ingest/internal/kms"
)

// IVSOptions are what differs between the IVS clients built from one
// configuration: the service's, doctor's, dev's demo seeding's.
type IVSOptions struct {
	// Budget spaces every attempt of every call (see CallBudget); nil for
	// none.
	Budget *budget.Budget
	// AttemptTimeout bounds each HTTP attempt; 0 for the adapter's 10 s.
	AttemptTimeout time.Duration
	// Metrics counts every attempt; nil for none.
	Metrics ivs.Metrics
}

// IVS returns the IVS client cfg describes: its region and endpoint, and
// static keys when AWS_ACCESS_KEY_ID is set (the SDK's default chain
// otherwise). The client is usable even with an error, which says why AWS
// is not: its calls then fail with ingest.ErrIVSCredentials.
func IVS(ctx context.Context, cfg config.Config, opts IVSOptions) (*ivs.Client, error) {
	c := ivs.Config{
		Region:          cfg.AWSRegion,
		Endpoint:        cfg.AWSEndpointIVS,
		AccessKeyID:     cfg.AWSAccessKeyID,
		SecretAccessKey: cfg.AWSSecretAccessKey,
		SessionToken:    cfg.AWSSessionToken,
		AttemptTimeout:  opts.AttemptTimeout,
		Budget:          opts.Budget,
		Metrics:         opts.Metrics,
	}
	return ivs.New(ctx, c)
}

// Policy is an IAM identity policy, ready to attach.
type Policy struct {
	Version   string
	Statement []PolicyStatement
}

// PolicyStatement is one statement of a Policy.
type PolicyStatement struct {
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]string `json:",omitempty"`
}

// secretActions is the one list of IAM actions the service needs on AWS
// Secrets Manager: reading the secrets given as X_SECRET_ARN, at start. The
// Lambda template and the documentation are checked against it, as against
// ivs.RequiredActions.
var secretActions = []string{"secretsmanager:GetSecretValue"}

// SecretActions returns the IAM actions reading a secret given as
// X_SECRET_ARN needs.
func SecretActions() []string { return append([]string(nil), secretActions...) }

// kmsActions is the one list of IAM actions the key store's KMS option
// needs on its KMS key (STREAM_KEY_KMS_KEY_ID): making the data key once,
// unwrapping it at start. The Lambda template and the documentation are
// checked against it.
var kmsActions = []string{"kms:GenerateDataKey", "kms:Decrypt"}

// KMSActions returns the IAM actions the key store's KMS option needs.
func KMSActions() []string { return append([]string(nil), kmsActions...) }

// KMSCondition is the IAM condition that limits KMSActions to the key
// store's encryption context.
func KMSCondition() map[string]map[string]string {
	c := map[string]string{}
	for k, v := range kms.EncryptionContext() {
		c["kms:EncryptionContext:"+k] = v
	}
	return map[string]map[string]string{"StringEquals": c}
}

// IAMPolicy is the policy the service's IAM identity needs for the features
// cfg enables: ivs.RequiredActions on the channels and stream keys of
// AWS_REGION, KMSActions on STREAM_KEY_KMS_KEY_ID's key under KMSCondition
// and, when secrets are given as X_SECRET_ARN, SecretActions on
// those secrets.
func IAMPolicy(cfg config.Config) Policy {
	region := cfg.AWSRegion
	if region == "" {
		region = "*"
	}
	p := Policy{Version: "2012-10-17", Statement: []PolicyStatement{{
		Effect:   "Allow",
		Action:   ivs.ResourceActions(cfg.StreamKeyMaxAge > 0),
		Resource: []string{"arn:aws:ivs:" + region + ":*:channel/*", "arn:aws:ivs:" + region + ":*:stream-key/*"},
	}, {
		// ListStreams names no resource: it is granted on "*" or not at all.
		Effect:   "Allow",
		Action:   ivs.Actions(ivs.NeedStreamStatus),
		Resource: []string{"*"},
	}}}
	if arn := queueARN(cfg.EventsQueueURL, cfg.EventsQueueRegion); arn != "" {
		p.Statement = append(p.Statement, PolicyStatement{Effect: "Allow", Action: ivs.QueueActions(), Resource: []string{arn}})
	}
	if cfg.StreamKeyKMSKeyID != "" {
		p.Statement = append(p.Statement, PolicyStatement{Effect: "Allow", Action: KMSActions(),
			Resource: []string{kmsKeyResource(cfg.StreamKeyKMSKeyID, region)}, Condition: KMSCondition()})
	}
	if arns := SecretARNs(cfg); len(arns) > 0 {
		p.Statement = append(p.Statement, PolicyStatement{Effect: "Allow", Action: SecretActions(), Resource: arns})
	}
	return p
}

// queueARN is the ARN of the SQS queue at queueURL (https://<host>/<account>/<name>)
// in region; "" for no queue or a URL without those parts.
func queueARN(queueURL, region string) string {
	u, err := url.Parse(queueURL)
	if err != nil || queueURL == "" {
		return ""
	}
	account, name, ok := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if !ok || account == "" || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return "arn:aws:sqs:" + region + ":" + account + ":" + name
}

// kmsKeyResource is the policy's resource for the KMS key id: a key ARN as
// it is; an alias or a bare key id, which a policy cannot name, as the
// region's keys (narrow it to the key's ARN).
func kmsKeyResource(id, region string) string {
	if strings.HasPrefix(id, "arn:") && strings.Contains(id, ":key/") {
		return id
	}
	return "arn:aws:kms:" + region + ":*:key/*"
}

// SecretARNs returns the Secrets Manager secrets cfg's variables name (as
// X_SECRET_ARN, without #field), each once, in the table's order: the
// resources of SecretActions. An ARN that does not parse is left out; its
// variable's error says why.
func SecretARNs(cfg config.Config) []string {
	var arns []string
	for _, v := range config.Vars() {
		o := cfg.Origin(v.Name)
		if o.Kind != config.OriginSecretsManager {
			continue
		}
		if ref, err := config.ParseSecretRef(o.Ref); err == nil && !slices.Contains(arns, ref.ARN) {
			arns = append(arns, ref.ARN)
		}
	}
	return arns
}
