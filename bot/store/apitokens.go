package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// APIToken is an API token as the store keeps it: whose it is and what it
// may do, never the token itself (only its SHA-256, which the token's
// 128 bits or more of randomness make as good as the token for a
// look-up and useless to whoever reads the database).
type APIToken struct {
	ID          int64     `json:"id"`
	Person      string    `json:"person,omitempty"`      // roster address, lower case
	Integration string    `json:"integration,omitempty"` // or the integration's name
	Scopes      []string  `json:"scopes"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	LastUsedAt  time.Time `json:"last_used_at,omitzero"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

// Owner is who the audit names for the token: the person's address, or
// integration:NAME.
func (t APIToken) Owner() string {
	if t.Person != "" {
		return t.Person
	}
	return "integration:" + t.Integration
}

// tokenHash is what the store keeps of a token.
func tokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// lastUsedEvery bounds the writes "last used" costs: a token used again
// within a minute is not written again.
const lastUsedEvery = time.Minute

// CreateAPIToken keeps a new token for tok's owner and scopes, audited in
// the same transaction as by; it returns the token's id.
func (s *Store) CreateAPIToken(ctx context.Context, tok APIToken, secret, by string, now time.Time) (int64, error) {
	var id int64
	err := s.Tx(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.addAPIToken(tok, secret, by, "cli", now)
		return err
	})
	return id, err
}

func (t *Tx) addAPIToken(tok APIToken, secret, by, platform string, now time.Time) (int64, error) {
	if secret == "" {
		return 0, errors.New("an empty token is no token")
	}
	var id int64
	err := t.queryRow(`INSERT INTO api_tokens (token_hash, person, integration, scopes, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		tokenHash(secret), strings.ToLower(tok.Person), tok.Integration, strings.Join(tok.Scopes, ","), ms(now), by).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("keeping API token: %w", err)
	}
	tok.ID = id
	return id, t.AuditFrom(0, now, by, "api-token-created", fmt.Sprintf("API token %d for %s, scopes %s", id, tok.Owner(), strings.Join(tok.Scopes, ",")), platform, "")
}

// EnsureAPIToken keeps secret as tok unless the store has it already
// (revoked or not: a revoked token stays revoked). It reports whether it
// was added.
func (s *Store) EnsureAPIToken(ctx context.Context, tok APIToken, secret, by string, now time.Time) (bool, error) {
	added := false
	err := s.Tx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(`SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?`, tokenHash(secret)).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.addAPIToken(tok, secret, by, "", now)
		added = err == nil
		return err
	})
	return added, err
}

// ErrRevoked: the token was revoked already.
var ErrRevoked = errors.New("revoked already")

// RevokeAPIToken revokes token id, audited as by; an unknown id is
// ErrNotFound, a revoked one ErrRevoked.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, by string, now time.Time) error {
	return s.Tx(ctx, func(tx *Tx) error {
		tok, err := scanAPIToken(tx.queryRow(`SELECT `+apiTokenCols+` FROM api_tokens WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("API token %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !tok.RevokedAt.IsZero() {
			return fmt.Errorf("API token %d: %w", id, ErrRevoked)
		}
		if _, err := tx.exec(`UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return err
		}
		return tx.AuditFrom(0, now, by, "api-token-revoked", fmt.Sprintf("API token %d of %s revoked", id, tok.Owner()), "cli", "")
	})
}

const apiTokenCols = `id, person, integration, scopes, created_at, created_by, last_used_at, revoked_at`

func scanAPIToken(row rowScanner) (APIToken, error) {
	var t APIToken
	var scopes string
	var created, used, revoked int64
	if err := row.Scan(&t.ID, &t.Person, &t.Integration, &scopes, &created, &t.CreatedBy, &used, &revoked); err != nil {
		return t, err
	}
	if scopes != "" {
		t.Scopes = strings.Split(scopes, ",")
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMS(created), fromMS(used), fromMS(revoked)
	return t, nil
}

// ListAPITokens lists every token, revoked ones too, oldest first.
func (s *Store) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UseAPIToken returns the live token secret is, and records its use; an
// unknown or revoked token is ErrNotFound.
func (s *Store) UseAPIToken(ctx context.Context, secret string, now time.Time) (APIToken, error) {
	st, err := s.read(`SELECT ` + apiTokenCols + ` FROM api_tokens WHERE token_hash = ? AND revoked_at = 0`)
	if err != nil {
		return APIToken{}, err
	}
	tok, err := scanAPIToken(st.QueryRowContext(ctx, tokenHash(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, ErrNotFound
	}
	if err != nil {
		return APIToken{}, err
	}
	if now.Sub(tok.LastUsedAt) >= lastUsedEvery {
		if _, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, ms(now), tok.ID); err != nil {
			return APIToken{}, fmt.Errorf("recording the use of API token %d: %w", tok.ID, err)
		}
		tok.LastUsedAt = now
	}
	return tok, nil
}
