package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ivs-ingest/ivs-ingest/internal/ingest"
)

// requestIDs lists the entries' request ids, in order.
func requestIDs(entries []ingest.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.RequestID
	}
	return out
}

func readAudit(t *testing.T, s Store, q ingest.AuditQuery) []ingest.AuditEntry {
	t.Helper()
	got, err := s.ReadAudit(context.Background(), q)
	if err != nil {
		t.Fatalf("ReadAudit(%+v): %v", q, err)
	}
	return got
}

func countAudit(t *testing.T, s Store, q ingest.AuditQuery) int {
	t.Helper()
	n, err := s.CountAudit(context.Background(), q)
	if err != nil {
		t.Fatalf("CountAudit(%+v): %v", q, err)
	}
	return n
}

func testAudit(t *testing.T, open Opener) {
	s := open(t, time.Now)
	ctx := context.Background()
	entries := []ingest.AuditEntry{
		{RequestID: "r1", Action: ingest.ActionCreate, Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, ActorUserID: sellerUser,
			SellerID: seller1, ShowID: show1, StreamKeyARN: key1, ClientIP: "127.0.0.1", UserAgent: "ua"},
		{RequestID: "r2", Action: ingest.ActionGet, Outcome: ingest.OutcomeDenied, HTTPStatus: 403, ActorUserID: pendingUser, ShowID: show2},
		{RequestID: "r3", Action: ingest.ActionRevoke, Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, ActorUserID: adminUser,
			ImpersonatedSellerID: seller1, SellerID: seller1, ShowID: show1, Reason: "leaked"},
	}
	for _, e := range entries {
		must(t, "WriteAudit("+e.RequestID+")", s.WriteAudit(ctx, e))
	}
	ignore := cmpopts.IgnoreFields(ingest.AuditEntry{}, "ID", "OccurredAt")
	got := readAudit(t, s, ingest.AuditQuery{ShowID: show1, Limit: 10})
	if diff := cmp.Diff([]ingest.AuditEntry{entries[2], entries[0]}, got, ignore); diff != "" {
		t.Errorf("ReadAudit(show1) mismatch, newest first (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if e.ID == 0 || time.Since(e.OccurredAt) > time.Minute {
			t.Errorf("entry %s: id %d, time %v; want both set", e.RequestID, e.ID, e.OccurredAt)
		}
	}
	if got := requestIDs(readAudit(t, s, ingest.AuditQuery{Limit: 2})); !cmp.Equal(got, []string{"r3", "r2"}) {
		t.Errorf("ReadAudit(limit 2) = %v, want [r3 r2]", got)
	}
	if got := readAudit(t, s, ingest.AuditQuery{Since: time.Now().Add(time.Hour), Limit: 10}); len(got) != 0 {
		t.Errorf("ReadAudit(since an hour ahead) = %v, want none", requestIDs(got))
	}
	// A time given is kept (the operator's commands and these tests).
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	must(t, "WriteAudit(dated)", s.WriteAudit(ctx, ingest.AuditEntry{RequestID: "dated", Action: ingest.ActionGet,
		Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, OccurredAt: at}))
	if got := readAudit(t, s, ingest.AuditQuery{Limit: 1}); len(got) != 1 || !got[0].OccurredAt.Equal(at) {
		t.Errorf("ReadAudit of an entry written at %v = %+v, want that time", at, got)
	}
}

// Paging by id (BeforeID) loses and repeats nothing while entries are
// added between pages, and the domain's pages end exactly.
func testAuditPaging(t *testing.T, open Opener) {
	s := open(t, time.Now)
	seed(t, s)
	ctx := context.Background()
	write := func(id, show string) {
		must(t, "WriteAudit("+id+")", s.WriteAudit(ctx, ingest.AuditEntry{RequestID: id, Action: ingest.ActionGet,
			Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, ActorUserID: sellerUser, ShowID: show}))
	}
	var want []string
	for i := 1; i <= 25; i++ {
		id := fmt.Sprintf("p%02d", i)
		write(id, show1)
		want = append([]string{id}, want...)
		write(fmt.Sprintf("other%02d", i), show2)
	}

	var got []string
	q := ingest.AuditQuery{ShowID: show1, Limit: 10}
	for page := 1; ; page++ {
		entries := readAudit(t, s, q)
		got = append(got, requestIDs(entries)...)
		if len(entries) < q.Limit {
			break
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
		q.BeforeID = entries[len(entries)-1].ID
		// Written while the caller pages: newer than every page, so on
		// none of them.
		for j := range 3 {
			write(fmt.Sprintf("new%d-%d", page, j), show1)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries paged 10 at a time while others were written (-want +got):\n%s", diff)
	}

	// Through the domain: 20 entries of a fresh show in pages of 10 make
	// two pages, the second saying it is the last.
	const show3 = "d0000000-0000-4000-8000-000000000003"
	must(t, "AddShow(show3)", s.AddShow(ctx, ingest.Show{ID: show3, SellerID: seller1}))
	for i := range 20 {
		write(fmt.Sprintf("s3-%02d", i), show3)
	}
	svc := ingest.NewService(s, nil, ingest.Options{})
	caller := ingest.Caller{UserID: sellerUser}
	first, err := svc.ReadAudit(ctx, caller, ingest.AuditQuery{ShowID: show3, Limit: 10})
	if err != nil || len(first.Entries) != 10 || first.NextBeforeID != first.Entries[9].ID {
		t.Fatalf("ReadAudit(show3, limit 10) = %d entries, next %d, %v; want 10 and the last one's id", len(first.Entries), first.NextBeforeID, err)
	}
	second, err := svc.ReadAudit(ctx, caller, ingest.AuditQuery{ShowID: show3, Limit: 10, BeforeID: first.NextBeforeID})
	if err != nil || len(second.Entries) != 10 || second.NextBeforeID != 0 {
		t.Fatalf("ReadAudit(show3, second page) = %d entries, next %d, %v; want 10 and no next page", len(second.Entries), second.NextBeforeID, err)
	}
	if got := append(requestIDs(first.Entries), requestIDs(second.Entries)...); got[0] != "s3-19" || got[19] != "s3-00" {
		t.Errorf("the two pages = %v, want s3-19 down to s3-00", got)
	}
}

func testAuditFilters(t *testing.T, open Opener) {
	s := open(t, time.Now)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for _, e := range []ingest.AuditEntry{
		{RequestID: "3h", Outcome: ingest.OutcomeAllowed, OccurredAt: t0.Add(-3 * time.Hour)},
		{RequestID: "2h", Outcome: ingest.OutcomeDenied, OccurredAt: t0.Add(-2 * time.Hour)},
		{RequestID: "1h", Outcome: ingest.OutcomeError, OccurredAt: t0.Add(-time.Hour)},
		{RequestID: "0h", Outcome: ingest.OutcomeDenied, OccurredAt: t0},
	} {
		e.Action, e.HTTPStatus, e.ShowID = ingest.ActionGet, 200, show1
		must(t, "WriteAudit("+e.RequestID+")", s.WriteAudit(ctx, e))
	}
	tests := []struct {
		name  string
		q     ingest.AuditQuery
		want  []string
		count int
	}{
		{"everything", ingest.AuditQuery{}, []string{"0h", "1h", "2h", "3h"}, 4},
		{"since, inclusive", ingest.AuditQuery{Since: t0.Add(-2 * time.Hour)}, []string{"0h", "1h", "2h"}, 3},
		{"since, just after", ingest.AuditQuery{Since: t0.Add(-2*time.Hour + time.Millisecond)}, []string{"0h", "1h"}, 2},
		{"denied", ingest.AuditQuery{Outcome: ingest.OutcomeDenied}, []string{"0h", "2h"}, 2},
		{"error", ingest.AuditQuery{Outcome: ingest.OutcomeError}, []string{"1h"}, 1},
		{"denied since", ingest.AuditQuery{Outcome: ingest.OutcomeDenied, Since: t0.Add(-90 * time.Minute)}, []string{"0h"}, 1},
		{"another show", ingest.AuditQuery{ShowID: show2}, []string{}, 0},
	}
	for _, tt := range tests {
		tt.q.Limit = 10
		if tt.q.ShowID == "" {
			tt.q.ShowID = show1
		}
		if got := requestIDs(readAudit(t, s, tt.q)); !cmp.Equal(tt.want, got) {
			t.Errorf("%s: ReadAudit = %v, want %v", tt.name, got, tt.want)
		}
		if got := countAudit(t, s, tt.q); got != tt.count {
			t.Errorf("%s: CountAudit = %d, want %d", tt.name, got, tt.count)
		}
	}
	// The count stops at the limit, and ignores BeforeID.
	if got := countAudit(t, s, ingest.AuditQuery{ShowID: show1, Limit: 2}); got != 2 {
		t.Errorf("CountAudit(limit 2) = %d, want 2", got)
	}
	first := readAudit(t, s, ingest.AuditQuery{ShowID: show1, Limit: 1})
	if got := countAudit(t, s, ingest.AuditQuery{ShowID: show1, Limit: 10, BeforeID: first[0].ID}); got != 4 {
		t.Errorf("CountAudit(before the newest) = %d, want 4 (BeforeID ignored)", got)
	}
}

// The owner's view: the owner's own entries, admins' (without actor, client
// IP or user agent) and the operator's; everyone else's only counted.
func testAuditOwnerView(t *testing.T, open Opener) {
	s := open(t, time.Now)
	seed(t, s)
	ctx := context.Background()
	entries := []ingest.AuditEntry{
		{RequestID: "owner", Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, ActorUserID: sellerUser, ShowID: show1,
			ClientIP: "192.0.2.1", UserAgent: "obs"},
		{RequestID: "admin", Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, ActorUserID: adminUser, ImpersonatedSellerID: seller1,
			SellerID: seller1, ShowID: show1, ClientIP: "198.51.100.7", UserAgent: "admin-console"},
		{RequestID: "pending", Outcome: ingest.OutcomeDenied, HTTPStatus: 403, ActorUserID: pendingUser, ShowID: show1,
			ClientIP: "203.0.113.9", UserAgent: "curl"},
		{RequestID: "nobody", Outcome: ingest.OutcomeDenied, HTTPStatus: 403, ActorUserID: nobodyUser, ShowID: show1},
		{RequestID: "operator", Outcome: ingest.OutcomeAllowed, SellerID: seller1, ShowID: show1, Reason: "batch command"},
		{RequestID: "nobody-error", Outcome: ingest.OutcomeError, HTTPStatus: 500, ActorUserID: nobodyUser, ShowID: show1},
		{RequestID: "owner-elsewhere", Outcome: ingest.OutcomeDenied, HTTPStatus: 403, ActorUserID: sellerUser, ShowID: show2},
	}
	for _, e := range entries {
		e.Action = ingest.ActionGet
		must(t, "WriteAudit("+e.RequestID+")", s.WriteAudit(ctx, e))
	}

	// The store filters and counts as told.
	mine := ingest.AuditQuery{ShowID: show1, Limit: 10, Actors: ingest.ActorFilter{UserID: sellerUser}}
	if got := requestIDs(readAudit(t, s, mine)); !cmp.Equal(got, []string{"operator", "admin", "owner"}) {
		t.Errorf("ReadAudit(the owner's, admins' and the operator's) = %v, want [operator admin owner]", got)
	}
	others := mine
	others.Actors.Others = true
	if got := requestIDs(readAudit(t, s, others)); !cmp.Equal(got, []string{"nobody-error", "nobody", "pending"}) {
		t.Errorf("ReadAudit(others') = %v, want [nobody-error nobody pending]", got)
	}
	if got := countAudit(t, s, others); got != 3 {
		t.Errorf("CountAudit(others') = %d, want 3", got)
	}

	// The domain decides who gets which view.
	svc := ingest.NewService(s, nil, ingest.Options{})
	read := func(caller string, q ingest.AuditQuery) ingest.AuditPage {
		t.Helper()
		q.Limit = 10
		p, err := svc.ReadAudit(ctx, ingest.Caller{UserID: caller}, q)
		if err != nil {
			t.Fatalf("ReadAudit(%s, %+v): %v", caller, q, err)
		}
		return p
	}
	count := func(p ingest.AuditPage) string {
		if p.OtherEntries == nil {
			return "none"
		}
		return fmt.Sprint(*p.OtherEntries)
	}
	ignore := cmpopts.IgnoreFields(ingest.AuditEntry{}, "ID", "OccurredAt", "Action")
	view := read(sellerUser, ingest.AuditQuery{ShowID: show1})
	redacted := entries[1]
	redacted.ActorUserID, redacted.ClientIP, redacted.UserAgent = "", "", ""
	if diff := cmp.Diff([]ingest.AuditEntry{entries[4], redacted, entries[0]}, view.Entries, ignore); diff != "" {
		t.Errorf("the owner's view (-want +got):\n%s", diff)
	}
	if count(view) != "3" {
		t.Errorf("the owner's view counts %s entries by others, want 3", count(view))
	}
	if p := read(sellerUser, ingest.AuditQuery{ShowID: show1, Outcome: ingest.OutcomeDenied}); len(p.Entries) != 0 || count(p) != "2" {
		t.Errorf("the owner's view of denials = %v, %s others; want none, 2 others", requestIDs(p.Entries), count(p))
	}
	// The pending seller sees nothing of the other seller's denial on their show.
	if p := read(pendingUser, ingest.AuditQuery{ShowID: show2}); len(p.Entries) != 0 || count(p) != "1" {
		t.Errorf("the pending owner's view of show2 = %v, %s others; want none, 1 other", requestIDs(p.Entries), count(p))
	}
	// Admins see every entry as it is.
	all := read(adminUser, ingest.AuditQuery{ShowID: show1})
	if got := requestIDs(all.Entries); len(got) != 6 || count(all) != "none" || all.Entries[4].ClientIP != "198.51.100.7" {
		t.Errorf("an admin's view = %v, %s others; want all 6 entries with their client IPs, no count", got, count(all))
	}
	// Who is an admin is read when the entries are.
	must(t, "AddAdmin(nobody)", s.AddAdmin(ctx, nobodyUser))
	view = read(sellerUser, ingest.AuditQuery{ShowID: show1})
	if got := requestIDs(view.Entries); !cmp.Equal(got, []string{"nobody-error", "operator", "nobody", "admin", "owner"}) || count(view) != "1" {
		t.Errorf("the owner's view once nobodyUser is an admin = %v, %s others; want their entries in, 1 other", got, count(view))
	}
}

// Retention deletes the entries older than its cutoff, oldest first, in
// batches of the size asked for, and nothing newer.
func testAuditRetention(t *testing.T, open Opener) {
	s := open(t, time.Now)
	ctx := context.Background()
	now := time.Now()
	write := func(id string, at time.Time) {
		must(t, "WriteAudit("+id+")", s.WriteAudit(ctx, ingest.AuditEntry{RequestID: id, Action: ingest.ActionGet,
			Outcome: ingest.OutcomeAllowed, HTTPStatus: 200, OccurredAt: at}))
	}
	write("recent", now.Add(-time.Hour))
	for i := range 7 {
		write(fmt.Sprintf("old%d", i), now.Add(-time.Duration(10+i)*24*time.Hour))
	}
	write("just-new-enough", now.Add(-5*24*time.Hour+time.Minute))
	cutoff := now.Add(-5 * 24 * time.Hour)
	var batches []int
	for range 5 {
		n, err := s.DeleteAuditBefore(ctx, cutoff, 3)
		must(t, "DeleteAuditBefore", err)
		batches = append(batches, n)
		if n == 0 {
			break
		}
	}
	if !cmp.Equal(batches, []int{3, 3, 1, 0}) {
		t.Errorf("DeleteAuditBefore in batches of 3 deleted %v, want [3 3 1 0]", batches)
	}
	if got := requestIDs(readAudit(t, s, ingest.AuditQuery{Limit: 10})); !cmp.Equal(got, []string{"just-new-enough", "recent"}) {
		t.Errorf("entries left = %v, want [just-new-enough recent]", got)
	}

	// Through the domain: an age of 0 keeps everything; an age deletes
	// what is older.
	write("old-again", now.Add(-30*24*time.Hour))
	if res, err := ingest.NewRetention(s, ingest.RetentionOptions{}).Prune(ctx); err != nil || res.Deleted != 0 {
		t.Errorf("Prune() with no age = %+v, %v; want nothing deleted", res, err)
	}
	res, err := ingest.NewRetention(s, ingest.RetentionOptions{Age: 2 * time.Hour}).Prune(ctx)
	if err != nil || res.Deleted != 2 || res.Skipped || res.More {
		t.Errorf("Prune() with an age of 2h = %+v, %v; want 2 deleted", res, err)
	}
	if got := requestIDs(readAudit(t, s, ingest.AuditQuery{Limit: 10})); !cmp.Equal(got, []string{"recent"}) {
		t.Errorf("entries left = %v, want [recent]", got)
	}
}
