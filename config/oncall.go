package config

import (
	"cmp"
	"fmt"
	"time"
)

// Shift is who holds a rotation's slot at an instant, and why.
type Shift struct {
	Rotation string
	Person   string // "" only when the slot has nobody, not even a stand-in
	// From and To bound the shift (the hand-offs around it, or the
	// override); zero when unbounded.
	From, To time.Time
	// Why: "rotation", "override: REASON", "stand-in: WHY".
	Why string
}

// OnCall returns who holds rotation name at t: an override covering t
// first, else the rotation's turn, else (before its start, or an override
// without a person) its stand-in.
func (c *Config) OnCall(name string, t time.Time) (Shift, error) {
	r, ok := c.RotationByName(name)
	if !ok {
		return Shift{}, fmt.Errorf("no rotation %q", name)
	}
	for _, o := range c.Overrides {
		if o.Rotation == name && !t.Before(o.From) && t.Before(o.To) {
			if o.Person != "" {
				return Shift{Rotation: name, Person: o.Person, From: o.From, To: o.To, Why: "override: " + cmp.Or(o.Reason, "no reason given")}, nil
			}
			return Shift{Rotation: name, Person: r.StandIn, From: o.From, To: o.To, Why: "stand-in: override without a person (" + cmp.Or(o.Reason, "no reason given") + ")"}, nil
		}
	}
	from, to, idx, err := r.turn(t)
	if err != nil {
		return Shift{}, err
	}
	if idx < 0 {
		return Shift{Rotation: name, Person: r.StandIn, To: from, Why: "stand-in: the rotation starts " + r.Start}, nil
	}
	return Shift{Rotation: name, Person: r.People[idx%len(r.People)], From: from, To: to, Why: "rotation"}, nil
}

// turn returns the hand-offs around t and the index of the turn they
// bound (negative before the first hand-off, whose time from is then).
// Hand-offs are at r.At on calendar days in r.TimeZone, so a daylight-
// saving change moves no hand-off.
func (r Rotation) turn(t time.Time) (from, to time.Time, idx int, err error) {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return from, to, 0, err
	}
	at, err := parseClock(r.At)
	if err != nil {
		return from, to, 0, err
	}
	start, err := time.ParseInLocation(time.DateOnly, r.Start, loc)
	if err != nil {
		return from, to, 0, err
	}
	handoff := func(day time.Time) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), int(at/time.Hour), int(at%time.Hour/time.Minute), 0, 0, loc)
	}
	period := 1
	if r.Handoff == "weekly" {
		period = 7
	}
	local := t.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	if local.Before(handoff(day)) {
		day = day.AddDate(0, 0, -1)
	}
	// Whole days between the start and day, by calendar, not by hours.
	days := int(time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, time.UTC).Sub(
		time.Date(start.Year(), start.Month(), start.Day(), 12, 0, 0, 0, time.UTC)).Hours() / 24)
	if days < 0 {
		return handoff(start), time.Time{}, -1, nil
	}
	n := days / period
	first := start.AddDate(0, 0, n*period)
	return handoff(first), handoff(first.AddDate(0, 0, period)), n, nil
}

// Gap is a time when a rotation's slot has nobody.
type Gap struct {
	Rotation string
	From, To time.Time
	Why      string
}

// Gaps lists when, from from for the next span, a rotation's slot has
// nobody (no stand-in either); tocsin check warns of them.
func (c *Config) Gaps(from time.Time, span time.Duration) []Gap {
	var out []Gap
	for _, r := range c.Rotations {
		// Shifts change only at hand-offs and override edges: step
		// through them.
		t, end := from, from.Add(span)
		for t.Before(end) {
			s, err := c.OnCall(r.Name, t)
			if err != nil {
				break
			}
			next := end
			if !s.To.IsZero() && s.To.Before(next) {
				next = s.To
			}
			for _, o := range c.Overrides {
				if o.Rotation == r.Name && o.From.After(t) && o.From.Before(next) {
					next = o.From
				}
			}
			if s.Person == "" {
				if n := len(out); n > 0 && out[n-1].Rotation == r.Name && out[n-1].To.Equal(t) {
					out[n-1].To = next
				} else {
					out = append(out, Gap{Rotation: r.Name, From: t, To: next, Why: s.Why})
				}
			}
			if !next.After(t) {
				break
			}
			t = next
		}
	}
	return out
}
