package chatops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tocsin/bot/act"
	"tocsin/templates"
)

var update = flag.Bool("update", false, "rewrite testdata/replies.*.golden")

// sampleResults are one result of every kind, and a refusal for every
// reason, each with every field set.
func sampleResults() []act.Result {
	const ref = "SEC-2026-0042"
	waiting := []act.Draft{{ID: "D2", Form: "status-report", Contact: "Example CERT (cert)", DraftedBy: "tara@example.com"}}
	out := []act.Result{
		act.Answered{Incident: ref, Verb: "ack", Step: "Team acknowledges", State: "acknowledged", By: "Tara Team"},
		act.Answered{Incident: ref, Verb: "done", Step: "Owners fix", State: "done", By: "Ona Owner"},
		act.Answered{Incident: ref, Verb: "ack", Step: "Team acknowledges", State: "acknowledged", By: "Tara Team", For: []string{"Theo Team"}},
		act.Answered{Incident: ref, Verb: "blocked", Step: "Owners fix", State: "blocked", By: "Ona Owner"},
		act.IncidentStatus{Incident: ref, Priority: "P1", Status: "open", Category: "incident", Subject: "RCE on pay.example.com", Progress: "team: acknowledged", Waiting: waiting},
		act.Noted{Incident: ref},
		act.EventMoved{Incident: ref, At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), By: "Tara Team"},
		act.UnitsChanged{Incident: ref, Changes: []string{"+pay", "-web"}, By: "Tara Team"},
		act.Closed{Incident: ref, By: "Tara Team"},
		act.Escalated{Incident: ref, Why: "no answer from pay", By: "Tara Team"},
		act.Assigned{Incident: ref, To: "Wes Web", By: "Tara Team"},
		act.PrioritySet{Incident: ref, Priority: "P2", By: "Tara Team"},
		act.Drafted{Incident: ref, Draft: "D2", Contact: "Example CERT", ContactKind: "cert", By: "Tara Team"},
		act.Approved{Incident: ref, Draft: "D2", By: "Theo Team", To: []string{"Example CERT <cert@cert.example>"}},
		act.OnCall{Slots: []act.Slot{{Name: "team primary", Person: "tara@example.com", Why: "rotation"}, {Name: "unit pay contact", Why: "fixed"}}},
		act.Filed{Incident: ref, By: "Tara Team"},
		act.Filed{Incident: ref, By: "Tara Team", Caller: "Ann Lee", CallerTold: true},
		act.Filed{Incident: ref, By: "Tara Team", Caller: "Ann Lee"},
		act.LinkMailed{Address: "wes@example.com", Minutes: 30},
		act.Linked{Person: "wes@example.com"},
		act.Unlinked{Was: "wes@example.com"},
		act.HelpShown{},
		act.ActionsWritten{Incident: ref, Version: 1, By: "Tara Team"},
		act.ActionsWritten{Incident: ref, Version: 2, By: "Tara Team", Told: []string{"cal@example.com", "wes@example.com"}},
		act.Answered{Incident: ref, Verb: "done", Step: "Unit confirms", State: "done", By: "Uma Payments", OpenAssets: []string{"pay-db-2"}},
		act.AssetSet{Incident: ref, Unit: "pay", Asset: "pay-db-2", State: "affected", Why: "seen in the logs", By: "Tara Team", Added: true, Open: []string{"pay-db-2"}},
		act.AssetSet{Incident: ref, Unit: "pay", Asset: "pay-db-2", State: "not-affected", By: "Tara Team"},
		act.AssetsMarked{Incident: ref, Assets: []string{"pay-db-1", "pay-db-2"}, State: "fixed", By: "Ona Owner", Open: []string{"pay-db-3"}},
		act.AssetsMarked{Incident: ref, Assets: []string{"pay-db-3"}, State: "validated", By: "Tara Team", Step: "Owners fix", StepState: "done"},
		act.Closed{Incident: ref, By: "Tara Team", ReporterTold: true},
		act.Closed{Incident: ref, By: "Tara Team", ReporterNotWritable: act.DMARCFailed},
		act.ReplyPreview{Incident: ref, Form: "request-info", To: "rita@example.org", Lang: "de", Subject: "[SEC-2026-0042] Weitere Informationen", Body: "Guten Tag,\nwelcher Host?", Text: "welcher Host?"},
		act.ReplySent{Incident: ref, Form: "closure", To: "rita@example.org", By: "Tara Team"},
	}
	for _, r := range act.Reasons {
		out = append(out, act.Refused{Reason: r, Command: "approve", Incident: ref, Platform: "slack", Arg: "D9", Known: []string{"cert", "isp"}, Waiting: waiting, Limit: 3})
	}
	return out
}

// TestRepliesInEveryLanguage: every result, refusals included, is worded
// in every language replies have, carries what the reader needs (the
// incident, the argument), and is not English outside English; the
// wording is pinned by golden files (-update rewrites them).
func TestRepliesInEveryLanguage(t *testing.T) {
	langs := templates.ReplyLanguages()
	slices.Sort(langs)
	if strings.Join(langs, " ") != "de en es fr ja" {
		t.Errorf("reply languages %v", langs)
	}
	samples := sampleResults()
	english := map[int]string{}
	for _, lang := range langs {
		var golden strings.Builder
		for i, res := range samples {
			reply := Render(lang, res)
			if strings.Contains(reply.Text, "That did not work") || strings.Contains(reply.Text, "<no value>") || reply.Text == "" {
				t.Errorf("%s %s: %q", lang, res.Kind(), reply.Text)
			}
			if r, ok := res.(act.Refused); ok {
				if r.Reason == act.MissingArgument || r.Reason == act.UnknownCommand {
					continue
				}
				if !reply.Ephemeral {
					t.Errorf("%s: a refusal shown to the channel", r.Reason)
				}
			}
			for _, must := range carries(res) {
				if !strings.Contains(reply.Text, must) {
					t.Errorf("%s %s: %q lacks %q", lang, res.Kind(), reply.Text, must)
				}
			}
			if lang == "en" {
				english[i] = reply.Text
			} else if reply.Text == english[i] {
				t.Errorf("%s %s is the English reply: %q", lang, res.Kind(), reply.Text)
			}
			fmt.Fprintf(&golden, "%s %v:\n%s\n\n", res.Kind(), reason(res), reply.Text)
		}
		path := filepath.Join("testdata", "replies."+lang+".golden")
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(path, []byte(golden.String()), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if golden.String() != string(want) {
			t.Errorf("%s differs; run go test ./bot/chatops -run TestReplies -update and review the diff", path)
		}
	}
}

func reason(r act.Result) string {
	if ref, ok := r.(act.Refused); ok {
		return string(ref.Reason)
	}
	return ""
}

// carries is what a reply must show, in any language.
func carries(r act.Result) []string {
	switch r := r.(type) {
	case act.Answered:
		return append([]string{r.Incident, r.Step, r.By}, r.For...)
	case act.IncidentStatus:
		return []string{r.Incident, r.Subject, r.Progress, "/approve " + r.Incident + " D2"}
	case act.Approved:
		return []string{r.Incident, r.Draft, r.To[0]}
	case act.Drafted:
		return []string{r.Incident, r.Contact, "/approve " + r.Incident + " " + r.Draft}
	case act.OnCall:
		return []string{r.Slots[0].Name, r.Slots[0].Person}
	case act.ReplyPreview:
		return []string{r.Incident, r.Form, r.To, r.Subject, "welcher Host?"}
	case act.ReplySent:
		return []string{r.Incident, r.Form, r.To, r.By}
	case act.HelpShown:
		return []string{"/ack [ID]", "/approve ID DRAFT", "/tocsin unlink"}
	case act.LinkMailed:
		return []string{r.Address, "/tocsin link", "30"}
	case act.Refused:
		switch r.Reason {
		case act.NotOnRoster, act.BadCode, act.NotLinked:
			return nil
		case act.NoSuchIncident, act.UnknownUnit, act.UnknownPerson, act.BadTime, act.LinkedInConfig, act.UnknownCommand, act.AlreadyAssigned:
			return []string{r.Arg}
		case act.NoSuchDraft, act.DraftNotNamed:
			return []string{"D2"}
		case act.NotPermitted, act.NoOpenStep:
			return []string{"/" + string(r.Command)}
		case act.TooManyLinks:
			return []string{r.Arg, "3"}
		case act.UnknownContact:
			return []string{r.Arg, "cert, isp"}
		}
		return []string{r.Incident}
	}
	return nil
}

// TestFailedIsWorded: a failure is worded, with the error, in the
// reader's language.
func TestFailedIsWorded(t *testing.T) {
	for _, lang := range []string{"en", "de", "xx"} {
		if got := Failed(lang, errors.New("disk full")); !strings.Contains(got, "disk full") || got == "disk full" {
			t.Errorf("%s: %q", lang, got)
		}
	}
}

// TestParseErrorsAreWorded: what a typed command lacks is worded in every
// language, with the command's usage.
func TestParseErrorsAreWorded(t *testing.T) {
	r := &Router{}
	for _, lang := range templates.ReplyLanguages() {
		for _, need := range Needs {
			pe := &ParseError{Command: "approve", Need: need, Usage: "/approve ID DRAFT"}
			text, err := templates.Reply(lang, "parse-error", pe)
			if err != nil || text == "" || strings.Contains(text, "<no value>") {
				t.Errorf("%s %s: %q %v", lang, need, text, err)
			}
			if need != NeedKnownCommand && need != NeedKnownButton && need != NeedLinkArg && !strings.Contains(text, pe.Usage) {
				t.Errorf("%s %s: %q lacks the usage", lang, need, text)
			}
			if lang != "en" {
				if en, _ := templates.Reply("en", "parse-error", pe); en == text {
					t.Errorf("%s %s is English: %q", lang, need, text)
				}
			}
		}
	}
	if got := r.Unparsed(context.Background(), Command{}, &ParseError{Command: "nuke", Need: NeedKnownCommand}); got.Text != "Unknown command /nuke: /help lists them." || !got.Ephemeral {
		t.Errorf("unparsed: %+v", got)
	}
}
