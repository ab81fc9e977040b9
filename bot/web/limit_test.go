package web

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if !l.allow("a") {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	if l.allow("a") {
		t.Error("fourth request allowed past a burst of 3")
	}
	if !l.allow("b") {
		t.Error("another client was limited by the first")
	}
	now = now.Add(61 * time.Second)
	if !l.allow("a") {
		t.Error("no token back after a minute")
	}
	if l.allow("a") {
		t.Error("more than one token back after a minute")
	}
	now = now.Add(time.Hour)
	l.prune(now)
	if len(l.buckets) != 0 {
		t.Errorf("%d refilled buckets kept after prune", len(l.buckets))
	}
}
