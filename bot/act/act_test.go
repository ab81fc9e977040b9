package act

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/engine"
	"tocsin/bot/notify"
	"tocsin/bot/roster"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
	"tocsin/templates"
)

const rosterYAML = `desk: {address: security@example.com, name: Desk}
people:
  - {name: Pia, email: pia@example.com, slack_id: U0PIA}
  - {name: Sol, email: sol@example.com}
  - {name: Cal, email: cal@example.com, language: de}
  - {name: Bo, email: bo@example.com}
  - {name: Ona, email: ona@example.com}
  - {name: Ofe, email: ofe@example.com}
  - {name: Cio, email: cio@example.com}
  - {name: Rex, email: rex@example.com}
team: {members: [pia@example.com, sol@example.com]}
units:
  - {id: pay, contact: cal@example.com, backup: bo@example.com, owners: [ona@example.com], assets: [{host: pay.example.com}]}
  - {id: web, contact: bo@example.com, assets: [{host: www.example.com}]}
officers: [ofe@example.com]
cio: cio@example.com
regions: [{name: Global, default: true, security_officer: ofe@example.com}]
contacts:
  - {id: isp, name: ISP abuse desk, kind: isp, email: abuse@isp.example.net}
`

// fixture is a desk on a fresh store with one P1 incident on unit pay,
// its significant-event tree started, and a draft D1 (by Sol) waiting.
type fixture struct {
	t      *testing.T
	d      *Desk
	st     *store.Store
	clock  *clock.Fake
	inc    *store.Incident
	kicks  int
	queued []string // the cards' events
	path   string
	// notWritable is what the fixture's Reporter says of the reporter.
	notWritable NotWritable
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	cfg, err := config.Parse("r.yaml", []byte(rosterYAML))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _, err := responders.LoadOrCreateKey(filepath.Join(dir, "k.asc"), "Desk", "security@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	nf := notify.New(cfg, st, key, templates.Default(), fake, log)
	ro := roster.New(cfg)
	e := engine.New(cfg, st, ro, nf, fake, log)
	e.Form = func(tx *store.Tx, inc *store.Incident) (templates.Form, error) {
		return templates.Form{IncidentID: inc.Ref, Date: inc.EventAt, Priority: inc.Priority, Category: inc.Category, Status: "investigating", Summary: inc.Subject,
			Desk: templates.Desk{Name: "Desk", Address: "security@example.com", Fingerprint: key.Fingerprint()}}, nil
	}
	f := &fixture{t: t, st: st, clock: fake, path: filepath.Join(dir, "t.db")}
	d := &Desk{Config: cfg, Store: st, Engine: e, Roster: ro, Clock: fake, Notify: nf,
		SetUnits: func(ctx context.Context, id int64, add, remove []string, why, actor, via string) error {
			var units []store.TreeUnit
			for _, u := range add {
				if _, ok := cfg.UnitByID(u); !ok {
					return &UnitError{Unit: u}
				}
				units = append(units, store.TreeUnit{Unit: u, Evidence: "set by " + actor})
			}
			return e.SetUnits(ctx, id, units, remove, why, actor, via)
		},
		Progress: func(*store.Tree) string { return "progress" },
		Changed: func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error {
			f.queued = append(f.queued, event)
			return nil
		},
		Report: func(ctx context.Context, taker config.Person, text, platform, requestID string) (string, error) {
			return "SEC-2026-0099", nil
		},
		Queued: func() { f.kicks++ },
		Reporter: func(tx *store.Tx, inc *store.Incident, form, text string, now time.Time) (notify.Notice, NotWritable, error) {
			if f.notWritable != "" {
				return notify.Notice{}, f.notWritable, nil
			}
			return notify.Notice{Form: form, Kind: form, IncidentRef: inc.Ref, To: mail.Address{Address: inc.Reporter},
				Data: templates.Form{IncidentID: inc.Ref, Summary: inc.Subject, Status: "investigating", NonTechnical: text, Resolution: text, Questions: []string{text}}}, "", nil
		},
	}
	f.d = d
	if err := st.Tx(context.Background(), func(tx *store.Tx) error {
		f.inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P1", Category: "incident", Subject: "RCE on pay", Reporter: "r@example.org", CreatedAt: start})
		if err != nil {
			return err
		}
		if err := tx.AddMessage(store.Message{IncidentID: f.inc.ID, Direction: "in", MessageID: "<r1@example.org>", SHA256: "00", Source: "test",
			From: "r@example.org", Subject: "RCE on pay", Report: []byte(`{}`), CreatedAt: start}); err != nil {
			return err
		}
		_, err = e.StartTree(tx, f.inc, []store.TreeUnit{{Unit: "pay", Evidence: "host", AddedAt: start}}, "", start)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(context.Background()); err != nil {
		t.Fatal("tick:", err)
	}
	contact, _ := cfg.ContactByID("isp")
	if _, err := e.Draft(context.Background(), f.inc.ID, contact, "", "sol@example.com", "slack", "draft-1"); err != nil {
		t.Fatal("draft:", err)
	}
	fake.Advance(time.Minute)
	f.queued, f.kicks = nil, 0
	return f
}

func (f *fixture) do(a Actor, c Command) Result {
	f.t.Helper()
	res, err := f.d.Do(context.Background(), a, c)
	if err != nil {
		f.t.Fatalf("%s by %+v: %v", c.Name, a, err)
	}
	return res
}

// audits are the audit entries of action, on the incident and the desk's
// own log, read from the store's file.
func (f *fixture) audits(action string) []store.AuditEntry {
	f.t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.path+"?mode=ro")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, detail, platform, request_id FROM audit WHERE action = ? ORDER BY id`, action)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		if err := rows.Scan(&e.Actor, &e.Action, &e.Detail, &e.Platform, &e.RequestID); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// outcome is a result as the table writes it: the refusal's reason, or
// the result's kind.
func outcome(r Result) string {
	if ref, ok := r.(Refused); ok {
		return string(ref.Reason)
	}
	return string(r.Kind())
}

// TestPermissions: every command, given by each kind of person, is
// carried out or refused as the permission table says, through a real
// store; every permission refusal is audited.
func TestPermissions(t *testing.T) {
	people := []struct {
		kind  string
		actor Actor
	}{
		{"team", Actor{Person: "pia@example.com"}},
		{"officer", Actor{Person: "ofe@example.com"}},
		{"cio", Actor{Person: "cio@example.com"}},
		{"unit-contact", Actor{Person: "cal@example.com"}},
		{"unit-backup", Actor{Person: "bo@example.com"}},
		{"owner", Actor{Person: "ona@example.com"}},
		{"roster", Actor{Person: "rex@example.com"}},
		{"unknown", Actor{UserID: "U0NOBODY"}},
	}
	ref := "SEC-2026-0001"
	cmds := []struct {
		c    Command
		want []string // by people's order
	}{
		{Command{Name: Help}, []string{"help", "help", "help", "help", "help", "help", "help", "not-on-roster"}},
		{Command{Name: OnCallNow}, []string{"oncall", "oncall", "oncall", "oncall", "oncall", "oncall", "oncall", "not-on-roster"}},
		{Command{Name: Report, Text: "a call"}, []string{"filed", "filed", "filed", "filed", "filed", "filed", "filed", "not-on-roster"}},
		{Command{Name: Status, Incident: ref}, []string{"status", "status", "status", "status", "status", "status", "status", "not-on-roster"}},
		{Command{Name: Note, Incident: ref, Text: "n"}, []string{"noted", "noted", "noted", "noted", "noted", "noted", "noted", "not-on-roster"}},
		{Command{Name: Ack, Incident: ref}, []string{"answered", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "not-on-roster"}},
		{Command{Name: Done, Incident: ref}, []string{"answered", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "not-on-roster"}},
		{Command{Name: Escalate, Incident: ref, Text: "why"}, []string{"escalated", "escalated", "not-in-tree", "escalated", "escalated", "escalated", "not-in-tree", "not-on-roster"}},
		{Command{Name: Event, Incident: ref, Args: []string{"2026-12-01T09:00:00Z"}}, []string{"event-moved", "event-moved", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Affects, Incident: ref, Args: []string{"+web"}}, []string{"units-changed", "units-changed", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Close, Incident: ref}, []string{"closed", "closed", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Priority, Incident: ref, Args: []string{"P2"}}, []string{"priority-set", "priority-set", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Assign, Incident: ref, Args: []string{"sol"}}, []string{"assigned", "assigned", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Notify, Incident: ref, Args: []string{"isp"}}, []string{"drafted", "drafted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Approve, Incident: ref, Args: []string{"D1"}}, []string{"approved", "approved", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: LinkRequest, Args: []string{"rex@example.com"}}, []string{"link-mailed", "link-mailed", "link-mailed", "link-mailed", "link-mailed", "link-mailed", "link-mailed", "link-mailed"}},
		{Command{Name: LinkConfirm, Args: []string{"12345678"}}, []string{"bad-code", "bad-code", "bad-code", "bad-code", "bad-code", "bad-code", "bad-code", "bad-code"}},
		{Command{Name: Away, Incident: ref, Text: "out of office"}, []string{"answered", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "not-on-roster"}},
		{Command{Name: Blocked, Incident: ref, Text: "the patch fails"}, []string{"answered", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "nothing-to-answer", "not-on-roster"}},
		{Command{Name: Actions, Incident: ref, Text: "Prevent: block 443.\nPatch: 4.2.1"}, []string{"actions-written", "actions-written", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: SetAsset, Incident: ref, Args: []string{"pay:db-2", "fixed"}, Text: "patched"}, []string{"asset-set", "asset-set", "not-permitted", "asset-set", "asset-set", "asset-set", "not-permitted", "not-on-roster"}},
		{Command{Name: Reply, Incident: ref, Args: []string{"status-update"}, DryRun: true}, []string{"reply-preview", "reply-preview", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-permitted", "not-on-roster"}},
		{Command{Name: Unlink}, []string{"not-linked", "not-linked", "not-linked", "not-linked", "not-linked", "not-linked", "not-linked", "not-linked"}},
	}
	if len(cmds) != len(handlers) {
		t.Errorf("the table covers %d commands, the desk has %d", len(cmds), len(handlers))
	}
	for _, tc := range cmds {
		for i, p := range people {
			t.Run(fmt.Sprintf("%s/%s", tc.c.Name, p.kind), func(t *testing.T) {
				f := newFixture(t)
				a := p.actor
				a.Platform, a.RequestID = "slack", "r1"
				if a.UserID == "" {
					a.UserID = "U0" + strings.ToUpper(p.kind)
				}
				res := f.do(a, tc.c)
				if got := outcome(res); got != tc.want[i] {
					t.Fatalf("got %s (%+v), want %s", got, res, tc.want[i])
				}
				refused := f.audits("chat-refused")
				switch tc.want[i] {
				case "not-permitted", "not-on-roster", "not-in-tree":
					if len(refused) != 1 || refused[0].RequestID != "r1" || !strings.Contains(refused[0].Detail, string(tc.c.Name)) {
						t.Errorf("refusal audited as %+v", refused)
					}
					if f.kicks != 0 || len(f.queued) != 0 {
						t.Errorf("a refusal woke the outbox %d times and queued cards %v", f.kicks, f.queued)
					}
				default:
					if len(refused) != 0 {
						t.Errorf("not refused, but audited as refused: %+v", refused)
					}
				}
			})
		}
	}
}

// TestPriorityChangesAndTells: /priority changes the priority, audits
// the change with its request, queues the cards and wakes the outbox.
func TestPriorityChangesAndTells(t *testing.T) {
	f := newFixture(t)
	res := f.do(Actor{Person: "pia@example.com", Platform: "slack", RequestID: "p1"}, Command{Name: Priority, Incident: "sec-2026-0001", Args: []string{"p3"}})
	if res != (PrioritySet{Incident: "SEC-2026-0001", Priority: "P3", By: "Pia"}) {
		t.Fatalf("got %+v", res)
	}
	inc, err := f.st.IncidentByRef(context.Background(), "SEC-2026-0001")
	if err != nil || inc.Priority != "P3" {
		t.Fatalf("priority %v, %v", inc, err)
	}
	a := f.audits("priority-changed")
	if len(a) != 1 || a[0].Actor != "pia@example.com" || a[0].Detail != "P1 to P3 via slack p1" || a[0].RequestID != "p1" || a[0].Platform != "slack" {
		t.Errorf("audited as %+v", a)
	}
	if len(f.queued) != 1 || f.queued[0] != "priority:P3:p1" || f.kicks != 1 {
		t.Errorf("cards queued %v, outbox woken %d times", f.queued, f.kicks)
	}
}

// TestRefusalsAreTyped: what is not there, or not allowed, is a typed
// refusal carrying what its words need.
func TestRefusalsAreTyped(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "x"}
	sol := Actor{Person: "sol@example.com", Platform: "slack", RequestID: "y"}
	for _, tc := range []struct {
		a    Actor
		c    Command
		want Refused
	}{
		{pia, Command{Name: Close, Incident: "SEC-2026-0404"}, Refused{Reason: NoSuchIncident, Command: Close, Incident: "SEC-2026-0404", Platform: "slack", Arg: "SEC-2026-0404"}},
		{Actor{Person: "rex@example.com", Platform: "slack"}, Command{Name: Ack}, Refused{Reason: NoOpenStep, Command: Ack, Platform: "slack"}},
		{pia, Command{Name: Event, Incident: "SEC-2026-0001", Args: []string{"tomorrow"}}, Refused{Reason: BadTime, Command: Event, Incident: "SEC-2026-0001", Platform: "slack", Arg: "tomorrow"}},
		{pia, Command{Name: Affects, Incident: "SEC-2026-0001", Args: []string{"+nope"}}, Refused{Reason: UnknownUnit, Command: Affects, Incident: "SEC-2026-0001", Platform: "slack", Arg: "nope"}},
		{pia, Command{Name: Assign, Incident: "SEC-2026-0001", Args: []string{"nobody"}}, Refused{Reason: UnknownPerson, Command: Assign, Incident: "SEC-2026-0001", Platform: "slack", Arg: "nobody"}},
		{pia, Command{Name: Notify, Incident: "SEC-2026-0001", Args: []string{"cert"}}, Refused{Reason: UnknownContact, Command: Notify, Incident: "SEC-2026-0001", Platform: "slack", Arg: "cert", Known: []string{"isp"}}},
		{pia, Command{Name: OnCallNow, Args: []string{"nope"}}, Refused{Reason: UnknownUnit, Command: OnCallNow, Platform: "slack", Arg: "nope"}},
		{Actor{Platform: "slack", UserID: "U0PIA"}, Command{Name: Unlink}, Refused{Reason: LinkedInConfig, Command: Unlink, Platform: "slack", Arg: "pia@example.com"}},
	} {
		res := f.do(tc.a, tc.c)
		if fmt.Sprintf("%+v", res) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.c.Name, res, tc.want)
		}
	}
	waiting := []Draft{{ID: "D1", Form: "status-report", Contact: "ISP abuse desk (isp)", DraftedBy: "sol@example.com"}}
	for _, tc := range []struct {
		a     Actor
		draft string
		want  Reason
	}{{sol, "D1", OwnDraft}, {pia, "", DraftNotNamed}, {pia, "D9", NoSuchDraft}} {
		res := f.do(tc.a, Command{Name: Approve, Incident: "SEC-2026-0001", Args: []string{tc.draft}})
		r, ok := res.(Refused)
		if !ok || r.Reason != tc.want || fmt.Sprint(r.Waiting) != fmt.Sprint(waiting) {
			t.Errorf("/approve %q by %s: got %+v, want %s with D1 waiting", tc.draft, tc.a.Person, res, tc.want)
		}
	}
	// An approval made before the draft it names was drafted.
	early := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "z", At: f.clock.Now().Add(-2 * time.Minute)}
	if r, ok := f.do(early, Command{Name: Approve, Incident: "SEC-2026-0001", Args: []string{"D1"}}).(Refused); !ok || r.Reason != DraftNewer {
		t.Errorf("an approval older than its draft: %+v", r)
	}
	if res := f.do(pia, Command{Name: Approve, Incident: "SEC-2026-0001", Args: []string{"D1"}}); outcome(res) != "approved" {
		t.Fatalf("approve: %+v", res)
	}
	if res := f.do(pia, Command{Name: Approve, Incident: "SEC-2026-0001", Args: []string{"D1"}}); outcome(res) != string(NothingToApprove) {
		t.Errorf("approve twice: %+v", res)
	}
	if res := f.do(pia, Command{Name: Close, Incident: "SEC-2026-0001"}); res != (Closed{Incident: "SEC-2026-0001", By: "Pia", ReporterTold: true}) {
		t.Fatalf("close: %+v", res)
	}
	if res := f.do(sol, Command{Name: Close, Incident: "SEC-2026-0001"}); outcome(res) != string(AlreadyClosed) {
		t.Errorf("close twice: %+v", res)
	}
}

// TestLanguageOfTheReader: replies are worded in the actor's roster
// language, else English; a chat account is looked up.
func TestLanguageOfTheReader(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		a    Actor
		want string
	}{
		{Actor{Person: "cal@example.com"}, "de"},
		{Actor{Person: "pia@example.com"}, "en"},
		{Actor{Platform: "slack", UserID: "U0PIA"}, "en"},
		{Actor{Platform: "slack", UserID: "U0NOBODY"}, "en"},
	} {
		if got := f.d.Language(ctx, tc.a); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.a, got, tc.want)
		}
	}
}

// TestRolesOf: the roles a roster person holds, as the permission table
// reads them.
func TestRolesOf(t *testing.T) {
	cfg, err := config.Parse("r.yaml", []byte(rosterYAML))
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]string{
		"pia@example.com":    "roster|team",
		"ofe@example.com":    "roster|officer",
		"cio@example.com":    "roster|cio",
		"cal@example.com":    "roster|unit-contact",
		"bo@example.com":     "roster|unit-contact|unit-backup",
		"ona@example.com":    "roster|owner",
		"rex@example.com":    "roster",
		"nobody@example.com": "nobody",
		"PIA@EXAMPLE.COM":    "roster|team",
	} {
		if got := RolesOf(cfg, who).String(); got != want {
			t.Errorf("%s: %s, want %s", who, got, want)
		}
	}
}

// TestIntegrations: a named integration acts with the roles its token
// grants, and is audited by its name.
func TestIntegrations(t *testing.T) {
	f := newFixture(t)
	plain := Actor{Integration: "siem", Grants: Roster, Platform: "api", RequestID: "token-3"}
	if r := f.do(plain, Command{Name: Close, Incident: "SEC-2026-0001"}); outcome(r) != string(NotPermitted) {
		t.Errorf("an integration without the officer scope closed: %+v", r)
	}
	if a := f.audits("api-refused"); len(a) != 1 || a[0].Actor != "integration:siem" || a[0].RequestID != "token-3" {
		t.Errorf("refusal audited as %+v", a)
	}
	officer := plain
	officer.Grants |= Officer
	if r := f.do(officer, Command{Name: Close, Incident: "SEC-2026-0001"}); r != (Closed{Incident: "SEC-2026-0001", By: "integration:siem", ReporterTold: true}) {
		t.Errorf("an officer-scoped integration closing: %+v", r)
	}
	// A person's roles are the roster's, whatever a way in grants.
	if r := f.do(Actor{Person: "rex@example.com", Grants: Officer, Platform: "api"}, Command{Name: Close, Incident: "SEC-2026-0002"}); outcome(r) != string(NoSuchIncident) {
		t.Errorf("%+v", r)
	}
	if r := f.do(Actor{Person: "rex@example.com", Grants: Officer, Platform: "api"}, Command{Name: Priority, Incident: "SEC-2026-0001", Args: []string{"P2"}}); outcome(r) != string(NotPermitted) {
		t.Errorf("a person was granted a role by the way in: %+v", r)
	}
}

// TestMailAnswersInTheFilingTransaction: a mail answer counts in the
// caller's transaction, typed like any other; one that counts for nothing
// is audited with the mail's id; only answers run there.
func TestMailAnswersInTheFilingTransaction(t *testing.T) {
	f := newFixture(t)
	doTx := func(a Actor, c Command) (Result, error) {
		var res Result
		err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
			var err error
			res, _, err = f.d.DoTx(tx, a, c)
			return err
		})
		return res, err
	}
	mail := func(who string) Actor {
		return Actor{Person: who, Platform: "email", RequestID: "<m1@example.com>", Via: "email-signed"}
	}
	res, err := doTx(mail("pia@example.com"), Command{Name: Ack, Incident: "SEC-2026-0001", Text: "on it"})
	if a, ok := res.(Answered); err != nil || !ok || a.Verb != "ack" || a.State != "acknowledged" || a.By != "Pia" || a.StepName.Key == "" {
		t.Fatalf("pia's ack: %+v %v", res, err)
	}
	if a := f.audits("step-ack"); len(a) != 1 || !strings.Contains(a[0].Detail, "via email-signed") || a[0].RequestID != "<m1@example.com>" {
		t.Errorf("ack audited as %+v", a)
	}
	res, err = doTx(mail("rex@example.com"), Command{Name: Done, Incident: "SEC-2026-0001"})
	if err != nil || outcome(res) != string(NothingToAnswer) {
		t.Errorf("rex's done: %+v %v", res, err)
	}
	if a := f.audits("answer-not-counted"); len(a) != 1 || a[0].Platform != "email" || a[0].RequestID != "<m1@example.com>" || !strings.Contains(a[0].Detail, `"done" by rex@example.com (email-signed)`) {
		t.Errorf("not counted, audited as %+v", a)
	}
	if res, err := doTx(mail("nobody@example.org"), Command{Name: Ack, Incident: "SEC-2026-0001"}); err != nil || outcome(res) != string(NotOnRoster) {
		t.Errorf("a stranger's ack: %+v %v", res, err)
	}
	if _, err := doTx(mail("pia@example.com"), Command{Name: Close, Incident: "SEC-2026-0001"}); !errors.Is(err, ErrNotInTx) {
		t.Errorf("close in a caller's transaction: %v", err)
	}
}

// TestEscalateAndOnCall: /escalate's reason is in its audit entry with the
// request; /oncall lists every slot, or one unit's.
func TestEscalateAndOnCall(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "discord", RequestID: "e1"}
	if res := f.do(pia, Command{Name: Escalate, Incident: "SEC-2026-0001", Text: "pay is down"}); res != (Escalated{Incident: "SEC-2026-0001", Why: "pay is down", By: "Pia"}) {
		t.Fatalf("escalate: %+v", res)
	}
	if a := f.audits("escalated"); len(a) != 1 || !strings.HasSuffix(a[0].Detail, "via discord e1: pay is down") || a[0].RequestID != "e1" || a[0].Platform != "discord" {
		t.Errorf("escalation audited as %+v", a)
	}
	if res := f.do(pia, Command{Name: Escalate, Incident: "SEC-2026-0001"}); outcome(res) != "escalated" || res.(Escalated).Why != "no reason given" {
		t.Errorf("escalate without a reason: %+v", res)
	}
	all, ok := f.do(pia, Command{Name: OnCallNow}).(OnCall)
	one, ok2 := f.do(pia, Command{Name: OnCallNow, Args: []string{"pay"}}).(OnCall)
	if !ok || !ok2 || len(one.Slots) == 0 || len(all.Slots) <= len(one.Slots) || one.Unit != "pay" {
		t.Fatalf("oncall: all %+v, pay %+v", all, one)
	}
	for _, s := range one.Slots {
		if !strings.Contains(s.Name, "pay") {
			t.Errorf("/oncall pay lists %+v", s)
		}
	}
}

// TestEveryCommandHasAPermission: a command is one handler and one
// permission; neither without the other.
func TestEveryCommandHasAPermission(t *testing.T) {
	for name := range handlers {
		if Permissions[name] == 0 {
			t.Errorf("%s has a handler and no permission", name)
		}
	}
	for name := range Permissions {
		if handlers[name] == nil {
			t.Errorf("%s has a permission and no handler", name)
		}
	}
	res, err := (&Desk{}).Do(context.Background(), Actor{}, Command{Name: "frobnicate"})
	if err != nil || outcome(res) != string(UnknownCommand) {
		t.Errorf("an unknown command: %+v %v", res, err)
	}
}

// TestLinkFlow: a chat account asks for a link, the code goes to the
// roster address by the chat-link form, only that account can use it,
// and then acts as the person until it unlinks; asking too often is
// refused.
func TestLinkFlow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	newAcct := Actor{Platform: "slack", UserID: "U0REXNEW", RequestID: "l1"}
	if res := f.do(newAcct, Command{Name: LinkRequest, Args: []string{"rex@example.com"}}); res != (LinkMailed{Address: "rex@example.com", Minutes: 30}) {
		t.Fatalf("link request: %+v", res)
	}
	items, err := f.st.Claim(ctx, f.clock.Now().Add(time.Hour), time.Minute, 20)
	if err != nil {
		t.Fatal(err)
	}
	code := ""
	for _, it := range items {
		var n notify.Notice
		if it.Kind == "chat-link" && json.Unmarshal(it.Payload, &n) == nil && n.Form == "chat-link" && n.To.Address == "rex@example.com" && n.Data.Link != nil {
			code = n.Data.Link.Code
		}
	}
	if len(code) != 8 {
		t.Fatalf("no chat-link form queued for rex: %+v", items)
	}
	if res := f.do(Actor{Platform: "slack", UserID: "U0MALLORY"}, Command{Name: LinkConfirm, Args: []string{code}}); outcome(res) != string(BadCode) {
		t.Errorf("another account used the code: %+v", res)
	}
	if res := f.do(newAcct, Command{Name: LinkConfirm, Args: []string{code}}); res != (Linked{Person: "rex@example.com"}) {
		t.Fatalf("link: %+v", res)
	}
	if p, ok := f.d.Person(ctx, Actor{Platform: "slack", UserID: "U0REXNEW"}); !ok || p.Email != "rex@example.com" {
		t.Errorf("the linked account is %+v %v", p, ok)
	}
	if res := f.do(newAcct, Command{Name: Note, Incident: "SEC-2026-0001", Text: "hello"}); outcome(res) != "noted" {
		t.Errorf("the linked account's note: %+v", res)
	}
	if res := f.do(newAcct, Command{Name: Unlink}); res != (Unlinked{Was: "rex@example.com"}) {
		t.Errorf("unlink: %+v", res)
	}
	if res := f.do(newAcct, Command{Name: Note, Incident: "SEC-2026-0001", Text: "hello"}); outcome(res) != string(NotOnRoster) {
		t.Errorf("an unlinked account's note: %+v", res)
	}
	for i := 0; i < 2; i++ {
		f.do(newAcct, Command{Name: LinkRequest, Args: []string{"rex@example.com"}})
	}
	res := f.do(newAcct, Command{Name: LinkRequest, Args: []string{"rex@example.com"}})
	if r, ok := res.(Refused); !ok || r.Reason != TooManyLinks || r.Limit != LinkRequestsPerHour || r.Arg != "rex@example.com" {
		t.Errorf("the fourth request in an hour: %+v", res)
	}
}

// TestAffectsSaysWhy: the units are the leading words that carry a sign
// or name a roster unit; the words after them are why, in the audit.
func TestAffectsSaysWhy(t *testing.T) {
	f := newFixture(t)
	pia := Actor{Person: "pia@example.com", Platform: "slack", RequestID: "u1"}
	res, ok := f.do(pia, Command{Name: Affects, Incident: "SEC-2026-0001", Args: []string{"web", "-pay", "wrong", "unit"}}).(UnitsChanged)
	if !ok || fmt.Sprint(res.Changes) != "[web -pay]" {
		t.Fatalf("/affects ID web -pay wrong unit: %+v", res)
	}
	if a := f.audits("units-changed"); len(a) != 1 || !strings.HasSuffix(a[0].Detail, "via slack u1: wrong unit") {
		t.Errorf("units change audited as %+v", a)
	}
	if r := f.do(pia, Command{Name: Affects, Incident: "SEC-2026-0001", Args: []string{"nope", "why"}}); outcome(r) == "units-changed" {
		t.Errorf("an unknown unit: %+v", r)
	}
}
