package sandbox

import (
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCloseWaitsForWritesInFlight: Close returns only once no handler
// writes under DATA, so a test's TempDir cleanup never races one
// (TestReportFormIsRateLimited once failed with "TempDir RemoveAll:
// directory not empty": a confirmation mail still being kept in
// DATA/sent after the daemon had stopped). Each write is held in flight
// in the test hook while Close runs: Close must not return until it is
// let go, and what it wrote is whole when Close returns.
func TestCloseWaitsForWritesInFlight(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(s *Servers) error
		files string
	}{
		{"smtp: mail kept in DATA/sent", func(s *Servers) error {
			return smtp.SendMail(s.SMTPAddr, nil, "security@sandbox.test", []string{"victim@example.org"},
				[]byte("Message-ID: <c1@sandbox.test>\r\nSubject: confirm\r\n\r\nconfirm your address\r\n"))
		}, "sent/*.eml"},
		{"chat: a card captured in DATA/chat", func(s *Servers) error {
			resp, err := http.Post(s.ChatURL+"/slack/api/chat.postMessage", "application/x-www-form-urlencoded", strings.NewReader("channel=C1&text=card"))
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, "chat/*-slack-chat.postMessage.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, s := start(t, dir)
			reached, release := make(chan struct{}), make(chan struct{})
			hook := func() { close(reached); <-release }
			testHookWrite.Store(&hook)
			defer testHookWrite.Store(nil)
			go tc.write(s) // its outcome is what Close makes of it
			select {
			case <-reached:
			case <-time.After(10 * time.Second):
				t.Fatal("the write never began")
			}
			closed := make(chan struct{})
			go func() { s.Close(); close(closed) }()
			select {
			case <-closed:
				close(release)
				t.Fatal("Close returned while a handler was still to write under DATA")
			case <-time.After(300 * time.Millisecond):
			}
			close(release)
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return once the write was let go")
			}
			files, _ := filepath.Glob(filepath.Join(dir, tc.files))
			if len(files) != 1 {
				t.Fatalf("%d files %s after Close, want the one written in flight", len(files), tc.files)
			}
			if b, err := os.ReadFile(files[0]); err != nil || len(b) == 0 {
				t.Errorf("%s: %v, %d bytes", files[0], err, len(b))
			}
			// A write after Close is refused, not begun.
			if !s.busy.enter() {
				return
			}
			t.Error("a write was let in after Close")
		})
	}
}
