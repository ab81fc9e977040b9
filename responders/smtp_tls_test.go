package responders

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"tocsin/config"
	"tocsin/internal/testtls"
)

// TestSMTPOverTLS: implicit TLS (port 465 style) and STARTTLS, each with
// AUTH, which the server offers only on an encrypted link.
func TestSMTPOverTLS(t *testing.T) {
	for _, mode := range []string{config.TLSImplicit, config.TLSStartTLS} {
		t.Run(mode, func(t *testing.T) {
			s := &sink{authUser: "bot", authPass: "pw"}
			srv := smtp.NewServer(s)
			srv.TLSConfig = testtls.SelfSigned(t)
			srv.AllowInsecureAuth = false
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if mode == config.TLSImplicit {
				ln = tls.NewListener(ln, srv.TLSConfig)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			p, _ := strconv.Atoi(port)
			cfg := config.SMTP{Server: config.Server{Host: "127.0.0.1", Port: p, TLS: mode, Username: "bot", Secret: config.Secret{Password: "pw"}, InsecureSkipVerify: true}, Timeout: 5 * time.Second}
			snd, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			if err := snd.Send(context.Background(), "security@example.com", []string{"r@example.org"}, []byte("Subject: tls\r\n\r\nhi\r\n")); err != nil {
				t.Fatalf("send over %s: %v", mode, err)
			}
			if len(s.got) != 1 {
				t.Errorf("delivered %d", len(s.got))
			}
			// Without skipping verification the self-signed server is refused.
			cfg.InsecureSkipVerify = false
			strict, _ := NewSMTP(cfg)
			defer strict.Close()
			if err := strict.Send(context.Background(), "security@example.com", []string{"r@example.org"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
				t.Error("an unverifiable certificate was accepted")
			}
		})
	}
}

// TestSMTPTimeout: a server that accepts the connection and then says
// nothing costs one timeout, not a hung dispatcher.
func TestSMTPTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	snd, _ := NewSMTP(config.SMTP{Server: config.Server{Host: "127.0.0.1", Port: p, TLS: config.TLSNone}, Timeout: 300 * time.Millisecond})
	defer snd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = snd.Send(ctx, "a@example.com", []string{"b@example.org"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !IsTemporary(err) {
		t.Errorf("silent server: %v; want a temporary failure", err)
	}
	if ctx.Err() != nil {
		t.Error("the send hung until the outer deadline instead of timing out")
	}
}
