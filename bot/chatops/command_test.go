package chatops

import (
	"errors"
	"strings"
	"testing"
)

// TestParse: what people type and press becomes one Command, whichever
// platform: /tocsin CMD as the command itself, the card's three buttons,
// and clear errors for what is not a command.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       Command
	}{
		{"/ack", "", Command{Name: "ack"}},
		{"/tocsin", "ack sec-2026-0001", Command{Name: "ack", Incident: "SEC-2026-0001"}},
		{"/done", "SEC-2026-0001 patched and tested", Command{Name: "done", Incident: "SEC-2026-0001", Text: "patched and tested"}},
		{"/priority", "SEC-2026-0001 p2", Command{Name: "priority", Incident: "SEC-2026-0001", Args: []string{"P2"}}},
		{"/report", "SEC-2026-0001 was mentioned by the caller", Command{Name: "report", Text: "SEC-2026-0001 was mentioned by the caller"}},
		{"/tocsin", "", Command{Name: "help"}},
		{"/tocsin", "notify SEC-2026-0001 cert-bund C2 in their range", Command{Name: "notify", Incident: "SEC-2026-0001", Args: []string{"cert-bund"}, Text: "C2 in their range"}},
		{"/approve", "SEC-2026-0001", Command{Name: "approve", Incident: "SEC-2026-0001"}},
		{"/approve", "SEC-2026-0001 d2", Command{Name: "approve", Incident: "SEC-2026-0001", Args: []string{"D2"}}},
		{"/tocsin", "unlink", Command{Name: "unlink"}},
		{"/blocked", "SEC-2026-0001 the patch fails on pay-db-2", Command{Name: "blocked", Incident: "SEC-2026-0001", Text: "the patch fails on pay-db-2"}},
		{"/actions", "SEC-2026-0001 Block 443 at the edge.\n  Patch: openssl 3.0.15\n", Command{Name: "actions", Incident: "SEC-2026-0001", Text: "Block 443 at the edge.\n  Patch: openssl 3.0.15"}},
		{"/tocsin", " actions  sec-2026-0001\nPrevent:\tblock\nRestrict: isolate", Command{Name: "actions", Incident: "SEC-2026-0001", Text: "Prevent:\tblock\nRestrict: isolate"}},
	} {
		got, err := Parse(c.name, c.text)
		if err != nil || got.Name != c.want.Name || got.Incident != c.want.Incident || got.Text != c.want.Text || strings.Join(got.Args, " ") != strings.Join(c.want.Args, " ") {
			t.Errorf("Parse(%q, %q) = %+v, %v; want %+v", c.name, c.text, got, err, c.want)
		}
	}
	for _, c := range []struct {
		name, text string
		want       Need
	}{
		{"/nuke", "", NeedKnownCommand},
		{"/priority", "SEC-2026-0001 P9", NeedPriority},
		{"/close", "", NeedIncident},
		{"/note", "SEC-2026-0001", NeedText},
		{"/blocked", "SEC-2026-0001", NeedText},
		{"/blocked", "need help", NeedIncident},
		{"/actions", "SEC-2026-0001 ", NeedText},
		{"/actions", "block it", NeedIncident},
		{"/notify", "SEC-2026-0001", NeedContact},
		{"/approve", "", NeedIncident},
		{"/approve", "SEC-2026-0001 D1 D2", NeedOneDraft},
		{"/event", "SEC-2026-0001", NeedTime},
		{"/affects", "SEC-2026-0001", NeedUnits},
		{"/assign", "SEC-2026-0001 a b", NeedPerson},
		{"/tocsin", "link", NeedLinkArg},
	} {
		_, err := Parse(c.name, c.text)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Need != c.want {
			t.Errorf("Parse(%q, %q): %v, want %s", c.name, c.text, err, c.want)
		}
	}
	for _, b := range []string{"ack", "done", "escalate"} {
		got, err := FromButton(b + ":SEC-2026-0001")
		if err != nil || got.Name != b || got.Incident != "SEC-2026-0001" {
			t.Errorf("button %s: %+v %v", b, got, err)
		}
		// Issue 15, section 8: only Escalate carries the press as its
		// reason; an Acknowledge was recorded as "pressed Escalate".
		if hasText := got.Text != ""; hasText != (b == "escalate") {
			t.Errorf("button %s: text %q, want text only for escalate", b, got.Text)
		}
	}
	if _, err := FromButton("close:SEC-2026-0001"); err == nil {
		t.Error("a button the card does not have was taken")
	}
}
