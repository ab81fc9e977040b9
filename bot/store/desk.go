package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// The desk's sign-in: each account is a roster person. A local account
// keeps its argon2id password hash and TOTP secret here; an account that
// signs in through OpenID Connect needs no row. Sessions are kept by the
// SHA-256 of their id (a copy of the database signs nobody in), failed
// sign-ins by account and by address for the limits.

// DeskAccount is a roster person's local sign-in.
type DeskAccount struct {
	Person       string // roster address, lower case
	PasswordHash string // argon2id, PHC string
	TOTPSecret   string // base32; "" until enrolled
	TOTPLastStep int64  // the last TOTP step signed in with (each once)
	CreatedAt    time.Time
}

// DeskSession is one signed-in person.
type DeskSession struct {
	IDHash    string
	Person    string
	CSRF      string
	Via       string
	CreatedAt time.Time
	SeenAt    time.Time
}

// PutDeskAccount creates or replaces person's local sign-in, audited as by.
func (s *Store) PutDeskAccount(ctx context.Context, a DeskAccount, by string, now time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		a.Person = strings.ToLower(a.Person)
		if _, err := tx.exec(`INSERT INTO desk_accounts (person, password_hash, totp_secret, totp_last_step, created_at) VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (person) DO UPDATE SET password_hash = excluded.password_hash, totp_secret = excluded.totp_secret, totp_last_step = 0`,
			a.Person, a.PasswordHash, a.TOTPSecret, ms(now)); err != nil {
			return err
		}
		// A new password ends the person's sessions.
		if _, err := tx.exec(`DELETE FROM desk_sessions WHERE person = ?`, a.Person); err != nil {
			return err
		}
		return tx.AuditFrom(0, now, by, "desk-account-set", "local sign-in (password and TOTP) set for "+a.Person, "cli", "")
	})
}

// DeskAccount returns person's local sign-in (ErrNotFound without one).
func (s *Store) DeskAccount(ctx context.Context, person string) (DeskAccount, error) {
	var a DeskAccount
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT person, password_hash, totp_secret, totp_last_step, created_at FROM desk_accounts WHERE person = ?`, strings.ToLower(person)).
		Scan(&a.Person, &a.PasswordHash, &a.TOTPSecret, &a.TOTPLastStep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	a.CreatedAt = fromMS(created)
	return a, err
}

// SignedIn records a sign-in: the TOTP step it used (raised only, so a
// code is never taken twice, also by a racing request) and the new
// session, audited. It reports false when step was taken meanwhile.
func (s *Store) SignedIn(ctx context.Context, sess DeskSession, totpStep int64, address string) (bool, error) {
	ok := true
	err := s.Tx(ctx, func(tx *Tx) error {
		if totpStep > 0 {
			res, err := tx.exec(`UPDATE desk_accounts SET totp_last_step = ? WHERE person = ? AND totp_last_step < ?`, totpStep, sess.Person, totpStep)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				ok = false
				return nil
			}
		}
		if _, err := tx.exec(`INSERT INTO desk_sessions (id_hash, person, csrf, via, created_at, seen_at) VALUES (?, ?, ?, ?, ?, ?)`,
			sess.IDHash, strings.ToLower(sess.Person), sess.CSRF, sess.Via, ms(sess.CreatedAt), ms(sess.SeenAt)); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM signin_failures WHERE key = ?`, "account:"+strings.ToLower(sess.Person)); err != nil {
			return err
		}
		return tx.AuditFrom(0, sess.CreatedAt, sess.Person, "desk-signed-in", "via "+sess.Via+" from "+address, "desk", sess.IDHash[:12])
	})
	return ok, err
}

// DeskSession returns the session whose id hashes to idHash.
func (s *Store) DeskSession(ctx context.Context, idHash string) (DeskSession, error) {
	var d DeskSession
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT id_hash, person, csrf, via, created_at, seen_at FROM desk_sessions WHERE id_hash = ?`, idHash).
		Scan(&d.IDHash, &d.Person, &d.CSRF, &d.Via, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	d.CreatedAt, d.SeenAt = fromMS(created), fromMS(seen)
	return d, err
}

// TouchDeskSession records a request of the session at now (for its idle
// expiry); written at most once a minute.
func (s *Store) TouchDeskSession(ctx context.Context, idHash string, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE desk_sessions SET seen_at = ? WHERE id_hash = ? AND seen_at < ?`, ms(now), idHash, ms(now.Add(-time.Minute)))
	return err
}

// EndDeskSession ends a session (sign-out, expiry), audited when a person
// signed out.
func (s *Store) EndDeskSession(ctx context.Context, idHash, why string, now time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		var person string
		err := tx.queryRow(`SELECT person FROM desk_sessions WHERE id_hash = ?`, idHash).Scan(&person)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM desk_sessions WHERE id_hash = ?`, idHash); err != nil {
			return err
		}
		return tx.AuditFrom(0, now, person, "desk-signed-out", why, "desk", idHash[:12])
	})
}

// SignInFailed counts a failed sign-in against each key (account:ADDRESS,
// addr:IP), audited with why; it returns the failures of each key since
// since, this one included.
func (s *Store) SignInFailed(ctx context.Context, keys []string, who, why string, now, since time.Time) ([]int, error) {
	counts := make([]int, len(keys))
	err := s.Tx(ctx, func(tx *Tx) error {
		for i, k := range keys {
			if _, err := tx.exec(`INSERT INTO signin_failures (key, at) VALUES (?, ?)`, k, ms(now)); err != nil {
				return err
			}
			if _, err := tx.exec(`DELETE FROM signin_failures WHERE key = ? AND at < ?`, k, ms(since)); err != nil {
				return err
			}
			if err := tx.queryRow(`SELECT COUNT(*) FROM signin_failures WHERE key = ?`, k).Scan(&counts[i]); err != nil {
				return err
			}
		}
		return tx.AuditFrom(0, now, who, "desk-sign-in-failed", why, "desk", "")
	})
	return counts, err
}

// SignInFailures returns the failures of key since since.
func (s *Store) SignInFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_failures WHERE key = ? AND at >= ?`, key, ms(since)).Scan(&n)
	return n, err
}
