package act

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tocsin/bot/engine"
	"tocsin/bot/store"
	"tocsin/config"
)

// Per-asset progress (the process's patch database): each affected
// unit's assets carry a state. An owner's or a unit contact's
// "done ASSET..." (chat: /done ID ASSET [note]; mail: "done ASSET ..."
// as the answer's first line) marks them fixed; the same from a team
// member marks them validated (the team's scan). /asset ID [UNIT:]ASSET
// STATE [why] adds an asset or sets its state (team, officers, unit
// contacts); not-affected takes it out of the count.

// assetWords splits the leading words of text that name assets of tree
// from the rest (the note). Each word may be UNIT:ASSET.
func assetWords(tree *store.Tree, text string) (assets []store.AssetRow, note string) {
	fields := strings.Fields(text)
	i := 0
	for ; i < len(fields); i++ {
		w := strings.TrimRight(fields[i], ",;")
		unit, name, ok := strings.Cut(w, ":")
		if !ok {
			unit, name = "", w
		}
		a, found := tree.Asset(unit, name)
		if !found {
			// "pay-db-2: fixed" names the asset with a colon after it.
			if a, found = tree.Asset("", strings.TrimSuffix(w, ":")); !found {
				break
			}
		}
		if !slices.ContainsFunc(assets, func(b store.AssetRow) bool { return b.ID == a.ID }) {
			assets = append(assets, a)
		}
	}
	rest := fields[i:]
	if len(rest) > 0 && len(assets) > 0 {
		if v := strings.ToLower(strings.Trim(rest[0], ".,:;!")); v == "fixed" || v == "done" {
			rest = rest[1:] // "pay-db-2: fixed"
		}
	}
	return assets, strings.Join(rest, " ")
}

// mayFix reports whether who answers for unit's assets: its contact,
// backup (or their rotations), its owners or an asset's owners.
func mayFix(cfg *config.Config, unit, who string) bool {
	u, ok := cfg.UnitByID(unit)
	if !ok {
		return false
	}
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, who) })
	}
	inRotation := func(name string) bool {
		r, ok := cfg.RotationByName(name)
		return ok && (in(r.People) || strings.EqualFold(r.StandIn, who))
	}
	if strings.EqualFold(u.Contact, who) || strings.EqualFold(u.Backup, who) || inRotation(u.ContactRotation) || inRotation(u.BackupRotation) || in(u.Owners) {
		return true
	}
	for _, a := range u.Assets {
		if in(a.Owners) {
			return true
		}
	}
	return false
}

// assetsDone marks the assets a done names: fixed by the unit's people,
// validated by the team (and the officers). When the actor's units have
// no open asset left, the done counts for their step too.
func (d *Desk) assetsDone(tx *store.Tx, k *call, assets []store.AssetRow, note string) (Result, engine.Effects, error) {
	state := store.AssetFixed
	if k.roles&(Team|Officer) != 0 {
		state = store.AssetValidated
	}
	for _, a := range assets {
		if state == store.AssetFixed && !mayFix(d.Config, a.Unit, k.who) {
			if err := tx.AuditFrom(k.inc.ID, k.now, k.who, refusedAction(k.Platform),
				fmt.Sprintf("done %s via %s: only the unit's people, the team and the officers answer for the assets of %s", a.Asset, k.via, a.Unit), k.Platform, k.RequestID); err != nil {
				return nil, engine.Effects{}, err
			}
			return k.refuse(NotPermitted), engine.Effects{}, nil
		}
	}
	res := AssetsMarked{Incident: k.inc.Ref, State: state, By: k.name()}
	var units []string
	for _, a := range assets {
		if err := d.putAsset(tx, k, a.Unit, a.Asset, state, note); err != nil {
			return nil, engine.Effects{}, err
		}
		res.Assets = append(res.Assets, a.Asset)
		if !slices.Contains(units, a.Unit) {
			units = append(units, a.Unit)
		}
	}
	tree, err := tx.Tree(k.inc.ID)
	if err != nil {
		return nil, engine.Effects{}, err
	}
	for _, u := range units {
		res.Open = append(res.Open, tree.OpenAssets(u)...)
	}
	var eff engine.Effects
	if state == store.AssetFixed && len(res.Open) == 0 {
		// The unit's last open asset: the owner's (or contact's) done counts.
		ans, e, err := d.Engine.ActTx(tx, engine.Command{Incident: k.inc.ID, StepID: k.cmd.Step, Person: k.who, Verb: string(Done), Note: note, Via: k.via,
			Platform: k.Platform, RequestID: k.RequestID})
		switch {
		case errors.Is(err, engine.ErrNothingToAnswer) || errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, eff, err
		default:
			eff, res.Step, res.StepState = e, ans.Title, ans.State
		}
	}
	if err := d.changed(tx, k.inc, "assets:"+k.Platform+":"+k.RequestID+":"+strings.Join(res.Assets, ","), k.now); err != nil {
		return nil, eff, err
	}
	return res, eff, nil
}

// putAsset sets an asset's state with its audit entry.
func (d *Desk) putAsset(tx *store.Tx, k *call, unit, asset, state, note string) error {
	if err := tx.PutAsset(k.inc.ID, store.AssetRow{Unit: unit, Asset: asset, State: state, By: k.who, At: k.now, Note: note, Evidence: k.cmd.Evidence}); err != nil {
		return err
	}
	detail := fmt.Sprintf("%s (%s) %s via %s", asset, unit, state, k.via)
	if note != "" {
		detail += "; note: " + note
	}
	for _, e := range k.cmd.Evidence {
		detail += fmt.Sprintf("; file %s sha256:%s", e.Name, e.SHA256)
	}
	return tx.AuditFrom(k.inc.ID, k.now, k.who, "asset-"+state, detail, k.Platform, k.RequestID)
}

// setAsset adds an asset to an affected unit of the incident, or sets
// its state: /asset ID [UNIT:]ASSET STATE [why].
func (d *Desk) setAsset(ctx context.Context, k *call) (Result, error) {
	name, state := k.cmd.arg(0), strings.ToLower(k.cmd.arg(1))
	if name == "" || !slices.Contains(store.AssetStates, state) {
		r := k.refuse(BadAssetState)
		r.Arg = k.cmd.arg(1)
		return r, nil
	}
	unit, asset, ok := strings.Cut(name, ":")
	if !ok {
		unit, asset = "", name
	}
	var res Result
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		tree, err := tx.Tree(k.inc.ID)
		if err != nil {
			return err
		}
		added := false
		if a, found := tree.Asset(unit, asset); found {
			unit, asset = a.Unit, a.Asset
		} else {
			if unit == "" {
				var in []string
				for _, u := range tree.Units {
					if !u.Removed {
						in = append(in, u.Unit)
					}
				}
				if len(in) != 1 {
					r := k.refuse(UnknownAsset)
					r.Arg = name
					res = r
					return nil
				}
				unit = in[0]
			}
			if !slices.ContainsFunc(tree.Units, func(u store.TreeUnit) bool { return u.Unit == unit && !u.Removed }) {
				r := k.refuse(UnitNotAffected)
				r.Arg = unit
				res = r
				return nil
			}
			added = true
		}
		if k.roles&(Team|Officer) == 0 && !mayFix(d.Config, unit, k.who) {
			if err := tx.AuditFrom(k.inc.ID, k.now, k.who, refusedAction(k.Platform),
				fmt.Sprintf("/asset %s via %s: only the unit's people, the team and the officers may", name, k.via), k.Platform, k.RequestID); err != nil {
				return err
			}
			res = k.refuse(NotPermitted)
			return nil
		}
		if err := d.putAsset(tx, k, unit, asset, state, k.cmd.Text); err != nil {
			return err
		}
		if tree, err = tx.Tree(k.inc.ID); err != nil {
			return err
		}
		res = AssetSet{Incident: k.inc.Ref, Unit: unit, Asset: asset, State: state, Added: added, Why: k.cmd.Text, By: k.name(), Open: tree.OpenAssets(unit)}
		return d.changed(tx, k.inc, "asset:"+k.Platform+":"+k.RequestID+":"+unit+":"+asset, k.now)
	})
	if errors.Is(err, store.ErrNotFound) {
		return k.refuse(NoTree), nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
