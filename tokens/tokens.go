// Package tokens supplies OAuth2 access tokens for SASL XOAUTH2 and
// OAUTHBEARER (RFC 7628) logins to Microsoft 365 and Gmail. Tocsin does not
// run an OAuth flow: a file that another tool keeps fresh, or a command that
// prints a token, does. Tokens are cached and fetched again before they
// expire.
package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Source hands out a valid access token.
type Source struct {
	File     string        // re-read when the cached token is due
	Command  string        // run with sh -c
	Lifetime time.Duration // for tokens that carry no expiry
	// Margin is how long before expiry a token is refreshed.
	Margin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Token returns a cached token, or a fresh one when the cached one is
// within Margin of its expiry.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	margin := s.Margin
	if margin == 0 {
		margin = time.Minute
	}
	if s.token != "" && now().Add(margin).Before(s.expires) {
		return s.token, nil
	}
	var out []byte
	var err error
	switch {
	case s.File != "":
		out, err = os.ReadFile(s.File)
	case s.Command != "":
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var stderr strings.Builder
		cmd := exec.CommandContext(cctx, "sh", "-c", s.Command)
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
	default:
		return "", errors.New("no token_file or token_command")
	}
	if err != nil {
		return "", fmt.Errorf("getting OAuth2 token: %w", err)
	}
	tok, exp, err := parse(out, now())
	if err != nil {
		return "", err
	}
	if exp.IsZero() {
		lt := s.Lifetime
		if lt == 0 {
			lt = 5 * time.Minute
		}
		exp = now().Add(lt)
	}
	s.token, s.expires = tok, exp
	return tok, nil
}

// parse reads a bare token or a JSON object with access_token and either
// expires_in (seconds) or expiry (RFC 3339), as oauth2 tools print them.
func parse(out []byte, now time.Time) (string, time.Time, error) {
	text := strings.TrimSpace(string(out))
	if strings.HasPrefix(text, "{") {
		var v struct {
			AccessToken string    `json:"access_token"`
			ExpiresIn   float64   `json:"expires_in"`
			Expiry      time.Time `json:"expiry"`
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return "", time.Time{}, fmt.Errorf("token JSON: %w", err)
		}
		if v.AccessToken == "" {
			return "", time.Time{}, errors.New("token JSON has no access_token")
		}
		exp := v.Expiry
		if v.ExpiresIn > 0 {
			exp = now.Add(time.Duration(v.ExpiresIn * float64(time.Second)))
		}
		return v.AccessToken, exp, nil
	}
	if text == "" || strings.ContainsAny(text, " \n\t") {
		return "", time.Time{}, errors.New("token source printed no single token")
	}
	return text, time.Time{}, nil
}
