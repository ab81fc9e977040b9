package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"
)

// maxLinkTries is how many wrong codes end a link request.
const maxLinkTries = 5

func codeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// RequestChatLink records that a chat user asked to be linked to person,
// with the code mailed to them, until expires. A new request replaces an
// earlier one of the same user, linked or not.
func (t *Tx) RequestChatLink(platform, userID, person, code string, expires time.Time) error {
	_, err := t.exec(`INSERT INTO chat_links (platform, user_id, person, code_hash, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (platform, user_id) DO UPDATE SET person = excluded.person, code_hash = excluded.code_hash, tries = 0,
		expires_at = excluded.expires_at, linked_at = 0`, platform, userID, person, codeHash(code), ms(expires))
	return err
}

// ErrBadCode: no pending link, an expired one, or the wrong code.
var ErrBadCode = errors.New("no such link code (wrong, expired or too many tries)")

// ConfirmChatLink links the chat user when code is the one mailed; it
// returns the person.
func (t *Tx) ConfirmChatLink(platform, userID, code string, now time.Time) (string, error) {
	var person, hash string
	var tries int
	var expires int64
	err := t.queryRow(`SELECT person, code_hash, tries, expires_at FROM chat_links WHERE platform = ? AND user_id = ? AND linked_at = 0`,
		platform, userID).Scan(&person, &hash, &tries, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrBadCode
	}
	if err != nil {
		return "", err
	}
	if tries >= maxLinkTries || now.After(fromMS(expires)) || subtle.ConstantTimeCompare([]byte(hash), []byte(codeHash(code))) != 1 {
		_, err := t.exec(`UPDATE chat_links SET tries = tries + 1 WHERE platform = ? AND user_id = ?`, platform, userID)
		if err != nil {
			return "", err
		}
		return "", ErrBadCode
	}
	_, err = t.exec(`UPDATE chat_links SET linked_at = ?, code_hash = '' WHERE platform = ? AND user_id = ?`, ms(now), platform, userID)
	return person, err
}

// ChatLink returns the roster person a chat user is linked to.
func (s *Store) ChatLink(ctx context.Context, platform, userID string) (string, bool, error) {
	var person string
	err := s.r.QueryRowContext(ctx, `SELECT person FROM chat_links WHERE platform = ? AND user_id = ? AND linked_at > 0`, platform, userID).Scan(&person)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return person, err == nil, err
}

// FirstRequest records a verified chat request by key (what its
// signature covers, or a Socket Mode envelope's id: never a header's
// text) and reports whether it is new: a replay of one seen since
// keepSince is not. Older records are dropped on the way.
func (s *Store) FirstRequest(ctx context.Context, key string, now, keepSince time.Time) (bool, error) {
	var added bool
	err := s.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`DELETE FROM chat_requests WHERE seen_at < ?`, ms(keepSince)); err != nil {
			return err
		}
		res, err := tx.exec(`INSERT INTO chat_requests (sig_hash, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, codeHash(key), ms(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added = n == 1
		return nil
	})
	return added, err
}
