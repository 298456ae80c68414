// Package budgettest checks, for tests, the promise every call budget makes:
// calls start far enough apart that no second holds more than the rate.
package budgettest

import (
	"slices"
	"testing"
	"time"
)

// CheckSpacing fails t when two of starts (in any order) are closer than
// interval, or when any one-second window holds more than rate of them.
func CheckSpacing(t testing.TB, starts []time.Time, interval time.Duration, rate int) {
	t.Helper()
	sorted := slices.SortedFunc(slices.Values(starts), func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(sorted); i++ {
		if gap := sorted[i].Sub(sorted[i-1]); gap < interval {
			t.Errorf("starts %d and %d are %s apart, want at least %s", i-1, i, gap, interval)
		}
	}
	// [sorted[i], sorted[i]+1s) holds starts i..i+rate unless the (rate+1)th
	// is a full second later.
	for i := 0; i+rate < len(sorted); i++ {
		if span := sorted[i+rate].Sub(sorted[i]); span < time.Second {
			t.Errorf("%d starts within %s from start %d, want at most %d in any second", rate+1, span, i, rate)
		}
	}
}
