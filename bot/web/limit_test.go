package web

import (
	"net/http/httptest"
	"net/netip"
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

func TestClientKey(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"192.0.2.7:5000", "", nil, "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "", nil, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:5000", "", nil, "2001:db8:1:2::/64"}, // the same /64: one client
		{"[::ffff:192.0.2.7]:5000", "", nil, "192.0.2.7"},
		// A forged X-Forwarded-For from an untrusted client is ignored.
		{"192.0.2.7:5000", "198.51.100.1", nil, "192.0.2.7"},
		{"192.0.2.7:5000", "198.51.100.1", trusted, "192.0.2.7"},
		// Through a trusted proxy: the last hop that is not one.
		{"10.1.1.1:5000", "198.51.100.1, 203.0.113.9, 10.2.2.2", trusted, "203.0.113.9"},
		{"10.1.1.1:5000", "", trusted, "10.1.1.1"},
	} {
		r := httptest.NewRequest("POST", "/report", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientKey(r, tc.trusted); got != tc.want {
			t.Errorf("clientKey(%s, XFF %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}
