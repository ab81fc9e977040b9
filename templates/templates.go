// Package templates holds every word Tocsin sends: the standard notification
// form and the forms built on it, as text/template files embedded in the
// binary, one directory per language (forms/en/acknowledgement.tmpl). The
// form layout and the shared wording live once per language, in
// common.tmpl; each form fills it and adds what it asks of the reader.
//
// A deployment may override any file, or add a language, from a directory
// laid out the same way (config templates.dir). Check renders every form in
// every language against sample data, so a missing field or a missing
// translation is found before a notification has to go out.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"tocsin/internal/printable"
)

//go:embed forms
var embedded embed.FS

// Forms are the notifications Tocsin sends. Every one but the digest is the
// standard notification form plus what the form asks of its reader.
var Forms = []string{
	"acknowledgement",  // to a reporter: received, filed as ID
	"request-info",     // to a reporter: questions, answer by
	"status-update",    // to a reporter or contact: what changed, next update
	"closure",          // to a reporter: resolved or closed, how to reopen
	"action-alert",     // Significant Event Action Alert to operating-unit contacts
	"status-report",    // the E+24h status report to the CIO and authorities
	"digest",           // the officers' periodic digest of open incidents
	"assigned",         // to a roster person: someone made you responsible (/assign)
	"chat-link",        // to a roster person: the code that links a chat account to them
	"approval-request", // to the officers: a draft to an external contact waits for approval
	"team-told",        // to the team member on call: a step blocked, declined, an answer that needs a person
}

// Variant selects how much technical detail a notification carries: the
// technical one adds the technical explanation to the non-technical one.
type Variant string

// The variants of every form.
const (
	Technical    Variant = "technical"
	NonTechnical Variant = "non-technical"
)

// Variants lists both, technical first.
var Variants = []Variant{Technical, NonTechnical}

// Person is a named address.
type Person struct {
	Name    string
	Address string
}

// Contact is a point of contact for the incident: the geo-based security
// officer and account manager for the reporter's region, or whoever stands
// in for them (the CSIRT, a hotline engineer).
type Contact struct {
	Name    string
	Role    string // security-officer, account-manager or stand-in; the template words it
	Region  string // "EMEA"
	Address string
	Phone   string
}

// Desk is the security team as it signs its mail.
type Desk struct {
	Name        string
	Address     string
	Fingerprint string // of the key that signs every mail
	PublicURL   string
}

// Facts are what the report itself established, for the technical
// explanation; the template words them in the reader's language.
type Facts struct {
	CVEs           []string
	CWEs           []string
	CVSS           []string // "CVSS:3.1/... (9.8 critical)"
	Attachments    int
	Indicators     int
	Reasons        []Reason // why the priority is what it is; worded per language
	Encrypted      bool     // the report came encrypted
	Decrypted      bool     // and we could read it
	DecryptProblem string   // why not, when Encrypted && !Decrypted
}

// Reason is one reason for a priority, as data (parsers.Reason): Code
// says which kind, Concept what the report spoke of, Arg the value (a
// score, the words as written, CVE ids, a category, a rule's name). The
// template words it in the reader's language.
type Reason struct {
	Code    string
	Concept string
	Arg     string
}

// Action is one thing an operating unit must do in a Significant Event
// Action Alert, and by when.
type Action struct {
	Kind string // prevent, restrict or eradicate; "" for the team's text as written (multi-line)
	Text string
	Due  time.Time
}

// Step is one step of a call tree as the status report and digest show it.
type Step struct {
	Name  StepName
	Unit  string // the operating unit the step is for; "" for the whole incident
	Who   string
	Due   time.Time
	State string // pending, acknowledged, done, late, escalated, awaiting-approval, skipped
	By    string // who acknowledged or confirmed
	At    time.Time
}

// Asset is one system of an affected unit and how far its fix is.
type Asset struct {
	Unit  string
	Asset string
	State string // affected, fixed, validated, not-affected
	By    string // who set it (fixed: the owner; validated: the team)
	At    time.Time
	Note  string // what they wrote with it
	// Evidence are the files that came with it (the team's scan output).
	Evidence []File
}

// File is a file kept on the incident: its name as sent and its SHA-256.
type File struct {
	Name   string
	SHA256 string
}

// Item is one open incident in a digest.
type Item struct {
	IncidentID string
	Priority   string
	Status     string
	Summary    string
	Opened     time.Time
	Steps      []Step
}

// Form is the data of the standard notification form: every notification
// carries all of it, so a reader never has to look elsewhere. Free text
// (Summary, Technical, NonTechnical, Questions, Resolution, Actions) is
// written by people and shown as written; everything else is worded by the
// template in the reader's language.
type Form struct {
	Variant    Variant
	IncidentID string
	Date       time.Time      // the event time E: when the incident was reported or opened
	Zone       *time.Location `json:"-"` // the recipient's zone; nil shows UTC only
	Recipient  Person
	Reporter   Person
	Contacts   []Contact // empty: the desk itself is the point of contact

	Priority           string // P1..P4
	PriorityDefinition string // the published definition of Priority
	Category           string // vulnerability, incident, abuse, advisory, other
	Status             string // new, investigating, contained, resolved, closed
	Summary            string // one line, factual
	Technical          string // optional: what an analyst wrote
	NonTechnical       string // optional: replaces the form's default wording
	Facts              Facts

	Due        time.Time // by when the form's request is to be met; zero: no deadline
	NextUpdate time.Time // zero: none planned
	Questions  []string  // request-info
	Resolution string    // closure
	Actions    []Action  // action-alert
	// ActionsVersion is the version of the team's actions the alert
	// carries (0: none written yet); ActionsUpdate marks an alert that
	// only brings changed actions to those already told.
	ActionsVersion int
	ActionsUpdate  bool
	// Preliminary marks an action alert sent at its deadline before the
	// team's actions: they follow as an update.
	Preliminary bool
	Steps       []Step  // status-report
	Assets      []Asset // status-report: the affected units' assets
	// Elapsed is, in a status report, the time from E to when it was
	// written: the report says so, whenever it is sent.
	Elapsed time.Duration

	// Anchor is the audit log's anchor (status report, digest): the mail
	// is signed, so it vouches for the log as it stood; nil: none.
	Anchor *AuditAnchor

	// Recorded is a call-tree answer being confirmed to the person who
	// gave it (a status update); nil otherwise.
	Recorded *Recorded

	Period    [2]time.Time // digest: from, to
	Incidents []Item       // digest

	Desk Desk

	// Request is what a call-tree step asks of its reader; nil outside
	// call trees.
	Request *Request

	// AssignedBy is who made the reader responsible (assigned).
	AssignedBy string
	// Link is a chat account's request to act as the reader (chat-link).
	Link *LinkCode
	// Draft is a draft to an external contact that waits for approval
	// (approval-request).
	Draft *DraftWaiting
	// Told is what the team member on call must hear of (team-told).
	Told *TeamTold
}

// The reasons the team member on call is told (TeamTold.Reason).
const (
	ToldBlocked        = "blocked"         // a step's person is stuck and needs help
	ToldDeclined       = "declined"        // a step's person declines it: not theirs
	ToldUnverifiedAway = "unverified-away" // an out-of-office reply that cannot count
)

// TeamTold is news for the team member on call about an answer to the
// call tree that needs a person.
type TeamTold struct {
	Reason string   // ToldBlocked, ToldDeclined, ToldUnverifiedAway
	About  string   // whom it is about: their roster address
	Step   StepName // the step, when known ("" Title: none)
	Text   string   // what they wrote, as written
	At     time.Time
}

// LinkCode is a mailed code that links a chat account to its reader.
type LinkCode struct {
	Platform string // slack, discord
	Account  string // the platform's user id
	Code     string
	Minutes  int // how long it is good for
}

// DraftWaiting is a draft to an external contact that waits for approval.
type DraftWaiting struct {
	ID             string // D1, D2, ...
	Form           string // the form drafted: status-report
	Contact        string // the contact's name
	ContactAddress string
	ContactKind    string // cert, isp, ...
}

// AuditAnchor is the audit chain's length and last seal at a time.
type AuditAnchor struct {
	Count int
	Head  string
	At    time.Time
}

// StepName names a call-tree step. A shipped playbook's step (Key set)
// is worded by the form in the reader's language; a step a deployment
// titled itself (Key "") is shown with its Title as written.
type StepName struct {
	Key   string // the shipped step's id, "" for a deployment's own title
	Title string
}

// Recorded is an answer Tocsin counted: confirmed to its author.
type Recorded struct {
	Verb  string // ack or done
	Step  StepName
	At    time.Time
	State string // the step's state after it
	Note  string // the author's note, as written
}

// Request is what a call-tree step asks of one reader.
type Request struct {
	Step     StepName
	Needs    string    // ack, done or none
	Due      time.Time // zero: no deadline
	Token    string    // the reader's answer reference: quoting it makes a reply count
	Reminder bool      // a reminder: no answer yet
	Missing  []string  // an escalation: who had not answered by the deadline
}

// Message is a rendered notification.
type Message struct {
	Lang    string  // the language it was rendered in
	Variant Variant // the variant it was rendered in; "" for a message with no form
	Subject string
	Body    string // plain text, "\n" line ends
}

// Set is one complete set of forms: the embedded ones, with a
// deployment's overrides on top.
type Set struct {
	langs  []string
	t      map[string]*template.Template // "acknowledgement.en"
	origin map[string]string             // "en/closure.tmpl": where it was read
	files  map[string]string             // "en/closure.tmpl": its text
}

// where names the file a form was read from, for error messages.
func (s *Set) where(lang, form string) string {
	if o, ok := s.origin[lang+"/"+form+".tmpl"]; ok {
		return o
	}
	return lang + "/" + form + ".tmpl"
}

// Default returns the embedded set, parsed on first use: commands that
// send nothing (version, parse, incidents) do not pay for it.
var Default = sync.OnceValue(func() *Set {
	s, err := Load("")
	if err != nil {
		panic(err) // the embedded forms are checked by the tests
	}
	return s
})

// Load builds the embedded set, with the files under dir (if dir is not
// "") replacing or adding to it. dir is laid out like the embedded forms:
// dir/LANG/FORM.tmpl, and dir/LANG/common.tmpl for a new language.
func Load(dir string) (*Set, error) {
	base, err := fs.Sub(embedded, "forms")
	if err != nil {
		return nil, err
	}
	layers := []fs.FS{base}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("templates: %s is not a directory", dir)
		}
		layers = append(layers, os.DirFS(dir))
	}
	// files maps "LANG/FORM.tmpl" to the text of its topmost layer.
	files := map[string]string{}
	origin := map[string]string{}
	for i, fsys := range layers {
		names, err := fs.Glob(fsys, "*/*.tmpl")
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, err
			}
			files[name] = string(b)
			origin[name] = "embedded forms/" + name
			if i > 0 {
				origin[name] = path.Join(dir, name)
			}
		}
	}
	s := &Set{t: map[string]*template.Template{}, origin: origin, files: files}
	var errs []error
	for name, text := range files {
		lang, file := path.Split(name)
		lang = strings.TrimSuffix(lang, "/")
		form := strings.TrimSuffix(file, ".tmpl")
		if form == "common" {
			if !slices.Contains(s.langs, lang) {
				s.langs = append(s.langs, lang)
			}
			continue
		}
		common, ok := files[lang+"/common.tmpl"]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: language %q has no common.tmpl", origin[name], lang))
			continue
		}
		t, which, err := build(form, common, text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", map[string]string{"common": origin[lang+"/common.tmpl"], "form": origin[name]}[which], err))
			continue
		}
		s.t[form+"."+lang] = t
	}
	sort.Strings(s.langs)
	if i := slices.Index(s.langs, "en"); i > 0 {
		s.langs = append([]string{"en"}, slices.Delete(s.langs, i, i+1)...)
	}
	return s, errors.Join(errs...)
}

// build parses a form on top of its language's common file, each under its
// own name so that an error's line number points into the right file;
// which says which file an error is in.
func build(form, common, text string) (t *template.Template, which string, err error) {
	t = template.New(form).Option("missingkey=error").Funcs(funcs)
	if _, err := t.New("common").Parse(common); err != nil {
		return nil, "common", err
	}
	if _, err := t.Parse(text); err != nil {
		return nil, "form", err
	}
	escapeActions(t)
	return t, "", nil
}

// escapeActions makes every value a form prints pass through escapeFunc,
// the way html/template rewrites its trees: "{{.Reporter.Name}}" runs as
// "{{.Reporter.Name | escape}}". A reporter's text therefore reaches a
// signed form only as one printable line, whatever form or field prints
// it, without anyone remembering to sanitise. Only Block values (the
// output of indent, whose lines are escaped one by one) keep line breaks.
func escapeActions(t *template.Template) {
	for _, tmpl := range t.Templates() {
		printable.EscapeActions(tmpl.Tree, escapeFunc)
	}
}

// Languages lists the languages of the set, English first.
func (s *Set) Languages() []string { return slices.Clone(s.langs) }

// Choose returns the first of prefs (ISO 639-1 codes, best first: a
// person's roster preference, then the language of their mail) that the
// set has form in, or English.
func (s *Set) Choose(form string, prefs ...string) string {
	for _, p := range prefs {
		p = strings.ToLower(strings.TrimSpace(p))
		if i := strings.IndexAny(p, "-_"); i > 0 {
			p = p[:i] // de-CH -> de
		}
		if _, ok := s.t[form+"."+p]; ok && p != "" {
			return p
		}
	}
	return "en"
}

// Render fills form in the best of langs (see Choose) and returns the
// subject and plain-text body. An empty Variant is Technical.
func (s *Set) Render(form string, data Form, langs ...string) (Message, error) {
	lang := s.Choose(form, langs...)
	t, ok := s.t[form+"."+lang]
	if !ok {
		return Message{}, fmt.Errorf("no form %q", form)
	}
	if data.Variant == "" {
		data.Variant = Technical
	}
	if data.Variant != Technical && data.Variant != NonTechnical {
		return Message{}, fmt.Errorf("form %s: unknown variant %q", form, data.Variant)
	}
	var sb, bb bytes.Buffer
	if err := t.ExecuteTemplate(&sb, "subject", data); err != nil {
		return Message{}, fmt.Errorf("form %s.%s subject: %w", form, lang, err)
	}
	if err := t.ExecuteTemplate(&bb, "body", data); err != nil {
		return Message{}, fmt.Errorf("form %s.%s body: %w", form, lang, err)
	}
	return Message{Lang: lang, Variant: data.Variant, Subject: strings.Join(strings.Fields(sb.String()), " "), Body: tidy(bb.String())}, nil
}

// Render fills form from the embedded set.
func Render(form string, data Form, langs ...string) (Message, error) {
	return Default().Render(form, data, langs...)
}

// tidy drops trailing spaces and runs of more than one blank line, which
// optional sections leave behind, so templates can stay readable.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		if l != "-- " { // the signature separator keeps its space
			l = strings.TrimRight(l, " \t")
		}
		if l == "" {
			if blank++; blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimLeft(strings.TrimRight(strings.Join(out, "\n"), "\n")+"\n", "\n")
}

// escapeFunc is the name under which escape is appended to every action.
const escapeFunc = "escape"

// Block is text whose line breaks a form keeps: only indent makes one,
// after escaping each line.
type Block string

// escape is the last command of every action (see escapeActions).
func escape(v any) string {
	if b, ok := v.(Block); ok {
		return string(b)
	}
	return printable.Line(fmt.Sprint(v))
}

var funcs = template.FuncMap{
	escapeFunc: escape,
	// indent shows multi-line free text, each line made printable and
	// indented by n spaces.
	"indent": func(n int, s string) Block {
		pad := strings.Repeat(" ", n)
		return Block(pad + strings.ReplaceAll(strings.TrimRight(printable.Text(s), "\n"), "\n", "\n"+pad))
	},
	// fingerprint groups a hex fingerprint in blocks of four, as GnuPG prints it.
	"fingerprint": func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i += 4 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s[i:min(i+4, len(s))])
		}
		return b.String()
	},
	// when writes t fully qualified: UTC, and the reader's local time when
	// a zone is known ("2026-11-23 09:15 UTC (10:15 CET)").
	"when": func(t time.Time, zone *time.Location) string {
		if t.IsZero() {
			return ""
		}
		s := t.UTC().Format("2006-01-02 15:04 MST")
		if zone != nil && zone != time.UTC {
			l := t.In(zone)
			f := "15:04 MST"
			if l.YearDay() != t.UTC().YearDay() {
				f = "2006-01-02 15:04 MST"
			}
			s += " (" + l.Format(f) + ")"
		}
		return s
	},
	// hours and minutes split a duration (whole minutes) for a form to
	// word in its language: "26 hours 30 minutes".
	"hours":   func(d time.Duration) int { return int(max(d, 0) / time.Hour) },
	"minutes": func(d time.Duration) int { return int(max(d, 0) % time.Hour / time.Minute) },
	"inc":     func(i int) int { return i + 1 },
	"join":    func(sep string, s []string) string { return strings.Join(s, sep) },
	"person": func(p Person) string {
		switch {
		case p.Name != "" && p.Address != "":
			return p.Name + " <" + p.Address + ">"
		case p.Address != "":
			return p.Address
		}
		return p.Name
	},
}
