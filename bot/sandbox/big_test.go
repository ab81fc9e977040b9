package sandbox

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestLargeMessagesServedFromDisk: a large message is held by the
// in-memory server as a stub, and UID FETCH gives its real size and whole
// body, streamed from its file.
func TestLargeMessagesServedFromDisk(t *testing.T) {
	info, s := start(t, t.TempDir())
	defer s.Close()
	big := "Subject: big\r\nFrom: a@example.org\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 200000) // 3.6 MB
	small := "Subject: small\r\n\r\nhello\r\n"
	for _, m := range []string{small, big, small} {
		if err := s.Deliver(nil, strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	c := login(t, s, info, nil)
	defer c.Close()
	c.Select("INBOX", nil).Wait()
	done := make(chan struct{})
	var msgs []*imapclient.FetchMessageBuffer
	var err error
	go func() {
		defer close(done)
		sec := &imap.FetchItemBodySection{Peek: true}
		msgs, err = c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		for _, m := range msgs {
			body := m.FindBodySection(sec)
			want := map[imap.UID]string{1: small, 2: big, 3: small}[m.UID]
			if m.RFC822Size != int64(len(want)) || !bytes.Equal(body, []byte(want)) {
				t.Errorf("UID %d: size %d, body %d bytes; want %d", m.UID, m.RFC822Size, len(body), len(want))
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("FETCH did not complete")
	}
	if err != nil || len(msgs) != 3 {
		t.Fatalf("fetched %d messages: %v", len(msgs), err)
	}
	// A mail client asking for more sees the stub, whose header is the
	// message's.
	env, err := c.Fetch(imap.UIDSetNum(2), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil || len(env) != 1 || env[0].Envelope.Subject != "big" {
		t.Errorf("envelope of the large message: %+v, %v", env, err)
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	h, err := c.Fetch(imap.UIDSetNum(2), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
	if err != nil || len(h) != 1 || string(h[0].FindBodySection(hdr)) != "Subject: big\r\nFrom: a@example.org\r\n\r\n" {
		t.Errorf("header of the large message: %q, %v", h[0].FindBodySection(hdr), err)
	}
}
