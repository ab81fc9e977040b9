package sandbox

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestMailboxSurvivesRestart: delivered mail is on disk before it is
// accepted and comes back after a restart, in order, under a new
// UIDVALIDITY; mail marked deleted (Tocsin's processed action) is set
// aside on disk and not loaded again.
func TestMailboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	info, s := start(t, dir)
	for i := range 3 {
		if err := s.Deliver(nil, strings.NewReader(fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Tocsin processes m1 and deletes it.
	c := login(t, s, info, nil)
	sel, _ := c.Select("INBOX", nil).Wait()
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(2)).Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "mailbox", "processed", "0000000001.eml")); err != nil {
		t.Errorf("processed mail not kept aside: %v", err)
	}

	info2, s2 := start(t, dir)
	if info2.IMAPPassword != info.IMAPPassword || info2.APIToken != info.APIToken {
		t.Error("secrets changed across restarts")
	}
	defer s2.Close()
	c = login(t, s2, info2, nil)
	defer c.Close()
	sel2, _ := c.Select("INBOX", nil).Wait()
	if sel2.UIDValidity == sel.UIDValidity {
		t.Errorf("UIDVALIDITY %d kept across a restart that renumbered the mailbox", sel2.UIDValidity)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("after restart: %d messages, %v", len(msgs), err)
	}
	for i, want := range []string{"m0", "m2"} {
		if msgs[i].Envelope.Subject != want {
			t.Errorf("message %d: subject %q, want %q", i, msgs[i].Envelope.Subject, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "sandbox.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sandbox.json mode %v, %v; want 0600 (it holds secrets)", fi.Mode().Perm(), err)
	}
}

// TestIdleReportsMailDeliveredJustBefore: a message delivered after the
// client's NOOP and before its IDLE is reported as soon as IDLE starts,
// not at the next poll (go-imap's tracker alone reports only what
// happens during IDLE).
func TestIdleReportsMailDeliveredJustBefore(t *testing.T) {
	info, s := start(t, t.TempDir())
	defer s.Close()
	exists := make(chan uint32, 8)
	c := login(t, s, info, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}}})
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(nil, strings.NewReader("Subject: between\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message delivered before IDLE was not reported during IDLE")
	}
}

// start starts the sandbox's servers on loopback with their state in
// dir (the caller closes them).
func start(t *testing.T, dir string) (*Info, *Servers) {
	t.Helper()
	info, err := LoadOrCreateInfo(dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(dir, info, "127.0.0.1:0", "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return info, s
}

// login is an IMAP client of s, logged in (the caller closes it).
func login(t *testing.T, s *Servers, info *Info, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.IMAPAddr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(info.IMAPUser, info.IMAPPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}
