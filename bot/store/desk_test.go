package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestDeskSignIn: an account signs in once per TOTP step (a racing second
// use of the same step is refused), its session is found by the hash of
// its id, touched, ended; a new password ends every session; failures
// count per key within the window; each is audited and the chain holds.
func TestDeskSignIn(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	if _, err := s.DeskAccount(ctx, "tara@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no account yet: %v", err)
	}
	if err := s.PutDeskAccount(ctx, DeskAccount{Person: "Tara@example.com", PasswordHash: "$argon2id$x", TOTPSecret: "JBSWY3DPEHPK3PXP"}, "admin@example.com", now); err != nil {
		t.Fatal(err)
	}
	a, err := s.DeskAccount(ctx, "tara@example.com")
	if err != nil || a.PasswordHash != "$argon2id$x" || a.TOTPLastStep != 0 {
		t.Fatalf("account %+v %v", a, err)
	}
	sess := DeskSession{IDHash: "aaaaaaaaaaaaaaaa", Person: "tara@example.com", CSRF: "c1", Via: "password+totp", CreatedAt: now, SeenAt: now}
	if ok, err := s.SignedIn(ctx, sess, 100, "127.0.0.1"); !ok || err != nil {
		t.Fatalf("sign-in: %v %v", ok, err)
	}
	again := sess
	again.IDHash = "bbbbbbbbbbbbbbbb"
	if ok, err := s.SignedIn(ctx, again, 100, "127.0.0.1"); ok || err != nil {
		t.Errorf("the same TOTP step twice: %v %v", ok, err)
	}
	if _, err := s.DeskSession(ctx, again.IDHash); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused sign-in left a session: %v", err)
	}
	got, err := s.DeskSession(ctx, sess.IDHash)
	if err != nil || got.Person != "tara@example.com" || got.CSRF != "c1" {
		t.Fatalf("session %+v %v", got, err)
	}
	if err := s.TouchDeskSession(ctx, sess.IDHash, now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeskSession(ctx, sess.IDHash); !got.SeenAt.Equal(now.Add(5 * time.Minute)) {
		t.Errorf("seen %v after a touch", got.SeenAt)
	}
	// A new password ends the sessions.
	if err := s.PutDeskAccount(ctx, DeskAccount{Person: "tara@example.com", PasswordHash: "$argon2id$y"}, "admin@example.com", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeskSession(ctx, sess.IDHash); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session outlived a new password: %v", err)
	}
	// Failures count per key within the window.
	for i := range 3 {
		counts, err := s.SignInFailed(ctx, []string{"account:tara@example.com", "addr:192.0.2.7"}, "tara@example.com", "wrong password", now.Add(time.Duration(i)*time.Minute), now.Add(-15*time.Minute))
		if err != nil || counts[0] != i+1 || counts[1] != i+1 {
			t.Fatalf("failure %d: %v %v", i, counts, err)
		}
	}
	if n, _ := s.SignInFailures(ctx, "addr:192.0.2.7", now.Add(90*time.Second)); n != 1 {
		t.Errorf("failures since 90 s: %d, want 1", n)
	}
	sess.IDHash = "cccccccccccccccc"
	s.SignedIn(ctx, sess, 0, "127.0.0.1")
	if err := s.EndDeskSession(ctx, sess.IDHash, "signed out", now); err != nil {
		t.Fatal(err)
	}
	var actions []string
	rows, _ := s.r.Query(`SELECT action FROM audit WHERE action LIKE 'desk-%' ORDER BY id`)
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	if want := "[desk-account-set desk-signed-in desk-account-set desk-sign-in-failed desk-sign-in-failed desk-sign-in-failed desk-signed-in desk-signed-out]"; fmt.Sprint(actions) != want {
		t.Errorf("audited %v, want %s", actions, want)
	}
	if n, brk := verify(t, s, anchorNow(t, s)); brk != nil {
		t.Errorf("verify: %d %+v", n, brk)
	}
}
