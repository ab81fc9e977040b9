package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tocsin/bot/metrics"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
	"tocsin/parsers"
)

// TestIncidentPageRendersEveryField renders the incident page with a
// report that has every optional field set, so that no template branch
// can fail only in production.
func TestIncidentPageRendersEveryField(t *testing.T) {
	s := New(Options{Config: &config.Config{}, Log: slog.New(slog.DiscardHandler)})
	r := parsers.Report{From: "a@example.org", FromName: "A", Organisation: "Org", SenderClass: "cert", Category: "incident", Priority: "P1",
		PriorityReasons: []string{"rule x"}, AutoSubmitted: true, AutoReason: "why", Text: "<script>alert(1)</script>",
		PGP:            parsers.PGP{Signed: true, Verified: true, Reason: "good signature by F00"},
		Authentication: parsers.Authentication{Server: "mx.example.com", DKIM: "pass", SPF: "fail", DMARC: "none"},
		SpoofSigns:     []string{"display name shows x"}, CVEs: []string{"CVE-2026-1"},
		CVSS:           []parsers.CVSS{{Vector: "CVSS:3.1/AV:N", BaseScore: 9.8, Severity: "critical"}, {Vector: "CVSS:4.0/AV:N", BaseScore: -1}},
		AffectedAssets: []string{"pay.example.com"}, Indicators: parsers.Indicators{IPv4: []string{"192.0.2.1"}, URLs: []string{"http://x"}},
		Attachments: []parsers.Attachment{{Name: "f.bin", Size: 3}}, Feedback: &parsers.Feedback{Format: "arf", Type: "abuse"},
		IODEF: &parsers.IODEF{IncidentID: "I-1"}, Forwarded: []parsers.Forwarded{{From: "f@example.org", Subject: "s"}}, Warnings: []string{"w"}}
	rj, _ := json.Marshal(r)
	d := &store.IncidentDetail{Incident: store.Incident{Ref: "SEC-2026-0001"}, Messages: []store.Message{{Direction: "in", Report: rj, CreatedAt: time.Now()}}}
	w := httptest.NewRecorder()
	s.render(w, "incident.html", map[string]any{"Desk": config.Desk{}, "I": d, "Readings": []struct {
		At time.Time
		R  parsers.Report
	}{{time.Now(), r}}})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("render: %d %s", w.Code, body)
	}
	for _, want := range []string{"mx.example.com: DKIM pass, SPF fail", "display name shows x", "9.8 (critical)", "I-1", "f@example.org: s", "&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestMetricsToken(t *testing.T) {
	reg := metrics.New()
	reg.Counter("x_total", "X.").Inc()
	h := MetricsHandler(reg, "a-long-metrics-token-1234")
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer a-long-metrics-token-1234", 200},
		{"bearer a-long-metrics-token-1234", 200}, {"BEARER a-long-metrics-token-1234", 200}, {"Basic a-long-metrics-token-1234", 401}} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code || tc.code == 200 && !strings.Contains(rec.Body.String(), "x_total 1") {
			t.Errorf("%q: %d, want %d\n%s", tc.auth, rec.Code, tc.code, rec.Body.String())
		}
	}
}

// TestEmptyDeskPasswordNeverSignsIn: a desk user whose password is empty
// cannot sign in with an empty password.
func TestEmptyDeskPasswordNeverSignsIn(t *testing.T) {
	s := New(Options{Config: &config.Config{}, Log: slog.New(slog.DiscardHandler), DeskUsers: map[string]string{"desk": ""}})
	req := httptest.NewRequest("GET", "/", nil)
	req.SetBasicAuth("desk", "")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("empty password: %d, want 401", rec.Code)
	}
}

// TestInternalErrorsStayInTheLog: a failing store gives the client a short
// message and an id, never the internal error.
func TestInternalErrorsStayInTheLog(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // every query now fails
	var logged strings.Builder
	s := New(Options{Config: &config.Config{}, Store: st, APITokens: []string{"tok-0123456789abcdef"},
		Log: slog.New(slog.NewTextHandler(&logged, nil))})
	req := httptest.NewRequest("GET", "/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var body map[string]string
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 500 || body["error"] != "internal error" || len(body["id"]) != 8 || strings.Contains(rec.Body.String(), "closed") {
		t.Errorf("answer %d %s", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logged.String(), body["id"]) || !strings.Contains(logged.String(), "closed") {
		t.Errorf("log %q lacks the id and the error", logged.String())
	}
}

// TestSandboxClockOnlyInTheSandbox: /api/v1/sandbox/clock exists only
// when the daemon gives a clock control (the sandbox); elsewhere it is
// 404, token or not. It never moves back.
func TestSandboxClockOnlyInTheSandbox(t *testing.T) {
	post := func(s *Server, body string) int {
		req := httptest.NewRequest("POST", "/api/v1/sandbox/clock", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	opts := Options{Config: &config.Config{}, Log: slog.New(slog.DiscardHandler),
		Tokens: []Token{{Secret: "tok-0123456789abcdef", Caller: Caller{Person: "officer@example.com", Scopes: config.APIScopes}}}}
	if code := post(New(opts), `{"advance":"1h"}`); code != 404 {
		t.Errorf("outside the sandbox: %d, want 404", code)
	}
	var moved time.Duration
	opts.SandboxClock = func(_ context.Context, d time.Duration, _ Caller) (time.Time, error) {
		moved += d
		return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Add(moved), nil
	}
	s := New(opts)
	if code := post(s, `{"advance":"1h30m"}`); code != 200 || moved != 90*time.Minute {
		t.Errorf("in the sandbox: %d, moved %v", code, moved)
	}
	if code := post(s, `{"advance":"-1h"}`); code != 400 || moved != 90*time.Minute {
		t.Errorf("moving back: %d, moved %v", code, moved)
	}
}

// TestPagesAreInert (issue 15, section 7): with the hostile string in
// every string the incident page and the index could print (subject,
// reporter, every field of a report, outbox recipient and error, audit
// detail, call tree and drafts), no page keeps its control characters or
// bidi overrides: html/template escapes HTML, printable the rest.
func TestPagesAreInert(t *testing.T) {
	const hostile = printabletest.Hostile
	s := New(Options{Config: &config.Config{}, Log: slog.New(slog.DiscardHandler)})
	var r parsers.Report
	spoilAll(reflect.ValueOf(&r).Elem(), hostile, 0)
	var d store.IncidentDetail
	spoilAll(reflect.ValueOf(&d).Elem(), hostile, 0)
	d.Messages[0].Report, _ = json.Marshal(r)
	readings := []struct {
		At time.Time
		R  parsers.Report
	}{{time.Now(), r}}
	pages := map[string]any{
		"incident.html": map[string]any{"Desk": config.Desk{Name: hostile}, "I": &d, "Readings": readings},
		"index.html": map[string]any{"Desk": config.Desk{Name: hostile}, "Incidents": []store.Incident{d.Incident}, "Failed": d.Outbox,
			"Outbox": map[string]int{}, "Sent": []sentFile{{Name: hostile}}},
	}
	for page, data := range pages {
		w := httptest.NewRecorder()
		s.render(w, page, data)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, "pwned") {
			t.Fatalf("%s: %d, the hostile string not shown:\n%s", page, w.Code, body)
		}
		if bad := printable.Unsafe(body); bad != "" {
			t.Errorf("%s keeps %s", page, bad)
		}
		if n := strings.Count(body, printabletest.Shown); n < 3 {
			t.Errorf("%s shows the escapes of %d fields, want every field's", page, n)
		}
	}
}

// spoilAll sets every settable string in v to s (and gives every empty
// slice one element and every nil pointer a value, so that all of them
// are there to print), depth levels deep.
func spoilAll(v reflect.Value, s string, depth int) {
	if depth > 6 || !v.CanSet() && v.Kind() != reflect.Struct {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		if v.Type().Elem().Kind() != reflect.Struct || v.Type().Elem().PkgPath() == "time" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		spoilAll(v.Elem(), s, depth+1)
	case reflect.Slice:
		if k := v.Type().Elem().Kind(); k != reflect.String && k != reflect.Struct {
			return
		}
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := range v.Len() {
			spoilAll(v.Index(i), s, depth+1)
		}
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				spoilAll(v.Field(i), s, depth+1)
			}
		}
	}
}
