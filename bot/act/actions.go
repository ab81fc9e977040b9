package act

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/store"
	"tocsin/config"
)

// actions keeps the team's text as the incident's next version of the
// enhanced alert's actions. Every action alert written from then on
// carries it; those already told on the units' steps get it as an
// update.
func (d *Desk) actions(ctx context.Context, k *call) (Result, error) {
	text := strings.TrimSpace(k.cmd.Text)
	if text == "" {
		return k.refuse(MissingArgument), nil
	}
	var res ActionsWritten
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		res, err = d.actionsTx(tx, k, text)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// actionsInTx is actions in the caller's transaction (a mail answer):
// the permission is checked here, as Do would, and a refusal audited.
func (d *Desk) actionsInTx(tx *store.Tx, k *call) (Result, engine.Effects, error) {
	if k.roles&Permissions[Actions] == 0 {
		err := tx.AuditFrom(k.inc.ID, k.now, k.who, refusedAction(k.Platform), fmt.Sprintf("actions via %s: only %s may", k.via, Permissions[Actions]), k.Platform, k.RequestID)
		return k.refuse(NotPermitted), engine.Effects{}, err
	}
	text := strings.TrimSpace(k.cmd.Text)
	if text == "" {
		return k.refuse(MissingArgument), engine.Effects{}, nil
	}
	res, err := d.actionsTx(tx, k, text)
	return res, engine.Effects{Queued: err == nil}, err
}

func (d *Desk) actionsTx(tx *store.Tx, k *call, text string) (ActionsWritten, error) {
	inc := k.inc
	a, err := tx.WriteActions(inc.ID, text, k.who, k.Platform, k.RequestID, k.now)
	if err != nil {
		return ActionsWritten{}, err
	}
	res := ActionsWritten{Incident: inc.Ref, Version: a.Version, By: k.name()}
	told, err := alreadyTold(tx, inc.ID)
	if err != nil {
		return ActionsWritten{}, err
	}
	if len(told) > 0 && d.Notify != nil && d.Engine != nil && d.Engine.Form != nil {
		form, err := d.Engine.Form(tx, inc)
		if err != nil {
			return ActionsWritten{}, err
		}
		form.ActionsUpdate = true
		for _, to := range told {
			n := notify.Notice{Form: "action-alert", Kind: "actions-update", IdemKey: fmt.Sprintf("actions:%s:v%d:%s", inc.Ref, a.Version, to),
				IncidentRef: inc.Ref, To: mail.Address{Address: to}, Data: form}
			if p, ok := d.Config.PersonByEmail(to); ok {
				n.To.Name = p.Name
			}
			if _, err := d.Notify.Queue(tx, inc.ID, n, k.now); err != nil {
				return ActionsWritten{}, err
			}
			res.Told = append(res.Told, to)
		}
	}
	return res, d.changed(tx, inc, fmt.Sprintf("actions:v%d", a.Version), k.now)
}

// alreadyTold are the people the units' steps (their contacts', their
// owners') have told so far, lower case, once each, in the tree's order.
func alreadyTold(tx *store.Tx, incidentID int64) ([]string, error) {
	tree, err := tx.Tree(incidentID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range tree.Steps {
		if s.Audience != config.AudienceUnits && s.Audience != config.AudienceOwners {
			continue
		}
		for _, p := range s.People {
			who := strings.ToLower(p.Person)
			if p.NotifiedAt.IsZero() || seen[who] {
				continue
			}
			seen[who] = true
			out = append(out, who)
		}
	}
	return out, nil
}
