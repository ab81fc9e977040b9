package act

import (
	"context"
	"strings"

	"tocsin/config"
)

// A phone report: whoever takes a call logs it with the caller as the
// reporter and themselves as "taken by".

// Caller is who called in a report.
type Caller struct {
	Name, Organisation, Phone string
	// Address is the caller's mail address, if they gave one: only then
	// do they get mail (the acknowledgement).
	Address string
}

// ParseCaller reads "name, organisation, phone[, address]" (the
// organisation may be empty); false without a name or a number.
func ParseCaller(s string) (Caller, bool) {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 3 || len(parts) > 4 || parts[0] == "" || parts[2] == "" {
		return Caller{}, false
	}
	c := Caller{Name: parts[0], Organisation: parts[1], Phone: parts[2]}
	if len(parts) == 4 {
		if !strings.Contains(parts[3], "@") {
			return Caller{}, false
		}
		c.Address = parts[3]
	}
	return c, true
}

// String is the caller as the command takes it.
func (c Caller) String() string {
	s := c.Name + ", " + c.Organisation + ", " + c.Phone
	if c.Address != "" {
		s += ", " + c.Address
	}
	return s
}

// PhoneReporter files a report taken by phone with the caller as its
// reporter and taker as "taken by"; it returns the incident's id.
type PhoneReporter func(ctx context.Context, taker config.Person, caller Caller, text, platform, requestID string) (string, error)

// phoneReport files the call the actor took (report with a caller: Args[0]).
func (d *Desk) phoneReport(ctx context.Context, k *call) (Result, error) {
	caller, ok := ParseCaller(k.cmd.arg(0))
	if !ok || d.PhoneReport == nil {
		r := k.refuse(MissingArgument)
		r.Arg = "--caller"
		return r, nil
	}
	taker := k.person
	if taker.Email == "" { // an integration
		taker = config.Person{Name: k.who, Email: k.who}
	}
	ref, err := d.PhoneReport(ctx, taker, caller, k.cmd.Text, k.Platform, k.RequestID)
	if err != nil {
		return nil, err
	}
	return Filed{Incident: ref, By: k.name(), Caller: caller.Name, CallerTold: caller.Address != ""}, nil
}
