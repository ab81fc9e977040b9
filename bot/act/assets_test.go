package act

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"tocsin/bot/store"
)

// asset is the incident's asset name of unit, as the store has it.
func (f *fixture) asset(unit, name string) store.AssetRow {
	f.t.Helper()
	tr, err := f.st.Tree(context.Background(), f.inc.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	a, ok := tr.Asset(unit, name)
	if !ok {
		f.t.Fatalf("no asset %s:%s in %+v", unit, name, tr.Assets)
	}
	return a
}

// TestAssetsFixedAndValidated: the team adds assets with why; an owner's
// done naming an asset marks it fixed (by whom, with the note), the
// team's marks it validated; who answers for no unit of the asset is
// refused (and audited); the last open asset's done counts for the
// owner's step; a contact's done says what is still open.
func TestAssetsFixedAndValidated(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "a1"}
	ona := Actor{Person: "ona@example.com", Platform: "email", RequestID: "<m1@example.com>"}
	rex := Actor{Person: "rex@example.com", Platform: "slack", RequestID: "a3"}

	res := f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: []string{"pay:db-1", "affected"}, Text: "seen in the logs"})
	if want := (AssetSet{Incident: f.inc.Ref, Unit: "pay", Asset: "db-1", State: "affected", Why: "seen in the logs", By: "Pia", Added: true, Open: []string{"db-1"}}); fmt.Sprint(res) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	// Without a unit: the incident's one affected unit.
	res = f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: []string{"db-2", "affected"}})
	if r, ok := res.(AssetSet); !ok || r.Unit != "pay" || !slices.Equal(r.Open, []string{"db-1", "db-2"}) {
		t.Fatalf("got %+v", res)
	}
	if a := f.audits("asset-affected"); len(a) != 2 || a[0].Actor != "pia@example.com" || a[0].Detail != "db-1 (pay) affected via slack a1; note: seen in the logs" {
		t.Errorf("audited as %+v", a)
	}
	for _, tc := range []struct {
		args []string
		want Reason
	}{{[]string{"web:x", "fixed"}, UnitNotAffected}, {[]string{"db-1", "patched"}, BadAssetState}, {[]string{"nope:x", "fixed"}, UnitNotAffected}} {
		if r, ok := f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: tc.args}).(Refused); !ok || r.Reason != tc.want {
			t.Errorf("%v: got %+v, want %s", tc.args, r, tc.want)
		}
	}

	// Someone who answers for no unit of the asset.
	if r, ok := f.do(rex, Command{Name: Done, Incident: f.inc.Ref, Text: "db-1"}).(Refused); !ok || r.Reason != NotPermitted {
		t.Fatalf("rex: got %+v", r)
	}
	if a := f.asset("pay", "db-1"); a.State != store.AssetAffected {
		t.Errorf("db-1 %s after a refused done", a.State)
	}

	// The owner fixes them one by one ("db-1: fixed" as a mail line says it too).
	res = f.do(ona, Command{Name: Done, Incident: f.inc.Ref, Text: "db-1: fixed with 2.4.1, tested on stage"})
	if r, ok := res.(AssetsMarked); !ok || r.State != store.AssetFixed || !slices.Equal(r.Assets, []string{"db-1"}) || !slices.Equal(r.Open, []string{"db-2"}) || r.Step != "" {
		t.Fatalf("got %+v", res)
	}
	if a := f.asset("pay", "db-1"); a.State != store.AssetFixed || a.By != "ona@example.com" || a.Note != "with 2.4.1, tested on stage" || !a.At.Equal(f.clock.Now()) {
		t.Errorf("db-1: %+v", a)
	}
	res = f.do(ona, Command{Name: Done, Incident: f.inc.Ref, Text: "DB-2 done"})
	if r, ok := res.(AssetsMarked); !ok || len(r.Open) != 0 || !slices.Equal(r.Assets, []string{"db-2"}) {
		t.Fatalf("got %+v", res)
	}

	// The team validates by its scan, its output attached.
	scan := []store.Evidence{{Name: "nmap-db.txt", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 2048}}
	res = f.do(pia, Command{Name: Done, Incident: f.inc.Ref, Text: "pay:db-1 db-2 scan clean", Evidence: scan})
	if r, ok := res.(AssetsMarked); !ok || r.State != store.AssetValidated || !slices.Equal(r.Assets, []string{"db-1", "db-2"}) {
		t.Fatalf("got %+v", res)
	}
	if a := f.asset("pay", "db-2"); a.State != store.AssetValidated || a.By != "pia@example.com" || a.Note != "scan clean" || !reflect.DeepEqual(a.Evidence, scan) {
		t.Errorf("db-2: %+v", a)
	}
	if a := f.audits("asset-validated"); len(a) != 2 {
		t.Errorf("validations audited as %+v", a)
	}
	// Taken out of the count, with why.
	res = f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: []string{"db-2", "not-affected"}, Text: "decommissioned"})
	if r, ok := res.(AssetSet); !ok || r.Added || r.State != store.AssetNotAffected {
		t.Fatalf("got %+v", res)
	}
	tr, err := f.st.Tree(context.Background(), f.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := tr.View()
	if len(v.Assets) != 2 || !reflect.DeepEqual(v.Assets[1], store.AssetView{Unit: "pay", Asset: "db-2", State: "not-affected", By: "pia@example.com", At: f.clock.Now(), Note: "decommissioned"}) {
		t.Errorf("view %+v", v.Assets)
	}
}

// TestContactsDoneSaysWhatIsOpen: the unit contact's done on their
// unit's step rolls up the unit's assets: the result names those still
// open.
func TestContactsDoneSaysWhatIsOpen(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "c1"}
	f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: []string{"pay:db-1", "affected"}, Text: "inventory"})
	f.do(pia, Command{Name: SetAsset, Incident: f.inc.Ref, Args: []string{"pay:db-2", "fixed"}, Text: "patched last week"})
	if r, ok := f.do(pia, Command{Name: Ack, Incident: f.inc.Ref}).(Answered); !ok || r.OpenAssets != nil {
		t.Fatalf("the team's ack: %+v", r)
	}
	res := f.do(Actor{Person: "cal@example.com", Platform: "email", RequestID: "<c2@example.com>"}, Command{Name: Done, Incident: f.inc.Ref, Text: "all told"})
	if r, ok := res.(Answered); !ok || !slices.Equal(r.OpenAssets, []string{"db-1"}) {
		t.Fatalf("the contact's done: %+v", res)
	}
}
