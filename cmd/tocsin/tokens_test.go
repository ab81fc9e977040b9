package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tocsin/bot/store"
)

// TestTokensCreateListRevoke pins issue 15 §4 "one bearer token does
// everything": tokens belong to a roster person or an integration, with
// scopes; the token is printed once and the store keeps only its hash;
// list never shows it; creating and revoking are audited.
func TestTokensCreateListRevoke(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, group := range []string{"tokens", "tokens create", "tokens list", "tokens revoke"} {
		if _, _, err := run(append(strings.Fields(group), "--help")...); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v", group, err)
		}
	}
	secret, _, err := run("tokens", "create", "--person", "Tara@sandbox.test", "--scopes", "read,act", "--data", dir)
	secret = strings.TrimSpace(secret)
	if err != nil || !strings.HasPrefix(secret, "tocsin_") || len(secret) < 40 {
		t.Fatalf("create: %q, %v", secret, err)
	}
	if _, _, err := run("tokens", "create", "--integration", "siem", "--scopes", "read", "--data", dir); err != nil {
		t.Fatalf("create for an integration: %v", err)
	}
	// Refused: a unit contact with the officer scope, an unknown scope,
	// no owner, both owners.
	for _, args := range [][]string{
		{"--person", "uma@sandbox.test", "--scopes", "officer"},
		{"--person", "tara@sandbox.test", "--scopes", "write"},
		{"--scopes", "read"},
		{"--person", "tara@sandbox.test", "--integration", "x", "--scopes", "read"},
	} {
		if _, _, err := run(append([]string{"tokens", "create", "--data", dir}, args...)...); err == nil {
			t.Errorf("create %v: accepted", args)
		}
	}

	out, _, err := run("tokens", "list", "--json", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var toks []store.APIToken
	if err := json.Unmarshal([]byte(out), &toks); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(toks) != 2 || toks[0].Owner() != "tara@sandbox.test" || strings.Join(toks[0].Scopes, ",") != "read,act" || toks[1].Owner() != "integration:siem" {
		t.Errorf("tokens %+v, want tara's (read,act) and integration:siem's", toks)
	}
	text, _, err := run("tokens", "list", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, listing := range []string{out, text} {
		if strings.Contains(listing, secret) || strings.Contains(listing, secret[len("tocsin_"):]) {
			t.Errorf("tokens list shows the token:\n%s", listing)
		}
	}
	if !strings.Contains(text, "tara@sandbox.test") {
		t.Errorf("tokens list lacks the owner:\n%s", text)
	}

	if _, _, err := run("tokens", "revoke", "1", "--data", dir); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, _, err := run("tokens", "revoke", "1", "--data", dir); err == nil {
		t.Error("revoking twice: accepted")
	}
	if _, _, err := run("tokens", "revoke", "99", "--data", dir); err == nil {
		t.Error("revoking an unknown token: accepted")
	}
	out, _, _ = run("tokens", "list", "--json", "--data", dir)
	toks = nil
	json.Unmarshal([]byte(out), &toks)
	if len(toks) != 2 || toks[0].RevokedAt.IsZero() || !toks[1].RevokedAt.IsZero() {
		t.Errorf("after revoking token 1: %+v", toks)
	}

	// The database holds no plaintext token, in any of its files.
	files, _ := filepath.Glob(filepath.Join(dir, "tocsin.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the plaintext token", f)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tocsin.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var actions []string
	rows, err := db.QueryContext(context.Background(), `SELECT action FROM audit WHERE action LIKE 'api-token-%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	if strings.Join(actions, " ") != "api-token-created api-token-created api-token-revoked" {
		t.Errorf("audit %v, want two tokens created and one revoked", actions)
	}
}
