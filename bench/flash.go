package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// revokePath is the service's route that revokes a show's key.
const revokePath = "/functions/v1/revoke-ivs-stream-key"

// flashTimeout is how long a flash crowd seller waits for an answer: the
// issue counted the sellers that got nothing within 30 s.
const flashTimeout = 30 * time.Second

// prepareStored has the service store what the first fetch with the channel
// stored and the flash crowd start from, through its API, as sellers would:
// one request per show (the service reads the key and the channel from IVS
// and stores both), then, for the first fetch's shows, a revocation (the
// key is deleted in IVS and cleared from the show; the stored channel
// stays). It runs on an instance with the hot runs' IVS call budget, the
// emulator without latency or limit (untimed), and checks in the database
// that the runs start from what they claim.
func (e *env) prepareStored(ctx context.Context) error {
	prepared := append(append([]seller(nil), e.keylessStored...), e.flash...)
	if len(prepared) == 0 {
		return nil
	}
	e.emu.SetLatency(0)
	e.emu.SetRateLimit(0)
	defer func() {
		e.emu.SetLatency(e.o.ivsLatency)
		e.emu.SetRateLimit(e.o.ivsRateLimit)
	}()
	e.logf("preparing: one request per show of %d (the service stores their keys and channels), then %d revocations; untimed",
		len(prepared), len(e.keylessStored))
	svc, base, err := e.startService(ctx, e.hotEnv()...)
	if err != nil {
		return err
	}
	defer svc.stop()
	if err := e.warmSellers(ctx, base, prepared, checkAnswer); err != nil {
		return svc.failure(fmt.Errorf("preparing: %w", err))
	}
	if err := e.warmSellers(ctx, base, e.keylessStored, revokeKey); err != nil {
		return svc.failure(fmt.Errorf("preparing: %w", err))
	}
	svc.stop()
	if !e.o.keyStore {
		return nil
	}
	checks := []struct {
		what    string
		sellers []seller
		sql     string
	}{
		{"keyless shows whose channel is stored", e.keylessStored, `SELECT count(*) FROM public.shows sh
			JOIN ivs_ingest.channels c ON c.channel_arn = sh.ivs_channel_arn
			WHERE sh.id = ANY($1::uuid[]) AND sh.ivs_stream_key_arn IS NULL`},
		{"flash crowd shows whose key and channel are stored", e.flash, `SELECT count(*) FROM public.shows sh
			JOIN ivs_ingest.stream_keys k ON k.key_arn = sh.ivs_stream_key_arn
			JOIN ivs_ingest.channels c ON c.channel_arn = sh.ivs_channel_arn
			WHERE sh.id = ANY($1::uuid[]) AND k.sealed_value IS NOT NULL`},
	}
	for _, c := range checks {
		ids := make([]string, len(c.sellers))
		for i, s := range c.sellers {
			ids[i] = s.showID
		}
		n, err := queryCount(ctx, e.dbURL, c.sql, ids)
		if err != nil {
			return fmt.Errorf("preparing: %s: %w", c.what, err)
		}
		if n != len(c.sellers) {
			return fmt.Errorf("preparing: %d %s, want %d: the service did not store what the run needs", n, c.what, len(c.sellers))
		}
	}
	return nil
}

// revokeKey revokes s's key through the service, as the seller would.
func revokeKey(ctx context.Context, c *loadClient, s seller) error {
	url := strings.TrimSuffix(c.url, endpointPath) + revokePath
	body := []byte(`{"showId":"` + s.showID + `","reason":"bench: a keyless show whose channel is stored"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("revoke show %s: status %d: %s", s.showID, resp.StatusCode, b)
	}
	var out struct {
		Revoked bool `json:"revoked"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.Revoked {
		return fmt.Errorf("revoke show %s: the answer does not say revoked", s.showID)
	}
	return nil
}

// queryCount runs a query that returns one count.
func queryCount(ctx context.Context, dbURL, sql string, args ...any) (int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

// flashRun is the outcome of the flash crowd run: sellers whose keys are
// stored, each requesting once, spread evenly over a window, across fresh
// instances, with IVS held to its quota.
type flashRun struct {
	Sellers, Instances int
	Window             time.Duration
	IVSRateLimit       int
	OK, Errors         int            // answered 200 with the seller's key; the rest
	Outcomes           map[string]int // by outcome: "200", "503", "no answer within 30s", ...
	ErrorSample        string
	// Latency is over every request, failed ones included (at the time
	// they failed).
	Latency    latencies
	Behind     time.Duration // the latest a request was sent after its scheduled time
	Total      time.Duration // first request sent to last answered
	Calls      map[string]int
	TotalCalls int
	Throttled  int
}

// flashCrowd starts fresh instances (new processes over the same database:
// their caches empty) with the service's settings as deployed, limits the
// emulator to -flash-ivs-rate-limit, and sends each flash seller's request
// once, request i at i·window/n to instance i mod instances, each checked
// against the seller's key.
func (e *env) flashCrowd(ctx context.Context) (*flashRun, error) {
	o := e.o
	var (
		procs   []*child
		clients []*loadClient
	)
	defer func() {
		for _, c := range clients {
			c.close()
		}
		for _, p := range procs {
			p.stop()
		}
	}()
	for range o.flashReplicas {
		svc, base, err := e.startService(ctx)
		if err != nil {
			return nil, err
		}
		procs = append(procs, svc)
		clients = append(clients, newLoadClient(base, 64, flashTimeout))
	}
	e.emu.SetRateLimit(o.flashIVSLimit)
	defer e.emu.SetRateLimit(o.ivsRateLimit)
	e.emu.ResetCounts()

	ctx, cancel := context.WithTimeout(ctx, o.flashWindow+flashTimeout+30*time.Second)
	defer cancel()
	n := len(e.flash)
	lat := make([]time.Duration, n)
	behind := make([]time.Duration, n)
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now().Add(50 * time.Millisecond)
	for i, s := range e.flash {
		at := t0.Add(time.Duration(int64(o.flashWindow) * int64(i) / int64(n)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			start := time.Now()
			behind[i] = start.Sub(at)
			statuses[i], errs[i] = fetchKey(ctx, clients[i%len(clients)], s)
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	f := &flashRun{Sellers: n, Instances: len(procs), Window: o.flashWindow, IVSRateLimit: o.flashIVSLimit,
		Total: time.Since(t0), Outcomes: map[string]int{}, Calls: map[string]int{},
		TotalCalls: e.emu.TotalCalls(), Throttled: e.emu.Throttled()}
	for _, p := range procs {
		if p.exited() {
			return nil, p.failure(fmt.Errorf("exited during the flash crowd run"))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("flash crowd: %w", err)
	}
	for i := range n {
		f.Behind = max(f.Behind, behind[i])
		switch {
		case errs[i] == nil:
			f.OK++
			f.Outcomes["200"]++
			continue
		case statuses[i] == 0:
			f.Outcomes[fmt.Sprintf("no answer within %s", flashTimeout)]++
		case statuses[i] == http.StatusOK:
			f.Outcomes["200 without the seller's key"]++
		default:
			f.Outcomes[strconv.Itoa(statuses[i])]++
		}
		f.Errors++
		if f.ErrorSample == "" {
			f.ErrorSample = errs[i].Error()
		}
	}
	f.Latency = summarize(lat)
	for _, call := range e.emu.CallLog() {
		f.Calls[call.Op]++
	}
	return f, nil
}
