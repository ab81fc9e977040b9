package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestAPITokenOwners pins issue 15 §4 "one bearer token does
// everything": a token in the config says whose it is and its scopes, and
// each mistake is a FILE:LINE: field: why; a token naming no owner is
// kept for reading and reporting only, with a warning on its line.
func TestAPITokenOwners(t *testing.T) {
	head := `desk: {address: security@example.com}
people:
  - {name: Ann, email: ann@example.com}
  - {name: Ole, email: ole@example.com}
officers: [ole@example.com]
http:
  listen: 127.0.0.1:8080
  api_tokens:
`
	t.Setenv("T", "a-long-enough-secret-value-0001")
	_, err := Parse("t.yaml", []byte(head+`    - {person: ann@example.com, integration: x, scopes: [read], password_env: T}
    - {person: nobody@example.com, scopes: [read], password_env: T}
    - {integration: Bad Name, scopes: [read], password_env: T}
    - {integration: x, password_env: T}
    - {integration: x, scopes: [write], password_env: T}
    - {person: ann@example.com, scopes: [read, officer], password_env: T}
    - {scopes: [read], password_env: T}
`))
	var probs *Problems
	if err == nil || !errors.As(err, &probs) {
		t.Fatalf("err %v, want problems", err)
	}
	got := map[string]int{}
	for _, p := range probs.List {
		got[p.Field] = p.Line
	}
	want := map[string]int{
		"http.api_tokens.0.integration": 9, "http.api_tokens.1.person": 10, "http.api_tokens.2.integration": 11,
		"http.api_tokens.3.scopes": 12, "http.api_tokens.4.scopes": 13, "http.api_tokens.5.scopes": 14, "http.api_tokens.6.person": 15,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %v, want fields and lines %v", err, want)
	}

	cfg, err := Parse("t.yaml", []byte(head+`    - {person: ole@example.com, scopes: [read, officer], password_env: T}
    - {integration: ticketing, scopes: [read, report], password_env: T}
    - {password_env: T}
`))
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, w := range cfg.Warnings {
		if strings.HasPrefix(w.Field, "http.api_tokens") {
			warned = append(warned, w.Field)
		}
	}
	if !reflect.DeepEqual(warned, []string{"http.api_tokens.2"}) {
		t.Errorf("warnings on %v, want only the token without an owner", warned)
	}
}
