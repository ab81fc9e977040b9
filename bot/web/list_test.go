package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
)

// TestAPIListPages (issue 18): the incident list says how many there are
// and pages by cursor to the last one, never stopping in silence; bad
// paging is 400.
func TestAPIListPages(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		for i := range 5 {
			if _, err := tx.CreateIncident("SEC", store.Incident{Priority: "P3", Category: "other", Subject: fmt.Sprint("r", i), CreatedAt: t0.AddDate(0, 0, i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Config: &config.Config{}, Store: st, Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(t0), APITokens: []string{"plain-config-token-0123456789"}})
	type page struct {
		Incidents []struct {
			ID string `json:"id"`
		} `json:"incidents"`
		Total int    `json:"total"`
		Next  string `json:"next_cursor"`
	}
	get := func(q string) (int, page) {
		req := httptest.NewRequest("GET", "/api/v1/incidents"+q, nil)
		req.Header.Set("Authorization", "Bearer plain-config-token-0123456789")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var p page
		json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, p
	}
	var ids []string
	q := "?limit=2"
	for pages := 0; ; pages++ {
		code, p := get(q)
		if code != 200 || p.Total != 5 || pages > 3 {
			t.Fatalf("%s: %d %+v", q, code, p)
		}
		for _, i := range p.Incidents {
			ids = append(ids, i.ID)
		}
		if p.Next == "" {
			break
		}
		q = "?limit=2&cursor=" + p.Next
	}
	if fmt.Sprint(ids) != "[SEC-2026-0005 SEC-2026-0004 SEC-2026-0003 SEC-2026-0002 SEC-2026-0001]" {
		t.Errorf("paged through %v", ids)
	}
	if code, p := get("?since=2026-11-04"); code != 200 || p.Total != 2 || len(p.Incidents) != 2 || p.Next != "" {
		t.Errorf("since: %d %+v", code, p)
	}
	for _, bad := range []string{"?limit=0", "?limit=5000", "?cursor=x", "?since=yesterday"} {
		if code, _ := get(bad); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}
