package act

import (
	"context"
	"testing"

	"tocsin/config"
)

// TestParseCaller: name, organisation (may be empty), number and an
// optional address; anything else is refused.
func TestParseCaller(t *testing.T) {
	for in, want := range map[string]Caller{
		"Ann Lee, Acme GmbH, +49 30 5550199":                 {Name: "Ann Lee", Organisation: "Acme GmbH", Phone: "+49 30 5550199"},
		" Ann , , 555 ":                                      {Name: "Ann", Phone: "555"},
		"Bob Roe, Beta Ltd, +1 212 5550177, bob@example.org": {Name: "Bob Roe", Organisation: "Beta Ltd", Phone: "+1 212 5550177", Address: "bob@example.org"},
	} {
		if got, ok := ParseCaller(in); !ok || got != want {
			t.Errorf("ParseCaller(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Ann Lee", "Ann, Acme", ", Acme, 555", "Ann, Acme, ", "Ann, Acme, 555, not-an-address", "a, b, c, d@e, f"} {
		if got, ok := ParseCaller(in); ok {
			t.Errorf("ParseCaller(%q) = %+v, want refused", in, got)
		}
	}
	c := Caller{Name: "Ann", Organisation: "Acme", Phone: "555", Address: "ann@example.org"}
	if back, ok := ParseCaller(c.String()); !ok || back != c {
		t.Errorf("round trip: %+v", back)
	}
}

// TestPhoneReportThroughDo: a report with a caller goes to PhoneReport
// with the taker, and says whether the caller is told; a bad caller is
// refused.
func TestPhoneReportThroughDo(t *testing.T) {
	f := newFixture(t)
	var got Caller
	var taker string
	f.d.PhoneReport = func(_ context.Context, p config.Person, c Caller, text, platform, requestID string) (string, error) {
		got, taker = c, p.Email
		return "SEC-2026-0098", nil
	}
	res := f.do(Actor{Person: "ona@example.com", Platform: "slack"}, Command{Name: Report, Args: []string{"Ann, Acme, 555"}, Text: "a call"})
	if res != (Filed{Incident: "SEC-2026-0098", By: "Ona", Caller: "Ann"}) || taker != "ona@example.com" || got.Phone != "555" {
		t.Errorf("phone report: %+v by %s of %+v", res, taker, got)
	}
	res = f.do(Actor{Person: "ona@example.com"}, Command{Name: Report, Args: []string{"Ann, Acme, 555, ann@example.org"}, Text: "a call"})
	if r, ok := res.(Filed); !ok || !r.CallerTold {
		t.Errorf("caller with an address: %+v", res)
	}
	if r := f.do(Actor{Person: "ona@example.com"}, Command{Name: Report, Args: []string{"Ann"}, Text: "a call"}); outcome(r) != string(MissingArgument) {
		t.Errorf("a caller without a number: %+v", r)
	}
}
