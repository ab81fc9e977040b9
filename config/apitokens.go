package config

import (
	"fmt"
	"regexp"
	"slices"
)

// The scopes an API token may carry. A token does only what its scopes
// allow, and, when it belongs to a person, only what that person's
// roster role allows in chat.
const (
	// ScopeRead reads incidents, messages and the call trees.
	ScopeRead = "read"
	// ScopeReport files reports (POST /api/v1/reports).
	ScopeReport = "report"
	// ScopeAct answers in call trees as the token's person.
	ScopeAct = "act"
	// ScopeOfficer does what chat allows the team and the officers only:
	// move E, change the units, close.
	ScopeOfficer = "officer"
)

// APIScopes are the scopes in the order they are shown.
var APIScopes = []string{ScopeRead, ScopeReport, ScopeAct, ScopeOfficer}

// LegacyAPIScopes are what a token of the config that names no owner may
// do: read and file reports, which change no state in anyone's name.
var LegacyAPIScopes = []string{ScopeRead, ScopeReport}

// APIToken is a bearer token for /api/v1 written in the config, with whose
// it is and what it may do. Tokens made with `tocsin tokens create` live
// in the store instead, hashed.
type APIToken struct {
	// Secret is the token itself (prefer password_file or password_env).
	Secret `yaml:",inline"`
	// Person is the roster address the token acts as: the audit names
	// them, and their roster role limits the token as it limits them in
	// chat.
	Person string `yaml:"person"`
	// Integration names the system the token belongs to, when it is not
	// a person's: the audit names it integration:NAME.
	Integration string `yaml:"integration"`
	// Scopes are what the token may do: read, report, act, officer.
	Scopes []string `yaml:"scopes"`
}

// Owned reports whether the token says whose it is.
func (t APIToken) Owned() bool { return t.Person != "" || t.Integration != "" }

// IntegrationRE is what an integration's name looks like.
var IntegrationRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CheckAPIOwner returns why a token for person or integration with scopes
// cannot be made, or "": exactly one owner, a person on the roster, known
// scopes, and the officer scope only for the response team and officers
// (as in chat). The CLI and the config both ask it.
func (c *Config) CheckAPIOwner(person, integration string, scopes []string) (field, why string) {
	switch {
	case person != "" && integration != "":
		return "integration", "give person or integration, not both"
	case person == "" && integration == "":
		return "person", "a token belongs to a roster person (person: ADDRESS) or an integration (integration: NAME)"
	case integration != "" && !IntegrationRE.MatchString(integration):
		return "integration", fmt.Sprintf("%q: use lower-case letters, digits, '.', '_' and '-' (up to 63)", integration)
	}
	if person != "" {
		if _, ok := c.PersonByEmail(person); !ok {
			return "person", fmt.Sprintf("%s is not in people", person)
		}
	}
	if len(scopes) == 0 {
		return "scopes", "required: one or more of read, report, act, officer"
	}
	for _, s := range scopes {
		if !slices.Contains(APIScopes, s) {
			return "scopes", fmt.Sprintf("%q is not one of read, report, act, officer", s)
		}
	}
	if person != "" && slices.Contains(scopes, ScopeOfficer) && !c.OnTeam(person) {
		return "scopes", fmt.Sprintf("officer: %s is neither on the response team nor an officer, and may not do in chat what this scope allows", person)
	}
	return "", ""
}

// checkAPITokens validates http.api_tokens.
func (c *Config) checkAPITokens(bad func(string, string, ...any)) {
	for i, t := range c.HTTP.APITokens {
		f := fmt.Sprintf("http.api_tokens.%d", i)
		checkSecret(f, t.Secret, true, bad)
		if !t.Owned() && len(t.Scopes) == 0 {
			continue // read and report only: apiTokenWarnings says so
		}
		if field, why := c.CheckAPIOwner(t.Person, t.Integration, t.Scopes); why != "" {
			bad(f+"."+field, "%s", why)
		}
	}
}

// apiTokenWarnings says which tokens of the config name no owner: they
// keep working for what changes nothing in anyone's name.
func (c *Config) apiTokenWarnings() []Problem {
	var ws []Problem
	for i, t := range c.HTTP.APITokens {
		if !t.Owned() && len(t.Scopes) == 0 {
			ws = append(ws, Problem{Field: fmt.Sprintf("http.api_tokens.%d", i),
				Why: "warning: names no owner, so it may only read and file reports; give it person: ADDRESS or integration: NAME, and scopes: [read, report, act, officer]"})
		}
	}
	return ws
}
