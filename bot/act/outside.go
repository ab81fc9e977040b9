package act

import (
	"context"
	"errors"

	"tocsin/bot/engine"
	"tocsin/bot/store"
)

// notify drafts the incident's status report to an external contact;
// someone else sends it with approve.
func (d *Desk) notify(ctx context.Context, k *call) (Result, error) {
	contact, ok := d.Config.ContactByID(k.cmd.arg(0))
	if !ok {
		r := k.refuse(UnknownContact)
		r.Arg = k.cmd.arg(0)
		for _, c := range d.Config.Contacts {
			r.Known = append(r.Known, c.ID)
		}
		return r, nil
	}
	draft, err := d.Engine.Draft(ctx, k.inc.ID, contact, k.cmd.Text, k.who, k.Platform, k.RequestID)
	if err != nil {
		return nil, err
	}
	return Drafted{Incident: k.inc.Ref, Draft: draft, Contact: contact.Name, ContactKind: contact.Kind, By: k.name()}, nil
}

// approve sends a draft someone else drafted, as it stood when the
// approval was made (the actor's At).
func (d *Desk) approve(ctx context.Context, k *call) (Result, error) {
	draft := k.cmd.arg(0)
	asOf := k.At
	if asOf.IsZero() {
		asOf = k.now
	}
	sent, err := d.Engine.Approve(ctx, k.inc.ID, draft, asOf, k.who, k.Platform, k.RequestID)
	refuse := func(r Reason) (Result, error) {
		out := k.refuse(r)
		out.Arg = draft
		out.Waiting = d.waiting(ctx, k.inc)
		return out, nil
	}
	switch {
	case errors.Is(err, engine.ErrDraftNotNamed):
		return refuse(DraftNotNamed)
	case errors.Is(err, engine.ErrNoSuchDraft):
		return refuse(NoSuchDraft)
	case errors.Is(err, engine.ErrDraftNewer):
		d.audit(ctx, k, k.inc.Ref, k.who, refusedAction(k.Platform), "/approve "+draft+" via "+k.via+": the draft is newer than the approval")
		return refuse(DraftNewer)
	case errors.Is(err, engine.ErrOwnDraft):
		d.audit(ctx, k, k.inc.Ref, k.who, refusedAction(k.Platform), "/approve "+draft+" via "+k.via+": their own draft; a second person must approve")
		return refuse(OwnDraft)
	case errors.Is(err, engine.ErrNothingToApprove):
		return refuse(NothingToApprove)
	case errors.Is(err, engine.ErrContactGone):
		return refuse(ContactGone)
	case err != nil:
		return nil, err
	}
	out := Approved{Incident: k.inc.Ref, Draft: draft, By: k.name()}
	for _, c := range sent {
		out.To = append(out.To, c.Name+" <"+c.Email+">")
	}
	return out, nil
}

// waiting are the incident's drafts that wait for approval.
func (d *Desk) waiting(ctx context.Context, inc *store.Incident) []Draft {
	drafts, err := d.Store.Drafts(ctx, inc.ID)
	if err != nil {
		return nil
	}
	var out []Draft
	for _, dr := range drafts {
		if dr.State == store.DraftPending {
			name := dr.Contact
			if c, ok := d.Config.ContactByID(dr.Contact); ok {
				name = c.Name + " (" + c.Kind + ")"
			}
			out = append(out, Draft{ID: dr.ID, Form: dr.Form, Contact: name, DraftedBy: dr.DraftedBy})
		}
	}
	return out
}
