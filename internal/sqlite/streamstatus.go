package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/streamstatus"
)

// stateColumns reads a stream_state row as scanState expects it.
const stateColumns = `channel_arn, state, state_at, state_event_id, since, stream_id, reason, health, health_at, health_event_id, checked_at`

// scanState reads one stream_state row; found is false when there is none.
func scanState(row *sql.Row) (streamstatus.Stored, bool, error) {
	var arn string
	var state, stateAt, stateID, since, streamID, reason, health, healthAt, healthID, checkedAt *string
	err := row.Scan(&arn, &state, &stateAt, &stateID, &since, &streamID, &reason, &health, &healthAt, &healthID, &checkedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return streamstatus.Stored{}, false, nil
	}
	if err != nil {
		return streamstatus.Stored{}, false, err
	}
	s := streamstatus.Stored{ChannelARN: arn, State: streamstatus.State(deref(state)), StateEventID: deref(stateID),
		StreamID: deref(streamID), Reason: deref(reason), Health: streamstatus.Health(deref(health)), HealthEventID: deref(healthID)}
	for _, f := range []struct {
		dst *time.Time
		src *string
	}{{&s.StateAt, stateAt}, {&s.Since, since}, {&s.HealthAt, healthAt}, {&s.CheckedAt, checkedAt}} {
		if f.src == nil {
			continue
		}
		t, err := time.Parse(timeLayout, *f.src)
		if err != nil {
			return streamstatus.Stored{}, false, fmt.Errorf("stream state time %q: %w", *f.src, err)
		}
		*f.dst = t
	}
	return s, true, nil
}

// textTime stores t as sortable UTC text; NULL for the zero time.
func textTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// writeState stores s as its channel's row.
func writeState(ctx context.Context, tx *sql.Tx, s streamstatus.Stored) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stream_state (`+stateColumns+`) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
	ON CONFLICT (channel_arn) DO UPDATE SET state = excluded.state, state_at = excluded.state_at, state_event_id = excluded.state_event_id,
	since = excluded.since, stream_id = excluded.stream_id, reason = excluded.reason, health = excluded.health,
	health_at = excluded.health_at, health_event_id = excluded.health_event_id, checked_at = excluded.checked_at`,
		s.ChannelARN, nullable(string(s.State)), textTime(s.StateAt), nullable(s.StateEventID), textTime(s.Since), nullable(s.StreamID),
		nullable(s.Reason), nullable(string(s.Health)), textTime(s.HealthAt), nullable(s.HealthEventID), textTime(s.CheckedAt))
	return err
}

// ApplyStreamEvent implements streamstatus.Store in one write transaction,
// with streamstatus.Next, the rules every store shares. The single writing
// connection applies one event at a time.
func (db *DB) ApplyStreamEvent(ctx context.Context, e streamstatus.Event) (streamstatus.Outcome, error) {
	outcome, err := db.inWrite(ctx, func(tx *sql.Tx) (streamstatus.Outcome, error) {
		var known bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM shows WHERE ivs_channel_arn = ?1)`, e.ChannelARN).Scan(&known); err != nil {
			return "", err
		}
		if !known {
			return streamstatus.UnknownChannel, nil
		}
		stored, found, err := scanState(tx.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM stream_state WHERE channel_arn = ?1`, e.ChannelARN))
		if err != nil {
			return "", err
		}
		next, outcome := streamstatus.Next(stored, found, e)
		if outcome != streamstatus.Applied {
			return outcome, nil
		}
		if err := writeState(ctx, tx, next); err != nil {
			return "", err
		}
		if next.State != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE shows SET stream_status = ?2 WHERE ivs_channel_arn = ?1 AND stream_status IS NOT ?2`,
				e.ChannelARN, string(next.State)); err != nil {
				return "", err
			}
		}
		return outcome, nil
	})
	if err != nil {
		return streamstatus.Failed, fmt.Errorf("apply stream event: %w", err)
	}
	return outcome, nil
}

// inWrite runs fn in a write transaction, committed when fn returns nil.
func (db *DB) inWrite(ctx context.Context, fn func(*sql.Tx) (streamstatus.Outcome, error)) (streamstatus.Outcome, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }() // sql.ErrTxDone after a commit
	out, err := fn(tx)
	if err != nil {
		return "", err
	}
	return out, tx.Commit()
}

// ApplyStreamSnapshot implements streamstatus.Store in one write
// transaction, with streamstatus.Snapshot, the rules every store shares.
func (db *DB) ApplyStreamSnapshot(ctx context.Context, region string, at time.Time, live []streamstatus.LiveStream) (int, error) {
	byARN := map[string]*streamstatus.LiveStream{}
	for i := range live {
		byARN[live[i].ChannelARN] = &live[i]
	}
	changed := 0
	_, err := db.inWrite(ctx, func(tx *sql.Tx) (streamstatus.Outcome, error) {
		channels, err := regionChannels(ctx, tx, region)
		if err != nil {
			return "", err
		}
		for _, arn := range channels {
			stored, found, err := scanState(tx.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM stream_state WHERE channel_arn = ?1`, arn))
			if err != nil {
				return "", err
			}
			next, applies := streamstatus.Snapshot(stored, found, at, byARN[arn])
			if !applies {
				continue
			}
			next.ChannelARN = arn
			if err := writeState(ctx, tx, next); err != nil {
				return "", err
			}
			if !found || stored.State != next.State {
				changed++
			}
		}
		for _, arn := range channels {
			if _, err := tx.ExecContext(ctx, `UPDATE shows SET stream_status = s.state FROM stream_state s
				WHERE shows.ivs_channel_arn = ?1 AND s.channel_arn = ?1 AND s.state IS NOT NULL AND shows.stream_status IS NOT s.state`, arn); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("apply stream snapshot of %s: %w", region, err)
	}
	return changed, nil
}

// regionChannels lists the channels of the shows in region.
func regionChannels(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, region string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT ivs_channel_arn FROM shows WHERE ivs_channel_arn IS NOT NULL ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var arn string
		if err := rows.Scan(&arn); err != nil {
			return nil, err
		}
		if arnRegion(arn) == region {
			out = append(out, arn)
		}
	}
	return out, rows.Err()
}

// arnRegion is the region field of an ARN (as PostgreSQL's
// split_part(arn, ':', 4)).
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// StreamState implements streamstatus.Store.
func (db *DB) StreamState(ctx context.Context, channelARN string) (streamstatus.Stored, bool, error) {
	s, found, err := scanState(db.read.QueryRowContext(ctx, `SELECT `+stateColumns+` FROM stream_state WHERE channel_arn = ?1`, channelARN))
	if err != nil {
		return streamstatus.Stored{}, false, fmt.Errorf("read stream state: %w", err)
	}
	return s, found, nil
}

// StreamRegions implements streamstatus.Store.
func (db *DB) StreamRegions(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT ivs_channel_arn FROM shows WHERE ivs_channel_arn LIKE 'arn:%:ivs:%:channel/%'`)
	if err != nil {
		return nil, fmt.Errorf("list stream regions: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var arn string
		if err := rows.Scan(&arn); err != nil {
			return nil, fmt.Errorf("list stream regions: %w", err)
		}
		if r := arnRegion(arn); r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stream regions: %w", err)
	}
	slices.Sort(out)
	return out, nil
}
