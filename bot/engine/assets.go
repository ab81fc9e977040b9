package engine

import (
	"tocsin/bot/store"
	"tocsin/templates"
)

// statusAssets are the tree's assets as the status report shows them
// (the process's patch database at the time of the report).
func statusAssets(tree store.Tree) []templates.Asset {
	var out []templates.Asset
	for _, a := range tree.Assets {
		t := templates.Asset{Unit: a.Unit, Asset: a.Asset, State: a.State, By: a.By, At: a.At, Note: a.Note}
		for _, e := range a.Evidence {
			t.Evidence = append(t.Evidence, templates.File{Name: e.Name, SHA256: e.SHA256})
		}
		out = append(out, t)
	}
	return out
}
