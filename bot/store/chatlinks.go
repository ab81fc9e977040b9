package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
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
// earlier one of the same user, linked or not: it returns the person the
// user was linked to until now ("" if none), for the audit.
func (t *Tx) RequestChatLink(platform, userID, person, code string, expires time.Time) (string, error) {
	var was string
	err := t.queryRow(`SELECT person FROM chat_links WHERE platform = ? AND user_id = ? AND linked_at > 0`, platform, userID).Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	_, err = t.exec(`INSERT INTO chat_links (platform, user_id, person, code_hash, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (platform, user_id) DO UPDATE SET person = excluded.person, code_hash = excluded.code_hash, tries = 0,
		expires_at = excluded.expires_at, linked_at = 0`, platform, userID, person, codeHash(code), ms(expires))
	return was, err
}

// UnlinkChat ends a chat user's link (and any code they wait for); it
// returns the person they were linked to, ErrNotFound when they were not.
func (t *Tx) UnlinkChat(platform, userID string) (string, error) {
	var was string
	err := t.queryRow(`SELECT person FROM chat_links WHERE platform = ? AND user_id = ? AND linked_at > 0`, platform, userID).Scan(&was)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	_, err = t.exec(`DELETE FROM chat_links WHERE platform = ? AND user_id = ?`, platform, userID)
	return was, err
}

// LinkRequests counts the link requests made since: by the chat user,
// and for address (whoever asked). Requests older than a day are dropped
// on the way.
func (t *Tx) LinkRequests(platform, userID, address string, since time.Time) (byUser, forAddress int, err error) {
	if _, err := t.exec(`DELETE FROM chat_link_requests WHERE at < ?`, ms(since.Add(-24*time.Hour))); err != nil {
		return 0, 0, err
	}
	err = t.queryRow(`SELECT
		(SELECT COUNT(*) FROM chat_link_requests WHERE platform = ? AND user_id = ? AND at >= ?),
		(SELECT COUNT(*) FROM chat_link_requests WHERE address = ? AND at >= ?)`,
		platform, userID, ms(since), strings.ToLower(address), ms(since)).Scan(&byUser, &forAddress)
	return byUser, forAddress, err
}

// AddLinkRequest records a link request, counted by LinkRequests.
func (t *Tx) AddLinkRequest(platform, userID, address string, at time.Time) error {
	_, err := t.exec(`INSERT INTO chat_link_requests (platform, user_id, address, at) VALUES (?, ?, ?, ?)`, platform, userID, strings.ToLower(address), ms(at))
	return err
}

// ErrBadCode: no pending link, an expired one, or the wrong code.
var ErrBadCode = errors.New("no such link code (wrong, expired or too many tries)")

// ConfirmChatLink links the chat user when code is the one mailed; it
// returns the person. A wrong code counts a try, and after maxLinkTries
// even the right one fails: the caller must commit the transaction on
// ErrBadCode too, or the count is lost (issue 15: it was rolled back, and
// 1,000 guesses linked an account).
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
