package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// endpointPath is the service's one API route; the floor server serves it too.
const endpointPath = "/functions/v1/get-ivs-ingest"

// request is one prepared API call: a seller's token and their show.
type request struct {
	auth string // "Bearer <token>"
	body []byte // {"showId":"..."}
}

func newRequest(s seller) request {
	return request{auth: "Bearer " + s.token, body: []byte(`{"showId":"` + s.showID + `"}`)}
}

// loadClient sends requests to one server over keep-alive connections.
type loadClient struct {
	url    string
	client *http.Client
}

// newLoadClient returns a client for baseURL (which must be on 127.0.0.1)
// that keeps up to conns connections open and gives up on a request after
// timeout.
func newLoadClient(baseURL string, conns int, timeout time.Duration) *loadClient {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit beyond the per-host one
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &loadClient{url: baseURL + endpointPath, client: &http.Client{Transport: t, Timeout: timeout}}
}

func (c *loadClient) close() { c.client.CloseIdleConnections() }

// do sends r and returns the status and, for a status other than 200, the
// start of the answer.
func (c *loadClient) do(ctx context.Context, r request) (status int, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(r.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", r.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, string(b), nil
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, "", err
}

// maxRequestsPerWorker bounds a hot run by count as well as by time.
const maxRequestsPerWorker = 1 << 20

// hotRun is the outcome of one hot run against one server.
type hotRun struct {
	Conns    int
	Elapsed  time.Duration // the timed window
	Requests int           // answered or failed in the timed window
	Errors   int           // non-200 answers and failed requests, connection set-up included
	// ErrorSample describes the first error.
	ErrorSample string
	Latency     latencies
	// IVSCalls is the emulator's call count over the run, connection
	// set-up included; IVSCallsPerRequest divides it by all requests sent.
	IVSCalls           int
	IVSCallsPerRequest float64
	PeakRSS            int64 // bytes; 0 when unknown
	PeakRSSNote        string
	// CPU is the CPU time used during the run (connection set-up included)
	// by the server, by PostgreSQL, and by the bench itself (the load
	// generator, the IVS emulator and the JWKS server); 0 when unknown.
	CPU cpuUse
}

// cpuUse is CPU time used, by process, and by the whole machine.
type cpuUse struct {
	Server, Postgres, Bench, Machine time.Duration
}

// other is the CPU time of everything else on the machine: other people's
// work, which disturbs the figures, and the kernel's.
func (c cpuUse) other() time.Duration {
	return max(c.Machine-c.Server-c.Postgres-c.Bench, 0)
}

// perRequest returns d divided by every request of the run, untimed ones
// included.
func (h hotRun) perRequest(d time.Duration) time.Duration {
	n := h.Requests + h.Conns
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

// RPS is the throughput of the timed window.
func (h hotRun) RPS() float64 {
	if h.Elapsed <= 0 {
		return 0
	}
	return float64(h.Requests) / h.Elapsed.Seconds()
}

// hotLoad runs conns workers, each on its own connection, for d. Worker w
// sends requests w, w+conns, w+2·conns... (mod len(reqs)), so every seller's
// token and show is used whatever conns is. Each worker first sends one
// untimed request, which opens its connection; the timed window starts when
// all of them have answered, so it measures the steady state, not a
// connection storm. The untimed requests' errors still count.
func hotLoad(ctx context.Context, c *loadClient, reqs []request, conns int, d time.Duration) (hotRun, error) {
	type workerResult struct {
		latencies []time.Duration
		errors    int
		untimed   int
		sample    string
	}
	results := make([]workerResult, conns)
	var (
		ready    sync.WaitGroup
		done     sync.WaitGroup
		start    = make(chan struct{})
		deadline time.Time // written before start is closed
	)
	ready.Add(conns)
	done.Add(conns)
	for w := range conns {
		go func() {
			defer done.Done()
			res := &results[w]
			res.latencies = make([]time.Duration, 0, 1024)
			note := func(status int, body string, err error) {
				res.errors++
				if res.sample == "" {
					if err != nil {
						res.sample = err.Error()
					} else {
						res.sample = fmt.Sprintf("%d %s", status, body)
					}
				}
			}
			i := w % len(reqs)
			status, body, err := c.do(ctx, reqs[i])
			res.untimed++
			if status != http.StatusOK {
				note(status, body, err)
			}
			ready.Done()
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			for n := 0; n < maxRequestsPerWorker && ctx.Err() == nil; n++ {
				now := time.Now()
				if !now.Before(deadline) {
					break
				}
				i = (i + conns) % len(reqs)
				status, body, err := c.do(ctx, reqs[i])
				res.latencies = append(res.latencies, time.Since(now))
				if status != http.StatusOK {
					note(status, body, err)
				}
			}
		}()
	}
	ready.Wait()
	begin := time.Now()
	deadline = begin.Add(d)
	close(start)
	done.Wait()
	end := time.Now()
	if err := ctx.Err(); err != nil {
		return hotRun{}, err
	}

	h := hotRun{Conns: conns, Elapsed: end.Sub(begin)}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		h.Errors += r.errors
		if h.ErrorSample == "" {
			h.ErrorSample = r.sample
		}
	}
	h.Requests = len(all)
	h.Latency = summarize(all)
	return h, nil
}

// latencies summarizes a sample of request latencies.
type latencies struct {
	P50, P95, P99, Max time.Duration
}

// summarize returns the nearest-rank percentiles of d, which it sorts.
func summarize(d []time.Duration) latencies {
	if len(d) == 0 {
		return latencies{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return latencies{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: d[len(d)-1]}
}

// burstResult is the outcome of sending several requests at once.
type burstResult struct {
	Total       time.Duration // first sent to last answered
	OK, Errors  int
	ErrorSample string
	Latency     latencies
}

// burst sends every request at the same moment, each on a connection of its
// own, and waits for all answers.
func burst(ctx context.Context, c *loadClient, reqs []request) burstResult {
	lat := make([]time.Duration, len(reqs))
	statuses := make([]int, len(reqs))
	samples := make([]string, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			status, body, err := c.do(ctx, r)
			lat[i], statuses[i] = time.Since(t0), status
			switch {
			case err != nil:
				samples[i] = err.Error()
			case status != http.StatusOK:
				samples[i] = fmt.Sprintf("%d %s", status, body)
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	res := burstResult{Total: time.Since(t0)}
	for i, s := range statuses {
		if s == http.StatusOK {
			res.OK++
			continue
		}
		res.Errors++
		if res.ErrorSample == "" {
			res.ErrorSample = samples[i]
		}
	}
	res.Latency = summarize(lat)
	return res
}
