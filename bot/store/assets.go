package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Asset states, as the API shows them (the process's patch database).
const (
	AssetAffected    = "affected"
	AssetFixed       = "fixed"
	AssetValidated   = "validated"
	AssetNotAffected = "not-affected"
)

// AssetStates are the states an asset may be set to.
var AssetStates = []string{AssetAffected, AssetFixed, AssetValidated, AssetNotAffected}

// AssetRow is one asset of an affected unit and how far it is.
type AssetRow struct {
	ID    int64
	Unit  string
	Asset string
	State string
	By    string // who set the state last: a roster address, or "" (the report)
	At    time.Time
	Note  string
	// Evidence are the files that came with the state (the team's scan
	// output attached to its answer), kept with the message that brought
	// them; each change sets them with its note.
	Evidence []Evidence
}

// Evidence is a file attached to an asset's state: its name as sent and
// its SHA-256 (the blob under DATA/blobs, shown on the incident).
type Evidence struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Open reports whether the asset still waits for its fix.
func (a AssetRow) Open() bool { return a.State == AssetAffected }

// AssetView is an asset as the API, the CLI and the desk show it (the
// keys are a contract: DESIGN.md).
type AssetView struct {
	Unit  string    `json:"unit"`
	Asset string    `json:"asset"`
	State string    `json:"state"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
	Note  string    `json:"note"`
	// Evidence: the files (scan output) that came with the state.
	Evidence []Evidence `json:"evidence,omitempty"`
}

// PutAsset records an asset of incidentID's unit in state a.State (new,
// or changed), with its audit state.
func (t *Tx) PutAsset(incidentID int64, a AssetRow) error {
	var id int64
	err := t.queryRow(`SELECT id FROM incident_assets WHERE incident_id = ? AND unit = ? AND asset = ?`, incidentID, a.Unit, a.Asset).Scan(&id)
	if err == nil {
		if err := t.touchAsset(id, 0, a.At); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE incident_assets SET state = ?, by_person = ?, at = ?, note = ?, evidence = ? WHERE id = ?`, a.State, strings.ToLower(a.By), ms(a.At), a.Note, evidenceJSON(a.Evidence), id)
		return err
	}
	if err := t.queryRow(`INSERT INTO incident_assets (incident_id, unit, asset, state, by_person, at, note, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		incidentID, a.Unit, a.Asset, a.State, strings.ToLower(a.By), ms(a.At), a.Note, evidenceJSON(a.Evidence)).Scan(&id); err != nil {
		return err
	}
	return t.touchAsset(id, incidentID, a.At)
}

// addAffected records the assets of unit the report named, as affected,
// unless the incident has them already.
func (t *Tx) addAffected(incidentID int64, unit string, assets []string, at time.Time) error {
	for _, name := range assets {
		var n int
		if err := t.queryRow(`SELECT COUNT(*) FROM incident_assets WHERE incident_id = ? AND unit = ? AND asset = ?`, incidentID, unit, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if err := t.PutAsset(incidentID, AssetRow{Unit: unit, Asset: name, State: AssetAffected, At: at}); err != nil {
			return err
		}
	}
	return nil
}

func loadAssets(ctx context.Context, q querier, t *Tree) error {
	rows, err := q.QueryContext(ctx, `SELECT id, unit, asset, state, by_person, at, note, evidence FROM incident_assets WHERE incident_id = ? ORDER BY unit, id`, t.Incident.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a AssetRow
		var at int64
		var evidence string
		if err := rows.Scan(&a.ID, &a.Unit, &a.Asset, &a.State, &a.By, &at, &a.Note, &evidence); err != nil {
			return err
		}
		if evidence != "" {
			if err := json.Unmarshal([]byte(evidence), &a.Evidence); err != nil {
				return fmt.Errorf("asset %d: its evidence: %w", a.ID, err)
			}
		}
		a.At = fromMS(at)
		t.Assets = append(t.Assets, a)
	}
	return rows.Err()
}

func evidenceJSON(e []Evidence) string {
	if len(e) == 0 {
		return ""
	}
	b, _ := json.Marshal(e) // strings and a number: cannot fail
	return string(b)
}

// Asset finds the incident's asset named name (case does not matter),
// in unit when unit is given.
func (t *Tree) Asset(unit, name string) (AssetRow, bool) {
	for _, a := range t.Assets {
		if strings.EqualFold(a.Asset, name) && (unit == "" || a.Unit == unit) {
			return a, true
		}
	}
	return AssetRow{}, false
}

// OpenAssets are the names of unit's assets that still wait for their
// fix (all units': unit "").
func (t *Tree) OpenAssets(unit string) []string {
	var out []string
	for _, a := range t.Assets {
		if (unit == "" || a.Unit == unit) && a.Open() {
			out = append(out, a.Asset)
		}
	}
	return out
}
