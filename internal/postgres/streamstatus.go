package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// stateColumns reads a stream_state row as scannedState expects it.
const stateColumns = `channel_arn, state, state_at, state_event_id, since, stream_id, reason, health, health_at, health_event_id, checked_at`

type scannedState struct {
	arn                                   string
	state, stateEventID, streamID, reason *string
	health, healthEventID                 *string
	stateAt, since, healthAt, checkedAt   *time.Time
}

func (s *scannedState) dest() []any {
	return []any{&s.arn, &s.state, &s.stateAt, &s.stateEventID, &s.since, &s.streamID, &s.reason, &s.health, &s.healthAt,
		&s.healthEventID, &s.checkedAt}
}

func (s *scannedState) stored() streamstatus.Stored {
	return streamstatus.Stored{
		ChannelARN: s.arn, State: streamstatus.State(deref(s.state)), StateAt: utc(s.stateAt), StateEventID: deref(s.stateEventID),
		Since: utc(s.since), StreamID: deref(s.streamID), Reason: deref(s.reason),
		Health: streamstatus.Health(deref(s.health)), HealthAt: utc(s.healthAt), HealthEventID: deref(s.healthEventID),
		CheckedAt: utc(s.checkedAt),
	}
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// ApplyStreamEvent implements streamstatus.Store in one transaction: it
// locks the channel's row (inserting an empty one first), so that
// concurrent deliveries for one channel apply one after the other and the
// newest wins whatever their order, decides with streamstatus.Next, the
// rules every store shares, and sets the stream_status of the channel's
// shows. A row lock, not an advisory lock: it lives and dies with the
// transaction, so it is safe behind a transaction-mode pooler.
func (db *DB) ApplyStreamEvent(ctx context.Context, e streamstatus.Event) (streamstatus.Outcome, error) {
	var outcome streamstatus.Outcome
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var known bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.shows WHERE ivs_channel_arn = $1)`, e.ChannelARN).Scan(&known); err != nil {
			return err
		}
		if !known {
			outcome = streamstatus.UnknownChannel
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ivs_ingest.stream_state (channel_arn) VALUES ($1) ON CONFLICT (channel_arn) DO NOTHING`,
			e.ChannelARN); err != nil {
			return err
		}
		var row scannedState
		if err := tx.QueryRow(ctx, `SELECT `+stateColumns+` FROM ivs_ingest.stream_state WHERE channel_arn = $1 FOR UPDATE`,
			e.ChannelARN).Scan(row.dest()...); err != nil {
			return err
		}
		var next streamstatus.Stored
		next, outcome = streamstatus.Next(row.stored(), true, e)
		if outcome != streamstatus.Applied {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE ivs_ingest.stream_state SET state = $2, state_at = $3, state_event_id = $4, since = $5,
			stream_id = $6, reason = $7, health = $8, health_at = $9, health_event_id = $10, checked_at = $11 WHERE channel_arn = $1`,
			e.ChannelARN, nullable(string(next.State)), nullTime(next.StateAt), nullable(next.StateEventID), nullTime(next.Since),
			nullable(next.StreamID), nullable(next.Reason), nullable(string(next.Health)), nullTime(next.HealthAt),
			nullable(next.HealthEventID), nullTime(next.CheckedAt))
		if err != nil {
			return err
		}
		if next.State == "" {
			return nil
		}
		if err := boundLockWaits(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE public.shows SET stream_status = $2 WHERE ivs_channel_arn = $1 AND stream_status IS DISTINCT FROM $2`,
			e.ChannelARN, string(next.State))
		return err
	})
	if err != nil {
		return streamstatus.Failed, fmt.Errorf("apply stream event: %w", err)
	}
	return outcome, nil
}

// streamLockTimeout bounds how long a stream state write waits for the lock
// of a show's row, which a key request holds while it waits for an IVS call
// slot (seconds): EventBridge wants its answer within 5 s. A write that
// times out fails, and its sender retries it (503, an SQS redelivery). The
// stream_state rows' own locks are held by other stream writes only, each
// bounded likewise.
const streamLockTimeout = "2s"

// boundLockWaits applies streamLockTimeout to tx alone (SET LOCAL ends with
// the transaction: safe behind a transaction-mode pooler).
func boundLockWaits(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+streamLockTimeout+`'`)
	return err
}

// snapshotSQL corrects, in one statement, the stream_state of every channel
// of a show in region $1 from a ListStreams snapshot taken at $2 (the live
// streams as arrays: $3 channel ARNs, $4 stream ids, $5 start times, $6
// healths), by the rules of streamstatus.Snapshot: a row whose state_at is
// at or after $2 is left as it is. In ON CONFLICT's SET, s.* is the row
// before the update. It returns each channel it wrote, with its new state.
const snapshotSQL = `WITH live AS (
  SELECT * FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::text[]) AS l (channel_arn, stream_id, start_time, health)
), want AS (
  SELECT DISTINCT ON (c.channel_arn) c.channel_arn,
    CASE WHEN l.channel_arn IS NULL THEN 'offline' ELSE 'live' END AS state,
    nullif(l.stream_id, '') AS stream_id,
    CASE WHEN l.channel_arn IS NULL THEN $2::timestamptz ELSE l.start_time END AS since,
    nullif(l.health, '') AS health
  FROM (SELECT DISTINCT ivs_channel_arn AS channel_arn FROM public.shows
        WHERE ivs_channel_arn IS NOT NULL AND split_part(ivs_channel_arn, ':', 4) = $1) c
  LEFT JOIN live l ON l.channel_arn = c.channel_arn
  ORDER BY c.channel_arn
)
INSERT INTO ivs_ingest.stream_state AS s (channel_arn, state, state_at, since, stream_id, health, health_at, checked_at)
SELECT channel_arn, state, $2, since, stream_id, health, CASE WHEN health IS NOT NULL THEN $2::timestamptz END, $2
FROM want ORDER BY channel_arn
ON CONFLICT (channel_arn) DO UPDATE SET
  since = CASE WHEN s.state = excluded.state AND s.since IS NOT NULL
    AND (excluded.state = 'offline' OR s.stream_id IS NOT DISTINCT FROM excluded.stream_id) THEN s.since ELSE excluded.since END,
  reason = CASE WHEN s.state = excluded.state THEN s.reason END,
  state = excluded.state,
  state_at = excluded.state_at,
  state_event_id = NULL,
  stream_id = CASE WHEN excluded.state = 'live' THEN excluded.stream_id ELSE s.stream_id END,
  health = CASE WHEN excluded.health IS NOT NULL AND (s.health_at IS NULL OR s.health_at < excluded.state_at)
    THEN excluded.health ELSE s.health END,
  health_at = CASE WHEN excluded.health IS NOT NULL AND (s.health_at IS NULL OR s.health_at < excluded.state_at)
    THEN excluded.state_at ELSE s.health_at END,
  health_event_id = CASE WHEN excluded.health IS NOT NULL AND (s.health_at IS NULL OR s.health_at < excluded.state_at)
    THEN NULL ELSE s.health_event_id END,
  checked_at = greatest(s.checked_at, excluded.checked_at)
WHERE s.state_at IS NULL OR s.state_at < excluded.state_at
RETURNING channel_arn, state`

// ApplyStreamSnapshot implements streamstatus.Store, set-based, in one
// transaction for the region: it locks the region's rows (in ARN order, so
// two snapshots wait rather than deadlock), corrects them in one statement,
// and sets the stream_status of the region's shows that differ from their
// channel's state.
func (db *DB) ApplyStreamSnapshot(ctx context.Context, region string, at time.Time, live []streamstatus.LiveStream) (int, error) {
	arns := make([]string, len(live))
	ids := make([]string, len(live))
	starts := make([]time.Time, len(live))
	healths := make([]string, len(live))
	for i, l := range live {
		arns[i], ids[i], healths[i] = l.ChannelARN, l.StreamID, string(l.Health)
		starts[i] = l.StartTime
		if starts[i].IsZero() {
			starts[i] = at
		}
	}
	changed := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT channel_arn, coalesce(state, '') FROM ivs_ingest.stream_state
			WHERE split_part(channel_arn, ':', 4) = $1 ORDER BY channel_arn FOR UPDATE`, region)
		if err != nil {
			return err
		}
		before := map[string]string{}
		var arn, state string
		if _, err := pgx.ForEachRow(rows, []any{&arn, &state}, func() error { before[arn] = state; return nil }); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, snapshotSQL, region, at, arns, ids, starts, healths)
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&arn, &state}, func() error {
			if old, ok := before[arn]; !ok || old != state {
				changed++
			}
			return nil
		}); err != nil {
			return err
		}
		if err := boundLockWaits(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE public.shows sh SET stream_status = s.state FROM ivs_ingest.stream_state s
			WHERE sh.ivs_channel_arn = s.channel_arn AND split_part(s.channel_arn, ':', 4) = $1 AND s.state IS NOT NULL
			AND sh.stream_status IS DISTINCT FROM s.state`, region)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("apply stream snapshot of %s: %w", region, err)
	}
	return changed, nil
}

// StreamState implements streamstatus.Store.
func (db *DB) StreamState(ctx context.Context, channelARN string) (streamstatus.Stored, bool, error) {
	var row scannedState
	err := db.pool.QueryRow(ctx, `SELECT `+stateColumns+` FROM ivs_ingest.stream_state WHERE channel_arn = $1`, channelARN).Scan(row.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return streamstatus.Stored{}, false, nil
	}
	if err != nil {
		return streamstatus.Stored{}, false, fmt.Errorf("read stream state: %w", err)
	}
	return row.stored(), true, nil
}

// StreamRegions implements streamstatus.Store: the region of each IVS
// channel ARN that a show names.
func (db *DB) StreamRegions(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT split_part(ivs_channel_arn, ':', 4) FROM public.shows
		WHERE ivs_channel_arn LIKE 'arn:%:ivs:%:channel/%' AND split_part(ivs_channel_arn, ':', 4) <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list stream regions: %w", err)
	}
	regions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list stream regions: %w", err)
	}
	return regions, nil
}
