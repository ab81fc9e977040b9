package sandbox

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestMailboxSurvivesRestart: delivered mail is on disk before it is
// accepted, and comes back after a restart with the same UIDs.
func TestMailboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	info, err := LoadOrCreateInfo(dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(dir, info, "127.0.0.1:0", "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Deliver([]byte(fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	info2, _ := LoadOrCreateInfo(dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0")
	if info2.IMAPPassword != info.IMAPPassword || info2.APIToken != info.APIToken {
		t.Error("secrets changed across restarts")
	}
	s2, err := Start(dir, info2, "127.0.0.1:0", "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c, err := imapclient.DialInsecure(s2.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(info2.IMAPUser, info2.IMAPPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Select("INBOX", nil).Wait()
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("after restart: %d messages, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if m.UID != imap.UID(i+1) || m.Envelope.Subject != fmt.Sprintf("m%d", i) {
			t.Errorf("message %d: UID %d subject %q", i, m.UID, m.Envelope.Subject)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "sandbox.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sandbox.json mode %v, %v; want 0600 (it holds secrets)", fi.Mode().Perm(), err)
	}
}
