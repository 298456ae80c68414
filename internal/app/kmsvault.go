package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/config"
	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
	"github.com/ivs-ingest/ivs-ingest/internal/keyvault"
	"github.com/ivs-ingest/ivs-ingest/internal/kms"
)

// kmsvault.go is the key store's KMS option (STREAM_KEY_KMS_KEY_ID): its
// master key is a data key KMS made once, kept wrapped in the store (shared
// by every replica), and unwrapped by each process with one kms:Decrypt at
// start. No KMS call is made per request. When KMS cannot be reached at
// start, the process serves without a key store and turns it on once a
// background retry unwraps the key.

// DataKeyStore keeps the KMS-wrapped data keys; both stores implement it.
type DataKeyStore interface {
	// AddDataKey inserts k unless a row with its id exists.
	AddDataKey(ctx context.Context, k ingest.DataKey) (added bool, err error)
	// DataKeys returns every row, oldest first.
	DataKeys(ctx context.Context) ([]ingest.DataKey, error)
}

// KMS returns the KMS adapter cfg describes (STREAM_KEY_KMS_KEY_ID in
// AWS_REGION, AWS_ENDPOINT_URL_KMS, the AWS credentials); it makes no call.
func KMS(ctx context.Context, cfg config.Config) (*kms.Wrapper, error) {
	return kms.New(ctx, kms.Config{
		KeyID:           cfg.StreamKeyKMSKeyID,
		Region:          cfg.AWSRegion,
		Endpoint:        cfg.AWSEndpointKMS,
		AccessKeyID:     cfg.AWSAccessKeyID,
		SecretAccessKey: cfg.AWSSecretAccessKey,
		SessionToken:    cfg.AWSSessionToken,
	})
}

// firstDataKeyID is the id of the first data key row: every replica
// starting first inserts this one id, so one of them wins.
const firstDataKeyID = "1"

// dataKeyID is the master key id of a data key row.
func dataKeyID(rowID string) string { return "kms-" + rowID }

// KMSVault is the key store's vault over the data keys store keeps: the
// newest seals, the older ones still open. With no row yet, it makes the
// first (one kms:GenerateDataKey) and inserts it unless another replica's
// came first, then reads back the one that stands. Each row it did not make
// itself costs one kms:Decrypt. Its errors carry no key.
func KMSVault(ctx context.Context, w *kms.Wrapper, store DataKeyStore) (ingest.Vault, error) {
	rows, err := store.DataKeys(ctx)
	if err != nil {
		return nil, err
	}
	var made *kms.DataKey
	if len(rows) == 0 {
		dk, err := w.GenerateDataKey(ctx)
		if err != nil {
			return nil, err
		}
		added, err := store.AddDataKey(ctx, ingest.DataKey{ID: firstDataKeyID, KMSKeyID: dk.KMSKeyARN, Wrapped: dk.Wrapped})
		if err != nil {
			return nil, err
		}
		if added {
			made = &dk
		}
		if rows, err = store.DataKeys(ctx); err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, errors.New("data key: none stored after adding one")
		}
	}
	keys := make([]keyvault.Key, 0, len(rows))
	for _, row := range rows {
		var plaintext = func() (keyvault.Key, error) {
			if made != nil && row.ID == firstDataKeyID {
				return keyvault.ParseKey(dataKeyID(row.ID), made.Plaintext.Reveal())
			}
			v, err := w.Decrypt(ctx, row.Wrapped, row.KMSKeyID)
			if err != nil {
				return keyvault.Key{}, fmt.Errorf("data key %q: %w", row.ID, err)
			}
			return keyvault.ParseKey(dataKeyID(row.ID), v.Reveal())
		}
		k, err := plaintext()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	current := keys[len(keys)-1]
	return NewVault(current, keys[:len(keys)-1]...)
}

// AddDataKey makes a new data key under w's KMS key and stores it as the
// newest row: the KMS option's master key rotation. Processes started after
// it seal under the new key; what older rows sealed still opens while they
// are kept. It returns the new master key's id.
func AddDataKey(ctx context.Context, w *kms.Wrapper, store DataKeyStore) (string, error) {
	rows, err := store.DataKeys(ctx)
	if err != nil {
		return "", err
	}
	next := 1
	for _, r := range rows {
		if n, err := strconv.Atoi(r.ID); err == nil && n >= next {
			next = n + 1
		}
	}
	dk, err := w.GenerateDataKey(ctx)
	if err != nil {
		return "", err
	}
	id := strconv.Itoa(next)
	added, err := store.AddDataKey(ctx, ingest.DataKey{ID: id, KMSKeyID: dk.KMSKeyARN, Wrapped: dk.Wrapped})
	if err != nil {
		return "", err
	}
	if !added {
		return "", fmt.Errorf("data key %q: another process added it meanwhile", id)
	}
	return dataKeyID(id), nil
}

// keyStorePendingDetail is /readyz's detail while the key store waits for
// KMS. Why it says no more: /readyz is public, and KMS's error names the
// key (and so the account); the log and doctor say why.
const keyStorePendingDetail = "key store not in use yet: the KMS data key is not unwrapped; " +
	"serving as without a key store (keys from IVS, in this process's memory) and retrying (the log says why)"

// kmsStart bounds the attempt made at start, before serving: short, since
// AWS Lambda gives a function's initialization 10 s in all (a KMS with no
// route to it would otherwise use them up); one that fails is retried in
// the background, each try bounded by kmsRetryAttempt.
const (
	kmsStart        = 3 * time.Second
	kmsRetryAttempt = 15 * time.Second
)

// kmsRetry is the background retry's backoff: doubling from its first
// delay to its last.
var kmsRetry = [2]time.Duration{time.Second, time.Minute}

// kmsKeyStore turns the KMS option's key store on: at start when KMS
// answers, else from a background retry.
type kmsKeyStore struct {
	mu     sync.Mutex
	detail string // "" once the key store is in use
	ready  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startKMSKeyStore unwraps the data key for svc, now or, when that fails,
// in the background with a bounded backoff (after waits each delay; nil for
// time.After).
func startKMSKeyStore(ctx context.Context, cfg config.Config, store DataKeyStore, svc *ingest.Service, logger *slog.Logger,
	after func(time.Duration) <-chan time.Time) (*kmsKeyStore, error) {
	w, err := KMS(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	if after == nil {
		after = time.After
	}
	ks := &kmsKeyStore{ready: make(chan struct{}), done: make(chan struct{})}
	attempt := func(ctx context.Context) error {
		v, err := KMSVault(ctx, w, store)
		if err != nil {
			return err
		}
		svc.SetVault(v)
		current, _ := v.KeyIDs()
		ks.mu.Lock()
		ks.detail = ""
		ks.mu.Unlock()
		close(ks.ready)
		logger.Info("key store in use: the KMS data key is unwrapped", "kms_key_id", cfg.StreamKeyKMSKeyID, "master_key_id", current)
		return nil
	}
	first, cancel := context.WithTimeout(context.WithoutCancel(ctx), kmsStart)
	err = attempt(first)
	cancel()
	if err == nil {
		close(ks.done)
		return ks, nil
	}
	ks.fail(logger, err)
	bg, stop := context.WithCancel(context.Background())
	ks.cancel = stop
	go func() {
		defer close(ks.done)
		delay := kmsRetry[0]
		for {
			select {
			case <-bg.Done():
				return
			case <-after(delay):
			}
			actx, cancel := context.WithTimeout(bg, kmsRetryAttempt)
			err := attempt(actx)
			cancel()
			if err == nil || bg.Err() != nil {
				return
			}
			ks.fail(logger, err)
			delay = min(2*delay, kmsRetry[1])
		}
	}()
	return ks, nil
}

// fail records and logs why the key store is not in use yet.
func (ks *kmsKeyStore) fail(logger *slog.Logger, err error) {
	ks.mu.Lock()
	ks.detail = keyStorePendingDetail
	ks.mu.Unlock()
	logger.Warn("key store not in use yet: serving as without one, retrying in the background", "error", err.Error())
}

// Detail is "" when the key store is in use, else why not.
func (ks *kmsKeyStore) Detail() string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.detail
}

// close stops the background retry and waits for it.
func (ks *kmsKeyStore) close() {
	if ks.cancel != nil {
		ks.cancel()
	}
	<-ks.done
}
