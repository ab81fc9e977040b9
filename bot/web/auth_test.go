package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
)

// TestAPIScopes pins issue 15 §4 "one bearer token does everything":
// each route needs its scope (403 without it, and the change is never
// asked for), a revoked store token gets 401, a config token naming no
// owner only reads and reports, and the change is asked for in the
// name of the token's owner.
func TestAPIScopes(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	reader, err := st.CreateAPIToken(ctx, store.APIToken{Person: "ann@example.com", Scopes: []string{config.ScopeRead}}, "ann-read-token-0123456789", "test", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIToken(ctx, store.APIToken{Integration: "soar", Scopes: []string{config.ScopeOfficer}}, "soar-officer-token-0123456789", "test", now); err != nil {
		t.Fatal(err)
	}
	var closedBy []Caller
	s := New(Options{Config: &config.Config{}, Store: st, Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(now),
		APITokens: []string{"plain-config-token-0123456789"},
		Close: func(_ context.Context, ref string, by Caller) error {
			closedBy = append(closedBy, by)
			return nil
		}})
	call := func(token, method, path string) int {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		token, method, path string
		want                int
	}{
		{"ann-read-token-0123456789", "GET", "/api/v1/incidents", 200},
		{"ann-read-token-0123456789", "POST", "/api/v1/incidents/SEC-2026-0001/close", 403},
		{"plain-config-token-0123456789", "GET", "/api/v1/incidents", 200},
		{"plain-config-token-0123456789", "POST", "/api/v1/incidents/SEC-2026-0001/close", 403},
		{"soar-officer-token-0123456789", "GET", "/api/v1/incidents", 403},
		{"wrong-token-0123456789", "GET", "/api/v1/incidents", 401},
		{"", "GET", "/api/v1/incidents", 401},
	} {
		if got := call(c.token, c.method, c.path); got != c.want {
			t.Errorf("%s %s with %q: %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}
	if len(closedBy) != 0 {
		t.Errorf("refused closes reached the desk: %+v", closedBy)
	}
	if got := call("soar-officer-token-0123456789", "POST", "/api/v1/incidents/SEC-2026-0001/close"); got != 404 || len(closedBy) != 1 || closedBy[0].Actor() != "integration:soar" {
		// 404: the store has no such incident to show after the close.
		t.Errorf("officer-scoped close: %d, asked for %+v; want it asked for as integration:soar", got, closedBy)
	}
	// The scheme's name is case-insensitive (RFC 7235).
	for _, scheme := range []string{"bearer", "BEARER", "BeArEr"} {
		req := httptest.NewRequest("GET", "/api/v1/incidents", nil)
		req.Header.Set("Authorization", scheme+" ann-read-token-0123456789")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("Authorization: %s TOKEN: %d, want 200", scheme, rec.Code)
		}
	}
	if err := st.RevokeAPIToken(ctx, reader, "test", now); err != nil {
		t.Fatal(err)
	}
	if got := call("ann-read-token-0123456789", "GET", "/api/v1/incidents"); got != 401 {
		t.Errorf("revoked token: %d, want 401", got)
	}
}

// TestAPIAnswersAreInert: the API's JSON carries hostile text with what
// a terminal would obey escaped as \uXXXX (printable.JSON): nothing raw
// in the body, the same text once decoded.
func TestAPIAnswersAreInert(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var inc *store.Incident
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P2", Category: "other", Subject: printabletest.Hostile, Reporter: "r@example.org", CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Config: &config.Config{}, Store: st, Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(now),
		APITokens: []string{"plain-config-token-0123456789"}})
	for _, path := range []string{"/api/v1/incidents/" + inc.Ref, "/api/v1/incidents"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer plain-config-token-0123456789")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, body)
		}
		if bad := printable.Unsafe(body); bad != "" {
			t.Errorf("%s answers %s raw", path, bad)
		}
		if !strings.Contains(body, `\u202e`) || !strings.Contains(body, `\u009b`) {
			t.Errorf("%s: the escapes are not there:\n%s", path, body)
		}
		var any1 any
		if err := json.Unmarshal(rec.Body.Bytes(), &any1); err != nil || !strings.Contains(fmt.Sprint(any1), printabletest.Hostile) {
			t.Errorf("%s: decoded, the subject is not the same: %v", path, err)
		}
	}
}
