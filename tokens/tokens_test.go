package tokens

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileTokenIsReReadWhenDue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(path, []byte("first\n"), 0o600)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Source{File: path, Lifetime: 10 * time.Minute, Now: func() time.Time { return now }}
	if tok, err := s.Token(context.Background()); err != nil || tok != "first" {
		t.Fatalf("token = %q, %v", tok, err)
	}
	os.WriteFile(path, []byte("second\n"), 0o600)
	now = now.Add(5 * time.Minute)
	if tok, _ := s.Token(context.Background()); tok != "first" {
		t.Errorf("token re-read before it was due: %q", tok)
	}
	now = now.Add(4*time.Minute + 30*time.Second) // within the 1-minute margin of expiry
	if tok, _ := s.Token(context.Background()); tok != "second" {
		t.Errorf("token not refreshed before expiry: %q", tok)
	}
}

func TestCommandTokenWithExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Source{Command: `echo '{"access_token":"ya29.abc","expires_in":3600}'`, Now: func() time.Time { return now }}
	tok, err := s.Token(context.Background())
	if err != nil || tok != "ya29.abc" {
		t.Fatalf("token = %q, %v", tok, err)
	}
	if !s.expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry %v, want an hour from now", s.expires)
	}
	bad := &Source{Command: "echo oops >&2; exit 3"}
	if _, err := bad.Token(context.Background()); err == nil {
		t.Error("a failing command gave a token")
	}
	empty := &Source{Command: "echo '{}'"}
	if _, err := empty.Token(context.Background()); err == nil {
		t.Error("JSON without access_token gave a token")
	}
}
