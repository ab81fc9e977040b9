package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"tocsin/bot/store"
	"tocsin/config"
)

// Caller is who an API request acts for: a roster person or a named
// integration, within the scopes of its token. Every API change is
// audited in the caller's name, never as a bare "api".
type Caller struct {
	// TokenID is the store's id of the token; 0 for a token of the config.
	TokenID     int64
	Person      string // roster address, lower case
	Integration string // or the integration's name
	Scopes      []string
}

// Actor is how the audit names the caller: the person's address, or
// integration:NAME.
func (c Caller) Actor() string {
	if c.Person != "" {
		return c.Person
	}
	return "integration:" + c.Integration
}

// Can reports whether the caller's token carries scope.
func (c Caller) Can(scope string) bool { return slices.Contains(c.Scopes, scope) }

// RequestID names the token in the audit entry ("token-7"), so that what
// a token did can be found once it is revoked.
func (c Caller) RequestID() string {
	if c.TokenID == 0 {
		return "config-token"
	}
	return fmt.Sprintf("token-%d", c.TokenID)
}

// Token is a token of the config with whose it is.
type Token struct {
	Secret string
	Caller Caller
}

// ErrForbidden marks a change the caller's roster role does not allow
// (403), as chat refuses it to the same person.
var ErrForbidden = errors.New("not allowed")

type callerKey struct{}

// callerOf is the caller api authenticated.
func callerOf(r *http.Request) Caller {
	c, _ := r.Context().Value(callerKey{}).(Caller)
	return c
}

// authenticate finds the caller a bearer token stands for: a token of the
// config (compared in constant time), else one of the store. ok is false
// for an unknown or revoked token.
func (s *Server) authenticate(ctx context.Context, tok string) (Caller, bool, error) {
	if tok == "" {
		return Caller{}, false, nil
	}
	found, match := Caller{}, false
	for _, t := range s.tokens {
		if constantTimeIn(tok, []string{t.Secret}) {
			found, match = t.Caller, true
		}
	}
	if match {
		return found, true, nil
	}
	if s.store == nil {
		return Caller{}, false, nil
	}
	st, err := s.store.UseAPIToken(ctx, tok, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, false, nil
	}
	if err != nil {
		return Caller{}, false, err
	}
	return Caller{TokenID: st.ID, Person: st.Person, Integration: st.Integration, Scopes: st.Scopes}, true, nil
}

// api requires "Authorization: Bearer TOKEN" with a live token that
// carries scope: 401 for no, an unknown or a revoked token, 403 for a
// token without the scope.
func (s *Server) api(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := bearer(r)
		c, ok, err := s.authenticate(r.Context(), tok)
		if err != nil {
			s.internal(w, r, err, true)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing, wrong or revoked bearer token"})
			return
		}
		if !slices.ContainsFunc(strings.Split(scope, "|"), c.Can) { // "officer|act": either
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("this token (%s) lacks the %s scope", c.Actor(), scope)})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	}
}

// bearer is the token of "Authorization: Bearer TOKEN"; the scheme's
// name is case-insensitive (RFC 7235 section 2.1, RFC 6750).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(tok, " "), true
}

// configTokens are the config's tokens as callers; one naming no owner
// may only read and report (config.LegacyAPIScopes).
func configTokens(plain []string, owned []Token) []Token {
	out := slices.Clone(owned)
	for i, p := range plain {
		out = append(out, Token{Secret: p, Caller: Caller{Integration: fmt.Sprintf("http.api_tokens.%d", i), Scopes: config.LegacyAPIScopes}})
	}
	return out
}
