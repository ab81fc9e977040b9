// Package imaptest serves a real IMAP mailbox for tests: go-imap's
// in-process server on loopback, one user with an INBOX.
package imaptest

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Server is a running mailbox.
type Server struct {
	Addr string // host:port on 127.0.0.1
	user *imapmemserver.User
}

// Serve starts a server for user and password, over implicit TLS when
// tlsCfg is set, else plain (LOGIN allowed: loopback only). It stops when
// the test ends.
func Serve(tb testing.TB, tlsCfg *tls.Config, user, password string) *Server {
	tb.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, password)
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: tlsCfg == nil,
	})
	var ln net.Listener
	var err error
	if tlsCfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return &Server{Addr: ln.Addr().String(), user: u}
}

// Deliver puts raw into INBOX, as an MTA would.
func (s *Server) Deliver(tb testing.TB, raw []byte) {
	tb.Helper()
	if _, err := s.user.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{}); err != nil {
		tb.Fatal(err)
	}
}

type literal struct{ *bytes.Reader }
