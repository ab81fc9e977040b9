package responders

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"tocsin/config"
	"tocsin/tokens"
)

// SendError is a failed delivery. Temporary failures (network trouble, SMTP
// 4xx, authentication the operator can fix) are retried by the outbox;
// permanent ones (SMTP 5xx to MAIL, RCPT or DATA) are not.
type SendError struct {
	Temporary bool
	// RetryAfter is how long the other side asked us to wait (HTTP 429
	// Retry-After); zero when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	return fmt.Sprintf("%s failure: %v", kind, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying. Errors that do not say
// are taken as temporary: retrying is the safe default for a desk that must
// not lose an answer.
func IsTemporary(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return true
}

// SMTP submits raw messages through go-mail's SMTP client (dialling,
// implicit TLS or STARTTLS, AUTH). It keeps one connection open between
// sends and resets it with RSET, so a burst of answers costs one handshake.
type SMTP struct {
	cfg    config.SMTP
	secret string
	tokens *tokens.Source

	mu   sync.Mutex
	conn *gosmtp.Client
	cli  *gomail.Client
	used time.Time
}

// NewSMTP returns a sender for cfg; the password is resolved now, OAuth2
// tokens at each connection.
func NewSMTP(cfg config.SMTP) (*SMTP, error) {
	s := &SMTP{cfg: cfg}
	if cfg.OAuth2 != nil {
		s.tokens = &tokens.Source{File: cfg.OAuth2.TokenFile, Command: cfg.OAuth2.TokenCommand, Lifetime: cfg.OAuth2.Lifetime}
	} else if cfg.Username != "" {
		pw, err := cfg.Secret.Resolve()
		if err != nil {
			return nil, fmt.Errorf("smtp password: %w", err)
		}
		s.secret = pw
	}
	return s, nil
}

func (s *SMTP) dial(ctx context.Context) error {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.cfg.Host, InsecureSkipVerify: s.cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}),
	}
	switch s.cfg.TLS {
	case config.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case config.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		pw, auth := s.secret, gomail.SMTPAuthPlain
		if s.tokens != nil {
			tok, err := s.tokens.Token(ctx)
			if err != nil {
				return &SendError{Temporary: true, Err: err}
			}
			pw, auth = tok, gomail.SMTPAuthXOAUTH2
		} else if s.cfg.TLS == config.TLSNone {
			// Plain AUTH over an unencrypted link: allowed by config.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(pw))
	}
	cli, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return &SendError{Temporary: false, Err: fmt.Errorf("smtp client: %w", err)}
	}
	conn, err := cli.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return &SendError{Temporary: true, Err: fmt.Errorf("connecting to %s: %w", net.JoinHostPort(s.cfg.Host, fmt.Sprint(s.cfg.Port)), err)}
	}
	s.cli, s.conn = cli, conn
	return nil
}

// Send submits raw from the envelope sender to the recipients.
func (s *SMTP) Send(ctx context.Context, from string, to []string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && (time.Since(s.used) > 30*time.Second || s.conn.Reset() != nil) {
		s.closeLocked()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		s.conn.UpdateDeadline(time.Until(dl))
	} else {
		s.conn.UpdateDeadline(s.cfg.Timeout)
	}
	err := s.transaction(from, to, raw)
	if err != nil {
		s.closeLocked()
		return err
	}
	s.used = time.Now()
	return nil
}

func (s *SMTP) transaction(from string, to []string, raw []byte) error {
	if err := s.conn.Mail(from); err != nil {
		return classify("MAIL FROM", err)
	}
	for _, rcpt := range to {
		if err := s.conn.Rcpt(rcpt); err != nil {
			return classify("RCPT TO "+rcpt, err)
		}
	}
	w, err := s.conn.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classify("end of DATA", err)
	}
	return nil
}

func classify(step string, err error) error {
	var tpe *textproto.Error
	if errors.As(err, &tpe) && tpe.Code >= 500 {
		return &SendError{Temporary: false, Err: fmt.Errorf("%s: %w", step, err)}
	}
	return &SendError{Temporary: true, Err: fmt.Errorf("%s: %w", step, err)}
}

// Close ends the cached connection, if any.
func (s *SMTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	return nil
}

// Probe connects, says EHLO, STARTTLS and AUTH as configured, and quits
// without sending: what `tocsin check --connect` tries.
func (s *SMTP) Probe(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	if err := s.dial(ctx); err != nil {
		var se *SendError
		if errors.As(err, &se) {
			return se.Err
		}
		return err
	}
	s.closeLocked()
	return nil
}

func (s *SMTP) closeLocked() {
	if s.conn != nil {
		s.cli.CloseWithSMTPClient(s.conn)
		s.conn, s.cli = nil, nil
	}
}
