package bot_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"tocsin/bot/store"
	"tocsin/config"
)

// apiAs calls the API with token and returns the status.
func (d *daemon) apiAs(token, method, path string) int {
	d.t.Helper()
	req, _ := http.NewRequest(method, "http://"+d.addrs.HTTP+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type auditRow struct {
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Platform  string `json:"platform"`
	RequestID string `json:"request_id"`
}

// auditOf is the incident's audit with who did what from where.
func (d *daemon) auditOf(id string) []auditRow {
	d.t.Helper()
	var out struct {
		Status string     `json:"status"`
		Audit  []auditRow `json:"audit"`
	}
	if code := d.api("GET", "/api/v1/incidents/"+id, nil, &out); code != 200 {
		d.t.Fatalf("GET incident %s: %d", id, code)
	}
	return out.Audit
}

// TestAPITokensArePeopleWithScopes pins issue 15 §4 "a person behind
// every API call": a read-only token reads but cannot close (403) and
// nothing changes; a person whose roster role may not close in chat
// cannot through the API either, whatever the token's scopes, and the
// refusal is audited; a revoked token gets 401; the sandbox's token is
// the officer's, and its close is audited as the officer, from the API,
// naming the token, never as "api".
func TestAPITokensArePeopleWithScopes(t *testing.T) {
	d, fake := startTreeSandbox(t, nil)
	id := d.firstReport("tok1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	d.waitState(id, "team-alerted", "notified")

	st, err := store.OpenSQLite(context.Background(), filepath.Join(d.cfg.DataDir, "tocsin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const readOnly, umas = "tara-read-only-token-0123456789", "uma-officer-token-0123456789"
	readID, err := st.CreateAPIToken(ctx, store.APIToken{Person: "tara@sandbox.test", Scopes: []string{config.ScopeRead}}, readOnly, "test", fake.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Made past the CLI's check: the roster role must still refuse.
	if _, err := st.CreateAPIToken(ctx, store.APIToken{Person: "uma@sandbox.test", Scopes: config.APIScopes}, umas, "test", fake.Now()); err != nil {
		t.Fatal(err)
	}

	if code := d.apiAs(readOnly, "GET", "/api/v1/incidents/"+id); code != 200 {
		t.Errorf("read-only token reading: %d, want 200", code)
	}
	if code := d.apiAs(readOnly, "POST", "/api/v1/incidents/"+id+"/close"); code != 403 {
		t.Errorf("read-only token closing: %d, want 403", code)
	}
	if code := d.apiAs(umas, "POST", "/api/v1/incidents/"+id+"/close"); code != 403 {
		t.Errorf("a unit contact's officer-scoped token closing: %d, want 403", code)
	}
	if inc := d.incident(id); inc.Status != "open" {
		t.Errorf("status %s after refused closes, want open", inc.Status)
	}
	refused := 0
	for _, a := range d.auditOf(id) {
		if a.Action == "closed" {
			t.Errorf("a refused close wrote %+v", a)
		}
		if a.Action == "api-refused" && a.Actor == "uma@sandbox.test" && a.Platform == "api" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d api-refused entries naming uma, want 1", refused)
	}

	if err := st.RevokeAPIToken(ctx, readID, "test", fake.Now()); err != nil {
		t.Fatal(err)
	}
	if code := d.apiAs(readOnly, "GET", "/api/v1/incidents/"+id); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}

	if code := d.api("POST", "/api/v1/incidents/"+id+"/close", nil, nil); code != 200 {
		t.Fatalf("the officer's close: %d", code)
	}
	var closed []auditRow
	for _, a := range d.auditOf(id) {
		if a.Action == "closed" {
			closed = append(closed, a)
		}
	}
	if len(closed) != 1 || closed[0].Actor != "officer@sandbox.test" || closed[0].Platform != "api" || !strings.HasPrefix(closed[0].RequestID, "token-") {
		t.Errorf("closed entries %+v, want one by officer@sandbox.test from the api naming its token", closed)
	}
}
