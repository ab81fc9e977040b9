package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/templates"
)

// What goes outside (to the external contacts) is drafted by one person,
// or by the playbook, and sent only when a second person approves.

// ErrNothingToApprove: no draft of the incident waits for approval.
var ErrNothingToApprove = errors.New("nothing of this incident waits for approval")

// ErrOwnDraft: the draft named is the caller's own; a second person
// must approve it.
var ErrOwnDraft = errors.New("a second person must approve what you drafted")

// ErrDraftNotNamed: an approval that names no draft. It is refused
// whatever waits: its meaning would depend on what waits when it arrives,
// and a captured approval replayed after someone drafted to another
// contact would send that (issue 15).
var ErrDraftNotNamed = errors.New("an approval must name the draft it approves")

// ErrNoSuchDraft: the incident has no draft by the id named.
var ErrNoSuchDraft = errors.New("the incident has no such draft")

// ErrContactGone: the draft's contact left the directory; nothing is sent.
var ErrContactGone = errors.New("the draft's contact is no longer in the directory")

// ErrDraftNewer: the draft named was drafted after the approval was
// made, so its approver cannot have seen it.
var ErrDraftNewer = errors.New("the draft is newer than the approval")

// Draft records that actor wants the incident's status report sent to
// contact; note is for the approver and is never sent. The same request
// (platform, requestID) drafts once. It returns the draft's short id, which
// /approve names.
func (e *Engine) Draft(ctx context.Context, incidentID int64, contact config.Contact, note, actor, platform, requestID string) (string, error) {
	var eff Effects
	var id string
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		inc, _, err := tx.IncidentByID(incidentID)
		if err != nil {
			return err
		}
		now := e.Clock.Now()
		if requestID == "" {
			requestID = fmt.Sprint(now.UnixMilli())
		}
		d := store.Draft{Key: "notify:" + inc.Ref + ":" + contact.ID + ":" + platform + ":" + requestID, IncidentID: incidentID,
			Contact: contact.ID, Form: "status-report", Note: note, DraftedBy: actor, DraftedAt: now}
		var added bool
		id, added, err = tx.AddDraft(d)
		if err != nil || !added {
			return err
		}
		detail := fmt.Sprintf("%s: status report to %s <%s> (%s) drafted by %s via %s, waiting for a second person's approval", id, contact.Name, contact.Email, contact.Kind, actor, platform)
		if note != "" {
			detail += "; note: " + note
		}
		if err := tx.AuditFrom(incidentID, now, actor, "draft-created", detail, platform, requestID); err != nil {
			return err
		}
		return e.changed(tx, inc, "draft:"+d.Key, now, &eff)
	})
	if err == nil {
		e.Flush(ctx, eff)
	}
	return id, err
}

// Approve sends the incident's draft draftID (D1, ...), which must wait
// for approval, be someone else's, and have been drafted no later than
// asOf: when the approval was made (a request's signed time). It returns
// who it goes to. A draft drafted after asOf is not what the approver saw:
// ErrDraftNewer. No draft named: ErrDraftNotNamed, whatever waits.
func (e *Engine) Approve(ctx context.Context, incidentID int64, draftID string, asOf time.Time, actor, platform, requestID string) ([]config.Contact, error) {
	if draftID == "" {
		return nil, ErrDraftNotNamed
	}
	var eff Effects
	var sent []config.Contact
	gone := false
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		sent, gone = nil, false
		inc, _, err := tx.IncidentByID(incidentID)
		if err != nil {
			return err
		}
		drafts, err := tx.Drafts(incidentID)
		if err != nil {
			return err
		}
		now := e.Clock.Now()
		var d *store.Draft
		for i := range drafts {
			if strings.EqualFold(drafts[i].ID, draftID) {
				d = &drafts[i]
			}
		}
		switch {
		case d == nil:
			return ErrNoSuchDraft
		case d.State != store.DraftPending:
			return ErrNothingToApprove
		case strings.EqualFold(d.DraftedBy, actor):
			return ErrOwnDraft
		case d.DraftedAt.After(asOf):
			return ErrDraftNewer
		}
		contact, ok := e.Config.ContactByID(d.Contact)
		if !ok {
			// Removed from the directory since: nothing is sent (and that
			// is audited, so the transaction commits).
			gone = true
			return tx.AuditFrom(incidentID, now, actor, "draft-not-sent", fmt.Sprintf("draft %s (%s) to %s: no such contact any more", d.ID, d.Key, d.Contact), platform, requestID)
		}
		form, err := e.outsideForm(tx, inc)
		if err != nil {
			return err
		}
		if _, err := tx.ApproveDraft(d.Key, actor, now); err != nil {
			return err
		}
		n := notify.Notice{Form: d.Form, Kind: "outside-" + d.Form, IdemKey: "outside:" + d.Key, IncidentRef: inc.Ref,
			To: mail.Address{Name: contact.Name, Address: contact.Email}, Langs: []string{contact.Language}, Data: form}
		if _, err := e.Notify.Queue(tx, incidentID, n, now); err != nil {
			return err
		}
		eff.Queued = true
		detail := fmt.Sprintf("%s: %s to %s <%s> (%s), drafted by %s, approved by %s via %s", d.ID, d.Form, contact.Name, contact.Email, contact.Kind, d.DraftedBy, actor, platform)
		if err := tx.AuditFrom(incidentID, now, actor, "draft-approved", detail, platform, requestID); err != nil {
			return err
		}
		sent = append(sent, contact)
		if err := e.approvedStep(tx, inc, d.Key, drafts, actor, platform, requestID, now); err != nil {
			return err
		}
		return e.changed(tx, inc, "approved:"+d.Key, now, &eff)
	})
	if err == nil {
		e.Flush(ctx, eff)
	}
	if err == nil && gone {
		err = ErrContactGone
	}
	return sent, err
}

// approvedStep marks the call-tree step that drafted approvedKey (a
// playbook's draft) done once every draft it made is approved: until
// then it awaits approval.
func (e *Engine) approvedStep(tx *store.Tx, inc *store.Incident, approvedKey string, drafts []store.Draft, actor, platform, requestID string, now time.Time) error {
	rest, ok := strings.CutPrefix(approvedKey, "ct:"+inc.Ref+":draft:")
	if !ok {
		return nil // drafted by a person (/notify), not by the tree
	}
	id, _, _ := strings.Cut(rest, ":")
	prefix := "ct:" + inc.Ref + ":draft:" + id + ":"
	for _, d := range drafts {
		if d.Key != approvedKey && strings.HasPrefix(d.Key, prefix) && d.State == store.DraftPending {
			return nil // another of its drafts still waits
		}
	}
	tree, err := tx.Tree(inc.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, s := range tree.Steps {
		if fmt.Sprint(s.ID) != id || s.State != store.StepAwaitingApproval {
			continue
		}
		s.State, s.DoneAt, s.NextAt = store.StepDone, now, now
		if err := tx.UpdateStep(s); err != nil {
			return err
		}
		return tx.AuditFrom(inc.ID, now, actor, "step-done", s.Key+": every draft approved; step now done", platform, requestID)
	}
	return nil
}

// outsideForm is the status report as an outsider reads it: the
// incident's form with the call tree's steps and their states, without
// the reporter, who on the roster was told or answered, or anything to
// answer.
func (e *Engine) outsideForm(tx *store.Tx, inc *store.Incident) (templates.Form, error) {
	form, err := e.Form(tx, inc)
	if err != nil {
		return form, err
	}
	// The reporter is not named outside: who told the desk is theirs to
	// share.
	form.Request, form.Reporter = nil, templates.Person{}
	now := e.Clock.Now()
	form.Elapsed = max(now.Sub(inc.EventAt), 0).Truncate(time.Minute)
	if form.NextUpdate, err = e.NextUpdate(tx, inc, now); err != nil {
		return form, err
	}
	if tree, err := tx.Tree(inc.ID); err == nil {
		for _, s := range statusSteps(*tree) {
			s.Who, s.By = "", ""
			form.Steps = append(form.Steps, s)
		}
		for _, a := range statusAssets(*tree) {
			a.By = "" // people are not named outside
			form.Assets = append(form.Assets, a)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return form, err
	}
	return form, nil
}

// draftOutside records the playbook's draft of step s's form to the
// external contact at address, and tells the officers it waits for them.
func (e *Engine) draftOutside(tx *store.Tx, inc *store.Incident, s store.StepRow, form, address string, now time.Time, o origin) (bool, error) {
	contact, ok := e.Config.ContactByEmail(address)
	if !ok {
		return false, nil // left the directory since the step started
	}
	d := store.Draft{Key: fmt.Sprintf("ct:%s:draft:%d:%s", inc.Ref, s.ID, contact.ID), IncidentID: inc.ID, Contact: contact.ID, Form: form,
		Note: "drafted by the playbook: " + s.Title, DraftedBy: "engine", DraftedAt: now}
	id, added, err := tx.AddDraft(d)
	if err != nil || !added {
		return false, err
	}
	if err := tx.AuditFrom(inc.ID, now, "engine", "draft-created", fmt.Sprintf("%s: %s to %s <%s> (%s) drafted by the playbook (%s), waiting for approval",
		id, form, contact.Name, contact.Email, contact.Kind, s.Key), o.platform, o.request); err != nil {
		return false, err
	}
	queued := false
	data, err := e.Form(tx, inc)
	if err != nil {
		return false, err
	}
	data.Draft = &templates.DraftWaiting{ID: id, Form: form, Contact: contact.Name, ContactAddress: contact.Email, ContactKind: contact.Kind}
	for _, officer := range e.Roster.Officers() {
		added, err := e.Notify.Queue(tx, inc.ID, notify.Notice{Form: "approval-request", Kind: "draft-waiting", IdemKey: d.Key + ":tell:" + strings.ToLower(officer), IncidentRef: inc.Ref,
			To: mail.Address{Address: officer}, Data: data}, now)
		if err != nil {
			return false, err
		}
		queued = queued || added
	}
	return queued, nil
}

// changed tells the cards, and notes that the outbox has work.
func (e *Engine) changed(tx *store.Tx, inc *store.Incident, event string, now time.Time, eff *Effects) error {
	if e.Changed == nil {
		return nil
	}
	eff.Queued = true
	return e.Changed(tx, inc, event, now)
}
