// Package signin is how a person signs in to the desk: a local password
// (argon2id) with a TOTP second factor, or (wired by the desk) a verified
// e-mail claim from an OpenID Connect provider; then a session, known by
// a random id in a cookie, with a CSRF token for every state change, an
// idle and an absolute expiry, a new id at each sign-in. Failed sign-ins
// are limited per account and per address.
//
// The package keeps no state of its own: sessions live behind Store (the
// desk's database), so a restart or a second instance keeps them.
package signin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106 second recommended option, with 64 MiB):
// about 50 ms on one core of a small server.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// HashPassword returns the PHC string of password under argon2id with a
// random salt ($argon2id$v=19$m=65536,t=3,p=2$SALT$HASH), for the config's
// or the store's password hash.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("an empty password is no password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// ErrBadHash: the stored hash is not an argon2id PHC string.
var ErrBadHash = errors.New("not an argon2id password hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")

// CheckPassword reports whether password matches hash, in constant time
// over the derived key; a malformed hash is an error, never a match.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false, ErrBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, ErrBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewToken returns n random bytes, hex: a session id, a CSRF token.
func NewToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24)
	return hex.EncodeToString(b)
}

// HashID is what the store keeps of a session id: never the id itself, so
// a copy of the database signs nobody in.
func HashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Session is one signed-in person.
type Session struct {
	IDHash  string // HashID of the cookie's id
	Person  string // roster address
	CSRF    string // the token every state change carries
	Via     string // password+totp, oidc:ISSUER
	Created time.Time
	Seen    time.Time
}

// Policy bounds a session's life.
type Policy struct {
	Idle     time.Duration // since the last request
	Absolute time.Duration // since sign-in
}

// DefaultPolicy: 30 minutes idle, 12 hours in all (a night's shift).
var DefaultPolicy = Policy{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// Live reports whether s may still be used at now.
func (p Policy) Live(s Session, now time.Time) bool {
	return now.Sub(s.Seen) < p.Idle && now.Sub(s.Created) < p.Absolute
}
