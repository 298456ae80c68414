package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// showColumns reads a show (aliased sh) as scannedShow expects it: with its
// key's row (k, joined on sh's key: when it was first seen, its sealed value
// and last check), its channel's row (c), and whether another seller's show
// names the same channel, which the partial index on shows
// (ivs_channel_arn) answers. showJoins joins k and c.
const showColumns = `sh.id::text, sh.seller_id::text, sh.ivs_channel_arn, sh.ivs_ingest_endpoint, sh.ivs_stream_key_arn, k.first_seen_at,
	EXISTS (SELECT 1 FROM public.shows o WHERE o.ivs_channel_arn = sh.ivs_channel_arn AND o.seller_id <> sh.seller_id),
	k.sealed_value, k.verified_at, c.ingest_endpoint, c.srt_endpoint, c.sealed_srt_passphrase, c.sealed_key_id`

// showJoins joins a show's key (k) and channel (c) rows for showColumns.
const showJoins = `LEFT JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
LEFT JOIN ivs_ingest.channels c ON c.channel_arn = sh.ivs_channel_arn`

// scannedShow receives showColumns.
type scannedShow struct {
	id, seller, channelARN, endpoint, keyARN *string
	firstSeen                                *time.Time
	shared                                   bool
	sealedKey                                []byte
	verifiedAt                               *time.Time
	chEndpoint, chSRT, chKeyID               *string
	chPassphrase                             []byte
}

func (s *scannedShow) dest() []any {
	return []any{&s.id, &s.seller, &s.channelARN, &s.endpoint, &s.keyARN, &s.firstSeen, &s.shared,
		&s.sealedKey, &s.verifiedAt, &s.chEndpoint, &s.chSRT, &s.chPassphrase, &s.chKeyID}
}

// show returns the scanned show; nil when there was none.
func (s *scannedShow) show() *ingest.Show {
	if s.id == nil {
		return nil
	}
	sh := &ingest.Show{
		ID:             *s.id,
		SellerID:       deref(s.seller),
		ChannelARN:     deref(s.channelARN),
		IngestEndpoint: deref(s.endpoint),
		StreamKeyARN:   deref(s.keyARN),
		ChannelShared:  s.shared,
		SealedKey:      s.sealedKey,
	}
	if s.firstSeen != nil {
		sh.KeyFirstSeen = *s.firstSeen
	}
	if s.verifiedAt != nil && s.sealedKey != nil {
		sh.KeyVerifiedAt = *s.verifiedAt
	}
	if s.chEndpoint != nil {
		sh.StoredChannel = &ingest.StoredChannel{ARN: sh.ChannelARN, IngestEndpoint: *s.chEndpoint, SRTEndpoint: deref(s.chSRT),
			SealedSRTPassphrase: s.chPassphrase, SealedBy: deref(s.chKeyID)}
	}
	return sh
}

// NoteKeySeen implements ingest.Store.
func (db *DB) NoteKeySeen(ctx context.Context, keyARN, channelARN string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO ivs_ingest.stream_keys (key_arn, channel_arn) VALUES ($1, $2) ON CONFLICT (key_arn) DO NOTHING`,
		keyARN, channelARN)
	if err != nil {
		return fmt.Errorf("note stream key: %w", err)
	}
	return nil
}

// ShowsWithKeysOlderThan implements ingest.Store.
func (db *DB) ShowsWithKeysOlderThan(ctx context.Context, age time.Duration) ([]ingest.Show, error) {
	return db.shows(ctx, `JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
		WHERE sh.ivs_channel_arn IS NOT NULL AND k.first_seen_at < now() - $1::interval`, age)
}

// ShowsWithoutKey implements ingest.Store.
func (db *DB) ShowsWithoutKey(ctx context.Context) ([]ingest.Show, error) {
	return db.shows(ctx, `WHERE sh.ivs_channel_arn IS NOT NULL AND sh.ivs_channel_arn <> '' AND coalesce(sh.ivs_stream_key_arn, '') = ''`)
}

// Show implements ingest.Store.
func (db *DB) Show(ctx context.Context, id string) (ingest.Show, bool, error) {
	shows, err := db.shows(ctx, `WHERE sh.id = $1::uuid`, id)
	if err != nil || len(shows) == 0 {
		return ingest.Show{}, false, err
	}
	return shows[0], true, nil
}

// shows lists the shows a FROM-clause tail selects, for batch commands.
func (db *DB) shows(ctx context.Context, tail string, args ...any) ([]ingest.Show, error) {
	rows, err := db.pool.Query(ctx, `SELECT sh.id::text, sh.seller_id::text, coalesce(sh.ivs_channel_arn, ''),
		coalesce(sh.ivs_ingest_endpoint, ''), coalesce(sh.ivs_stream_key_arn, '')
		FROM public.shows sh `+tail+` ORDER BY sh.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	shows, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ingest.Show, error) {
		var s ingest.Show
		err := r.Scan(&s.ID, &s.SellerID, &s.ChannelARN, &s.IngestEndpoint, &s.StreamKeyARN)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	return shows, nil
}

// SetIngestEndpoint implements ingest.Store.
func (db *DB) SetIngestEndpoint(ctx context.Context, showID, endpoint string) error {
	_, err := db.pool.Exec(ctx, `UPDATE public.shows SET ivs_ingest_endpoint = $2
		WHERE id = $1::uuid AND ivs_ingest_endpoint IS DISTINCT FROM $2`, showID, endpoint)
	if err != nil {
		return fmt.Errorf("update ingest endpoint: %w", err)
	}
	return nil
}
