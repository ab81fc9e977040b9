package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chainScenario writes what a desk writes: an incident with two steps and
// a draft, the entries that made them, and a step acknowledged later. It
// returns the incident and its steps' row ids.
func chainScenario(t *testing.T, s *Store) (*Incident, []int64) {
	t.Helper()
	ctx := context.Background()
	var inc *Incident
	var steps []int64
	if err := s.Tx(ctx, func(tx *Tx) error {
		var err error
		if inc, err = tx.CreateIncident("SEC", Incident{CreatedAt: t0, Priority: "P1", Category: "incident", Subject: "worm"}); err != nil {
			return err
		}
		if err := tx.Audit(inc.ID, t0, "system", "opened", "by mail"); err != nil {
			return err
		}
		for i, key := range []string{"triage", "contain"} {
			id, err := tx.AddStep(inc.ID, StepRow{Key: key, Position: i + 1, Title: key, Audience: "team", Needs: "done", DueAt: t0.Add(time.Hour), State: StepNotified})
			if err != nil {
				return err
			}
			steps = append(steps, id)
		}
		if err := tx.PutStepPerson(steps[0], StepPerson{Person: "tara@example.com", Role: "audience", NotifiedAt: t0, Token: "tok-tara-0001"}); err != nil {
			return err
		}
		if _, _, err := tx.AddDraft(Draft{Key: "notify:cert", IncidentID: inc.ID, Contact: "cert", Form: "status", DraftedBy: "tara@example.com", DraftedAt: t0}); err != nil {
			return err
		}
		return tx.Audit(inc.ID, t0, "engine", "calltree-started", "significant-event")
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(tx *Tx) error {
		if err := tx.UpdateStep(StepRow{ID: steps[0], State: StepAcknowledged, DueAt: t0.Add(time.Hour), AckedAt: t0.Add(time.Minute)}); err != nil {
			return err
		}
		if err := tx.PutStepPerson(steps[0], StepPerson{Person: "tara@example.com", Role: "audience", NotifiedAt: t0, Token: "tok-tara-0001", AckedAt: t0.Add(time.Minute), Via: "slack"}); err != nil {
			return err
		}
		return tx.AuditFrom(inc.ID, t0.Add(time.Minute), "tara@example.com", "step-ack", "triage", "slack", "t1")
	}); err != nil {
		t.Fatal(err)
	}
	return inc, steps
}

// word is a record's first word: the row's state.
func word(rec string) string { w, _, _ := strings.Cut(rec, " "); return w }

func verify(t *testing.T, s *Store, anchor *AuditAnchor) (int, *AuditBreak) {
	t.Helper()
	n, brk, err := s.VerifyAudit(context.Background(), s.auditKey, anchor)
	if err != nil {
		t.Fatal(err)
	}
	return n, brk
}

func anchorNow(t *testing.T, s *Store) *AuditAnchor {
	t.Helper()
	a, err := s.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a.At = t0
	return &a
}

func exec(t *testing.T, s *Store, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestAuditRecordsStateChanges: each transaction that changes an
// incident, a step or a draft writes one state entry per incident with
// the resulting values, and none when nothing recorded changed (issue 15
// §3: every change has its entry in the same transaction).
func TestAuditRecordsStateChanges(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	inc, steps := chainScenario(t, s)
	rows, err := s.r.Query(`SELECT actor, state FROM audit WHERE action = ? ORDER BY id`, ActionState)
	if err != nil {
		t.Fatal(err)
	}
	var got []AuditState
	var actors []string
	for rows.Next() {
		var actor, st string
		rows.Scan(&actor, &st)
		var a AuditState
		if err := json.Unmarshal([]byte(st), &a); err != nil {
			t.Fatal(err)
		}
		got, actors = append(got, a), append(actors, actor)
	}
	rows.Close()
	var leaked int
	s.r.QueryRow(`SELECT COUNT(*) FROM audit WHERE state LIKE '%tok-tara%'`).Scan(&leaked)
	if leaked != 0 {
		t.Errorf("%d entries record a reference itself, want only its hash", leaked)
	}
	if len(got) != 2 {
		t.Fatalf("%d state entries, want 2 (one per transaction): %+v", len(got), got)
	}
	if st := got[0]; st.Incidents[inc.ID].Status != "open" || word(st.Steps[steps[0]]) != StepNotified || word(st.Steps[steps[1]]) != StepNotified || word(st.Drafts["notify:cert"]) != DraftPending {
		t.Errorf("first state entry = %+v, want the incident open, both steps notified, the draft pending", st)
	}
	if st := got[1]; len(st.Steps) != 1 || word(st.Steps[steps[0]]) != StepAcknowledged || st.Incidents != nil || actors[1] != "tara@example.com" {
		t.Errorf("second state entry = %+v by %s, want only step %d acknowledged, by tara", st, actors[1], steps[0])
	}
	// A write that changes no recorded value (the engine's next look)
	// writes no state entry.
	before := anchorNow(t, s).Count
	if err := s.Tx(ctx, func(tx *Tx) error {
		return tx.UpdateStep(StepRow{ID: steps[1], State: StepNotified, DueAt: t0.Add(time.Hour), NextAt: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if after := anchorNow(t, s).Count; after != before {
		t.Errorf("entries %d after a write that changed no state, want %d", after, before)
	}
	if n, brk := verify(t, s, anchorNow(t, s)); brk != nil || n != before {
		t.Errorf("verify: %d, %v; want %d intact", n, brk, before)
	}
	d, err := s.GetIncident(ctx, inc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Audit {
		if a.Action == ActionState {
			t.Errorf("the incident's history shows a state entry: %+v", a)
		}
	}
}

// TestAuditTamperingIsNamed pins issue 15 §3: each way of rewriting the
// log or the state behind the desk's back, which `audit verify` called
// intact before, is named.
func TestAuditTamperingIsNamed(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, s *Store, steps []int64)
		kind   BreakKind
		row    string
	}{
		{"cut the tail and move the head", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `DELETE FROM audit WHERE id >= (SELECT MAX(id) - 1 FROM audit)`,
				`UPDATE audit_head SET last = (SELECT hash FROM audit ORDER BY id DESC LIMIT 1)`)
		}, BreakTruncated, ""},
		{"delete every entry", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `DELETE FROM audit`, `UPDATE audit_head SET last = ''`)
		}, BreakTruncated, ""},
		{"edit an entry and recompute the chain with plain SHA-256", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE audit SET actor = 'mallory@example.com' WHERE action = 'step-ack'`)
			resealWith(t, s, func(id, inc, at int64, actor, action, detail, platform, requestID, state, prev string) string {
				return legacyAuditHash(id, inc, at, actor, action, detail, platform, requestID, prev)
			})
		}, BreakUnkeyed, ""},
		{"edit an entry and recompute the chain with another key", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE audit SET actor = 'mallory@example.com' WHERE action = 'step-ack'`)
			other := randomAuditKey()
			resealWith(t, s, func(id, inc, at int64, actor, action, detail, platform, requestID, state, prev string) string {
				return auditSeal(other, id, inc, at, actor, action, detail, platform, requestID, state, prev)
			})
		}, BreakEdited, ""},
		{"mark a step done", func(t *testing.T, s *Store, steps []int64) {
			exec(t, s, `UPDATE steps SET state = 'done' WHERE position = 2`)
		}, BreakState, "step 2 (contain)"},
		{"mark a step done, then let the desk change it again", func(t *testing.T, s *Store, steps []int64) {
			exec(t, s, `UPDATE steps SET state = 'done' WHERE position = 2`)
			if err := s.Tx(context.Background(), func(tx *Tx) error {
				if err := tx.UpdateStep(StepRow{ID: steps[1], State: StepSkipped, DueAt: t0.Add(time.Hour)}); err != nil {
					return err
				}
				return tx.Audit(0, t0.Add(time.Hour), "engine", "skipped", "")
			}); err != nil {
				t.Fatal(err)
			}
		}, BreakState, "step 2 (contain)"},
		{"approve a draft", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE drafts SET state = 'approved', approved_by = 'mallory@example.com'`)
		}, BreakState, "draft notify:cert"},
		{"close the incident", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE incidents SET status = 'closed'`)
		}, BreakState, "the incident"},
		// What a draft goes to, and that it exists.
		{"send a draft to another contact", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE drafts SET contact = 'sandbox-isp'`)
		}, BreakState, "draft notify:cert"},
		{"delete a draft", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `DELETE FROM drafts`)
		}, BreakState, "draft notify:cert"},
		// A step's deadline, level and existence; its people's answers
		// and references.
		{"delete a step", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `DELETE FROM steps WHERE id = (SELECT MAX(id) FROM steps)`)
		}, BreakState, "step row 2"},
		{"move a deadline", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE steps SET due_at = due_at + 86400000 WHERE position = 2`)
		}, BreakState, "step 2 (contain)"},
		{"raise a level", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE steps SET level = 2 WHERE position = 2`)
		}, BreakState, "step 2 (contain)"},
		{"confirm as a person", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE step_people SET done_at = acked_at, via = 'email-token'`)
		}, BreakState, "step 1 (triage)"},
		{"mark a person away", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE step_people SET away_at = acked_at`)
		}, BreakState, "step 1 (triage)"},
		{"set a known reference", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `UPDATE step_people SET token = 'aaaaaaaaaa'`)
		}, BreakState, "step 1 (triage)"},
		{"add a person with a known reference", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `INSERT INTO step_people (step_id, person, role, notified_at, token) VALUES (2, 'mallory@example.com', 'audience', 1, 'aaaaaaaaaa')`)
		}, BreakState, "step 2 (contain)"},
		{"remove a person", func(t *testing.T, s *Store, _ []int64) {
			exec(t, s, `DELETE FROM step_people`)
		}, BreakState, "step row 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			inc, steps := chainScenario(t, s)
			anchor := anchorNow(t, s)
			if _, brk := verify(t, s, anchor); brk != nil {
				t.Fatalf("before tampering: %v", brk)
			}
			c.tamper(t, s, steps)
			_, brk := verify(t, s, anchor)
			if brk == nil || brk.Kind != c.kind || brk.Row != c.row {
				t.Fatalf("got %+v, want a %s break (row %q)", brk, c.kind, c.row)
			}
			if c.kind == BreakState && brk.Incident != inc.Ref {
				t.Errorf("break names incident %q, want %s", brk.Incident, inc.Ref)
			}
			// A change the desk overwrote is named at the entry that
			// found it changed: it was done, the log said notified.
			if again := strings.Contains(c.name, "again"); again && (brk.ID == 0 || word(brk.Have) != StepDone || word(brk.Recorded) != StepNotified) {
				t.Errorf("overwritten change: %+v, want the entry that found it done where notified was recorded", brk)
			}
		})
	}
}

// resealWith recomputes every entry's seal and the head with seal, as
// someone who can write the database would.
func resealWith(t *testing.T, s *Store, seal func(id, inc, at int64, actor, action, detail, platform, requestID, state, prev string) string) {
	t.Helper()
	rows, err := s.w.Query(`SELECT id, COALESCE(incident_id, 0), at, actor, action, detail, platform, request_id, state FROM audit ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type e struct {
		id, inc, at                                       int64
		actor, action, detail, platform, requestID, state string
	}
	var all []e
	for rows.Next() {
		var x e
		rows.Scan(&x.id, &x.inc, &x.at, &x.actor, &x.action, &x.detail, &x.platform, &x.requestID, &x.state)
		all = append(all, x)
	}
	rows.Close()
	prev := ""
	for _, x := range all {
		h := seal(x.id, x.inc, x.at, x.actor, x.action, x.detail, x.platform, x.requestID, x.state, prev)
		if _, err := s.w.Exec(`UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?`, prev, h, x.id); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	exec(t, s, `UPDATE audit_head SET last = '`+prev+`'`)
}

// TestBlankedSealsAreNotResealed pins issue 15 §3: a log whose seals were
// stripped is not sealed again by the next start, and verification fails.
func TestBlankedSealsAreNotResealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	key := s.auditKey
	chainScenario(t, s)
	exec(t, s, `UPDATE audit SET hash = '', prev_hash = ''`, `UPDATE audit_head SET last = ''`)
	s.Close()
	s, err = OpenSQLite(context.Background(), path) // the next start
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sealed int
	s.r.QueryRow(`SELECT COUNT(*) FROM audit WHERE hash <> ''`).Scan(&sealed)
	if sealed != 0 {
		t.Errorf("%d entries sealed again by the next start, want 0", sealed)
	}
	if _, brk, err := s.VerifyAudit(context.Background(), key, nil); err != nil || brk == nil || brk.Kind != BreakEdited || brk.ID != 1 {
		t.Errorf("verify after blanking: %+v, %v; want entry 1 edited", brk, err)
	}
}

// TestUnkeyedEntriesPassOnlyBeforeTheMarker: a log written before the key
// (sealed with plain hashes by the migration that added the chain) passes
// once the audit-keyed entry counts it, its rows vouched for by the
// marker's snapshot; without the marker, the same log does not.
func TestUnkeyedEntriesPassOnlyBeforeTheMarker(t *testing.T) {
	s := upgraded(t, 11,
		`INSERT INTO incidents (id, ref, prefix, year, seq, status, priority, category, subject, reporter, reporter_name, language, event_at, created_at, updated_at)
			VALUES (1, 'SEC-2026-0041', 'SEC', 2026, 41, 'open', 'P2', 'phishing', 'Phish', 'a@example.org', 'A', 'en', 1, 1, 1)`,
		`INSERT INTO audit (incident_id, at, actor, action, detail) VALUES (1, 1, 'system', 'opened', 'old'), (1, 2, 'system', 'acknowledged', 'old')`)
	if _, brk := verify(t, s, nil); brk == nil || brk.Kind != BreakUnkeyed || brk.ID != 1 {
		t.Fatalf("old log without the marker: %+v, want entry 1 unkeyed", brk)
	}
	if err := s.BeginKeyedChain(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	if n, brk := verify(t, s, anchorNow(t, s)); brk != nil || n != 3 {
		t.Errorf("old log after the marker: %d, %+v; want 3 intact", n, brk)
	}
	// Entries written with plain hashes after the marker do not pass.
	exec(t, s, `INSERT INTO audit (incident_id, at, actor, action, detail, prev_hash) VALUES (1, 3, 'mallory', 'closed', '', (SELECT last FROM audit_head))`)
	var id int64
	var prev string
	s.r.QueryRow(`SELECT id, prev_hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&id, &prev)
	h := legacyAuditHash(id, 1, 3, "mallory", "closed", "", "", "", prev)
	exec(t, s, `UPDATE audit SET hash = '`+h+`' WHERE id = `+itoa(id), `UPDATE audit_head SET last = '`+h+`'`)
	if _, brk := verify(t, s, nil); brk == nil || brk.Kind != BreakUnkeyed || brk.ID != id {
		t.Errorf("plain-hashed entry after the marker: %+v, want entry %d unkeyed", brk, id)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestKeyedChainBeginsOnce: the audit-keyed entry is due on a store
// created empty and on one upgraded from before the key, once; a store
// whose chain began (here: one at the schema just before the flag, as
// issue 15 left it) never begins again, whatever its log looks like, and
// an empty log does not verify.
func TestKeyedChainBeginsOnce(t *testing.T) {
	ctx := context.Background()
	fresh, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if due, err := fresh.KeyingDue(ctx); err != nil || !due {
		t.Errorf("fresh store: due %v, %v; want due", due, err)
	}
	if err := fresh.BeginKeyedChain(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if err := fresh.BeginKeyedChain(ctx, t0); err != ErrKeyingNotDue {
		t.Errorf("second audit-keyed entry: %v, want ErrKeyingNotDue", err)
	}
	// Wiped: nothing is begun again, and the empty log is named.
	exec(t, fresh, `DELETE FROM audit`, `UPDATE audit_head SET last = ''`)
	if due, _ := fresh.KeyingDue(ctx); due {
		t.Errorf("wiped log: due again")
	}
	if _, brk := verify(t, fresh, nil); brk == nil || brk.Kind != BreakUnkeyed {
		t.Errorf("wiped log: %+v, want an unkeyed break", brk)
	}

	old := upgraded(t, keyingVersion()-1)
	if due, err := old.KeyingDue(ctx); err != nil || !due {
		t.Errorf("store from before the key: due %v, %v; want due", due, err)
	}
	keyed := upgraded(t, len(sqliteMigrations)-1)
	if due, err := keyed.KeyingDue(ctx); err != nil || due {
		t.Errorf("store keyed already: due %v, %v; want not due", due, err)
	}
	if err := keyed.BeginKeyedChain(ctx, t0); err != ErrKeyingNotDue {
		t.Errorf("store keyed already: %v, want ErrKeyingNotDue", err)
	}
}

// TestRestartedStepRecordsItsPeopleGone: a step started again (its unit
// added back) loses the people it had told; the entry of that change
// records them gone, so the chain still verifies. (Before, the people were
// deleted unrecorded and verify named the next change of theirs.)
func TestRestartedStepRecordsItsPeopleGone(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	inc, steps := chainScenario(t, s)
	if err := s.Tx(ctx, func(tx *Tx) error {
		if err := tx.RestartStep(StepRow{ID: steps[0], State: StepWaiting, DueAt: t0.Add(2 * time.Hour), NextAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.AuditFrom(inc.ID, t0.Add(2*time.Minute), "tara@example.com", "units-changed", "+web", "slack", "t2")
	}); err != nil {
		t.Fatal(err)
	}
	// Told again: a person of the same name on the same step.
	if err := s.Tx(ctx, func(tx *Tx) error {
		if err := tx.PutStepPerson(steps[0], StepPerson{Person: "tara@example.com", Role: "audience", NotifiedAt: t0.Add(3 * time.Minute), Token: "tok-tara-0002"}); err != nil {
			return err
		}
		return tx.Audit(inc.ID, t0.Add(3*time.Minute), "engine", "step-notified", "triage")
	}); err != nil {
		t.Fatal(err)
	}
	if n, brk := verify(t, s, anchorNow(t, s)); brk != nil {
		t.Errorf("verify after a restarted step: %d, %+v", n, brk)
	}
}
