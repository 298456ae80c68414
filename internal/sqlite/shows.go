package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// showColumns reads a show (aliased sh, with k its stream_keys row and c its
// channels row, as showJoins joins them) as scannedShow expects it, with
// whether another seller's show names the same channel.
const showColumns = `sh.id, sh.seller_id, sh.ivs_channel_arn, sh.ivs_ingest_endpoint, sh.ivs_stream_key_arn, k.first_seen_at,
	EXISTS (SELECT 1 FROM shows o WHERE o.ivs_channel_arn = sh.ivs_channel_arn AND o.seller_id <> sh.seller_id),
	k.sealed_value, k.verified_at, c.ingest_endpoint, c.srt_endpoint, c.sealed_srt_passphrase, c.sealed_key_id`

// showJoins joins a show's key (k) and channel (c) rows for showColumns.
const showJoins = `LEFT JOIN stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
LEFT JOIN channels c ON c.channel_arn = sh.ivs_channel_arn`

// scannedShow receives showColumns.
type scannedShow struct {
	id, seller, channelARN, endpoint, keyARN, firstSeen *string
	shared                                              bool
	sealedKey                                           []byte
	verifiedAt                                          *string
	chEndpoint, chSRT, chKeyID                          *string
	chPassphrase                                        []byte
}

func (s *scannedShow) dest() []any {
	return []any{&s.id, &s.seller, &s.channelARN, &s.endpoint, &s.keyARN, &s.firstSeen, &s.shared,
		&s.sealedKey, &s.verifiedAt, &s.chEndpoint, &s.chSRT, &s.chPassphrase, &s.chKeyID}
}

// show returns the scanned show; nil when there was none.
func (s *scannedShow) show() (*ingest.Show, error) {
	if s.id == nil {
		return nil, nil
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
		t, err := time.Parse(timeLayout, *s.firstSeen)
		if err != nil {
			return nil, fmt.Errorf("first_seen_at %q: %w", *s.firstSeen, err)
		}
		sh.KeyFirstSeen = t
	}
	if s.verifiedAt != nil && s.sealedKey != nil {
		t, err := time.Parse(timeLayout, *s.verifiedAt)
		if err != nil {
			return nil, fmt.Errorf("verified_at %q: %w", *s.verifiedAt, err)
		}
		sh.KeyVerifiedAt = t
	}
	if s.chEndpoint != nil {
		sh.StoredChannel = &ingest.StoredChannel{ARN: sh.ChannelARN, IngestEndpoint: *s.chEndpoint, SRTEndpoint: deref(s.chSRT),
			SealedSRTPassphrase: s.chPassphrase, SealedBy: deref(s.chKeyID)}
	}
	return sh, nil
}

// NoteKeySeen implements ingest.Store.
func (db *DB) NoteKeySeen(ctx context.Context, keyARN, channelARN string) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO stream_keys (key_arn, channel_arn, first_seen_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (key_arn) DO NOTHING`, keyARN, channelARN, db.Now().UTC().Format(timeLayout))
	if err != nil {
		return fmt.Errorf("note stream key: %w", err)
	}
	return nil
}

// ShowsWithKeysOlderThan implements ingest.Store.
func (db *DB) ShowsWithKeysOlderThan(ctx context.Context, age time.Duration) ([]ingest.Show, error) {
	return db.shows(ctx, `JOIN stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
		WHERE sh.ivs_channel_arn IS NOT NULL AND k.first_seen_at < ?1`, db.Now().Add(-age).UTC().Format(timeLayout))
}

// ShowsWithoutKey implements ingest.Store.
func (db *DB) ShowsWithoutKey(ctx context.Context) ([]ingest.Show, error) {
	return db.shows(ctx, `WHERE coalesce(sh.ivs_channel_arn, '') <> '' AND coalesce(sh.ivs_stream_key_arn, '') = ''`)
}

// Show implements ingest.Store.
func (db *DB) Show(ctx context.Context, id string) (ingest.Show, bool, error) {
	shows, err := db.shows(ctx, `WHERE sh.id = ?1`, id)
	if err != nil || len(shows) == 0 {
		return ingest.Show{}, false, err
	}
	return shows[0], true, nil
}

func (db *DB) shows(ctx context.Context, tail string, args ...any) ([]ingest.Show, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT sh.id, sh.seller_id, coalesce(sh.ivs_channel_arn, ''),
		coalesce(sh.ivs_ingest_endpoint, ''), coalesce(sh.ivs_stream_key_arn, '')
		FROM shows sh `+tail+` ORDER BY sh.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	defer rows.Close()
	var out []ingest.Show
	for rows.Next() {
		var s ingest.Show
		if err := rows.Scan(&s.ID, &s.SellerID, &s.ChannelARN, &s.IngestEndpoint, &s.StreamKeyARN); err != nil {
			return nil, fmt.Errorf("list shows: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shows: %w", err)
	}
	return out, nil
}

// SetIngestEndpoint implements ingest.Store.
func (db *DB) SetIngestEndpoint(ctx context.Context, showID, endpoint string) error {
	_, err := db.write.ExecContext(ctx, `UPDATE shows SET ivs_ingest_endpoint = ?2
		WHERE id = ?1 AND ivs_ingest_endpoint IS NOT ?2`, strings.ToLower(showID), endpoint)
	if err != nil {
		return fmt.Errorf("update ingest endpoint: %w", err)
	}
	return nil
}
