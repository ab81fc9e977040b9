package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestAssetStatesAreAudited: an asset's state is in the audit state, so
// verify finds one changed behind the desk's back, also when the desk
// changed it again afterwards.
func TestAssetStatesAreAudited(t *testing.T) {
	ctx := context.Background()
	for _, again := range []bool{false, true} {
		t.Run(fmt.Sprint("desk changes it again: ", again), func(t *testing.T) {
			s := open(t)
			var inc *Incident
			if err := s.Tx(ctx, func(tx *Tx) error {
				var err error
				if inc, err = tx.CreateIncident("SEC", Incident{CreatedAt: t0, Priority: "P1", Category: "incident", Subject: "worm"}); err != nil {
					return err
				}
				if err := tx.AddUnit(inc.ID, TreeUnit{Unit: "pay", AddedAt: t0, Assets: []string{"pay.example.com"}}); err != nil {
					return err
				}
				return tx.Audit(inc.ID, t0, "system", "opened", "by mail")
			}); err != nil {
				t.Fatal(err)
			}
			fix := func(state string) {
				if err := s.Tx(ctx, func(tx *Tx) error {
					if err := tx.PutAsset(inc.ID, AssetRow{Unit: "pay", Asset: "pay.example.com", State: state, By: "ona@example.com", At: t0.Add(time.Hour)}); err != nil {
						return err
					}
					return tx.AuditFrom(inc.ID, t0.Add(time.Hour), "ona@example.com", "asset-"+state, "", "slack", "r1")
				}); err != nil {
					t.Fatal(err)
				}
			}
			fix(AssetFixed)
			if _, brk := verify(t, s, nil); brk != nil {
				t.Fatalf("after honest use: %v", brk)
			}
			exec(t, s, `UPDATE incident_assets SET state = 'validated'`)
			row := "asset pay.example.com (pay)"
			if again {
				fix(AssetNotAffected)
				row = "asset row 1"
			}
			if _, brk := verify(t, s, nil); brk == nil || brk.Kind != BreakState || brk.Row != row {
				t.Fatalf("got %+v, want a state break of %q", brk, row)
			}
		})
	}
}
