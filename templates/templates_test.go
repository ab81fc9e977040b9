package templates

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden pins the exact wording of every form in every language and
// variant; `go test ./templates -update` rewrites the files after a
// deliberate change, and the diff is what a reviewer reads.
func TestGolden(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatalf("the embedded forms fail their own check:\n%v", err)
	}
	for _, lang := range Default().Languages() {
		for _, form := range Forms {
			for _, v := range Variants {
				data := Sample(form)
				data.Variant = v
				m, err := Render(form, data, lang)
				if err != nil {
					t.Fatal(err)
				}
				if m.Lang != lang {
					t.Errorf("%s in %s rendered in %s", form, lang, m.Lang)
				}
				got := "Subject: " + m.Subject + "\n\n" + m.Body
				golden := filepath.Join("testdata", lang, form+"."+string(v)+".golden")
				if *update {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					os.WriteFile(golden, []byte(got), 0o644)
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("%s differs; run go test ./templates -update and review the diff:\n%s", golden, got)
				}
			}
		}
	}
}

func TestLanguages(t *testing.T) {
	want := []string{"en", "de", "es", "fr", "ja"}
	if got := Default().Languages(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("languages %v, want %v", got, want)
	}
}

func TestVariants(t *testing.T) {
	data := Sample("status-update")
	tech, err := Render("status-update", data, "de")
	if err != nil {
		t.Fatal(err)
	}
	data.Variant = NonTechnical
	plain, err := Render("status-update", data, "de")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Technische Erläuterung", data.Technical, "CVE-2026-40123", "CWE-89"} {
		if !strings.Contains(tech.Body, s) {
			t.Errorf("technical variant lacks %q", s)
		}
		if strings.Contains(plain.Body, s) {
			t.Errorf("non-technical variant has %q", s)
		}
	}
	if !strings.Contains(plain.Body, "Nicht-technische Erläuterung") {
		t.Error("non-technical variant lacks the non-technical explanation")
	}
}

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		prefs []string
		want  string
	}{
		{nil, "en"},
		{[]string{"de"}, "de"},
		{[]string{"DE-ch"}, "de"},
		{[]string{"tlh", "fr"}, "fr"}, // first the roster's choice, then the mail's
		{[]string{"", "ja"}, "ja"},
		{[]string{"zh"}, "en"}, // detected, but no forms in Chinese: English
	} {
		if got := Default().Choose("acknowledgement", tc.prefs...); got != tc.want {
			t.Errorf("Choose(%q) = %s, want %s", tc.prefs, got, tc.want)
		}
	}
	if _, err := Render("no-such-form", Sample("closure")); err == nil {
		t.Error("a missing form rendered")
	}
	if _, err := Render("closure", Form{Variant: "verbose"}); err == nil {
		t.Error("an unknown variant rendered")
	}
}

// A recipient's zone is shown next to UTC, with the date when it differs.
func TestTimesAreFullyQualified(t *testing.T) {
	m, err := Render("acknowledgement", Sample("acknowledgement"), "en")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Body, "2026-11-23 09:15 UTC (10:15 CET)") {
		t.Errorf("date not in UTC and the recipient's zone:\n%s", m.Body)
	}
	data := Sample("acknowledgement")
	data.Zone = nil
	m, _ = Render("acknowledgement", data, "en")
	if !strings.Contains(m.Body, "Date:              2026-11-23 09:15 UTC\n") {
		t.Errorf("without a zone the date is not plain UTC:\n%s", m.Body)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	en, _ := embedded.ReadFile("forms/en/closure.tmpl")
	write(t, filepath.Join(dir, "en", "closure.tmpl"), strings.Replace(string(en), "Thank you for your help.", "Thank you, truly.", 1))
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("an override that keeps every field fails the check: %v", err)
	}
	m, _ := s.Render("closure", Sample("closure"), "en")
	if !strings.Contains(m.Body, "Thank you, truly.") {
		t.Error("the override was not used")
	}
	m, _ = s.Render("acknowledgement", Sample("acknowledgement"), "en")
	if !strings.Contains(m.Body, "Thank you for your report") {
		t.Error("a form without an override lost its embedded text")
	}
}

var englishClosure = func() string { b, _ := embedded.ReadFile("forms/en/closure.tmpl"); return string(b) }()

func TestCheckFindsMistakes(t *testing.T) {
	for name, tc := range map[string]struct {
		file, text string
		want       string
	}{
		"a field Form does not have": {"en/closure.tmpl", `{{define "subject"}}[{{.IncidentID}}] {{.Sumary}}{{end}}{{define "body"}}x{{end}}`,
			`en/closure.tmpl (technical): form closure.en subject: template: closure:1:40: executing "subject" at <.Sumary>: can't evaluate field Sumary`},
		"a language without its forms": {"it/common.tmpl", `{{define "greeting"}}Gentile {{.Recipient.Name}},{{end}}`,
			"it/acknowledgement.tmpl: missing (no it translation of acknowledgement)"},
		"a form that drops the key fingerprint": {"de/status-update.tmpl", `{{define "subject"}}[{{.IncidentID}}] {{.Summary}}{{end}}{{define "body"}}{{.Priority}} {{.Desk.Address}} {{.Technical}} {{.Facts.CVEs}} {{(index .Contacts 0).Address}}{{end}}`,
			`de/status-update.tmpl (technical): output lacks "BAEE"`},
		"an English copy as the German form": {"de/closure.tmpl", englishClosure,
			"de/closure.tmpl: the same as the English closure.tmpl (untranslated)"},
		"a syntax error": {"fr/closure.tmpl", `{{define "subject"}}{{if}}{{end}}`, "fr/closure.tmpl: template: closure:1: missing value for if"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, tc.file), tc.text)
			s, err := Load(dir)
			if err == nil {
				err = s.Check()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestEveryPrintedValueIsEscaped holds the promise by construction: a form
// written today that prints report fields bare, in any way text/template
// allows, still gets one printable line per value; only indent keeps line
// breaks, and escapes each line.
func TestEveryPrintedValueIsEscaped(t *testing.T) {
	dir := t.TempDir()
	common, _ := embedded.ReadFile("forms/en/common.tmpl")
	write(t, filepath.Join(dir, "xx", "common.tmpl"), string(common))
	write(t, filepath.Join(dir, "xx", "acknowledgement.tmpl"), `{{define "subject"}}{{.Summary}}{{end}}
{{define "body"}}name={{.Reporter.Name}}
{{with .Reporter}}with={{.Name}}{{end}}
{{range .Facts.CVEs}}range={{.}}{{end}}
{{$n := .Reporter.Name}}var={{$n}}
printf={{printf "%s" .Reporter.Name}}
{{indent 2 .Technical}}
{{end}}`)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := Sample("acknowledgement")
	f.Reporter.Name = "Eve\r\nBcc: x@evil.test\x1b[2J\u202e"
	f.Facts.CVEs = []string{"CVE-2026-1\nForged: yes"}
	f.Technical = "first\nsecond\x00\u202e"
	m, err := s.Render("acknowledgement", f, "xx")
	if err != nil {
		t.Fatal(err)
	}
	want := "name=Eve Bcc: x@evil.test␛[2J\nwith=Eve Bcc: x@evil.test␛[2J\nrange=CVE-2026-1 Forged: yes\nvar=Eve Bcc: x@evil.test␛[2J\nprintf=Eve Bcc: x@evil.test␛[2J\n  first\n  second␀\n"
	if m.Body != want {
		t.Errorf("body:\n%s\nwant:\n%s", m.Body, want)
	}
}

// TestRecordedAnswer: the confirmation of a counted answer is worded in
// the reader's language, names the step in it, and shows the person's
// note as one escaped line, whatever it holds.
func TestRecordedAnswer(t *testing.T) {
	data := Sample("status-update")
	at := data.Date.Add(3 * time.Hour)
	data.Recorded = &Recorded{Verb: "done", Step: StepName{Key: "fix-installed", Title: "Fix tested and installed"}, At: at, State: "done",
		Note: "patched web-1\nStep: forged line"}
	want := map[string][]string{
		"en": {"Recorded: your confirmation that it is done", `"Fix tested and installed"`, "The step is now done."},
		"de": {"Erfasst: Ihre Bestätigung der Erledigung", "Korrektur getestet und installiert", "jetzt erledigt"},
		"es": {"Registrado: su confirmación de que está hecho", "Corrección probada e instalada", "ahora: hecho"},
		"fr": {"Enregistré : votre confirmation que c'est terminé", "Correctif testé et installé", "maintenant : terminé"},
		"ja": {"記録しました", "修正の検証と適用", "完了の確認"},
	}
	for lang, parts := range want {
		m, err := Render("status-update", data, lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append(parts, "2026-11-23 12:15 UTC", "patched web-1") {
			if !strings.Contains(m.Body, p) {
				t.Errorf("%s: confirmation lacks %q:\n%s", lang, p, m.Body)
			}
		}
		if strings.Contains(m.Body, "\nStep: forged") {
			t.Errorf("%s: the note's line break reached the form:\n%s", lang, m.Body)
		}
		if lang != "en" && strings.Contains(m.Body, "Fix tested and installed") {
			t.Errorf("%s: the shipped step's title is in English:\n%s", lang, m.Body)
		}
	}
	// A title the deployment wrote is shown as written, in any language.
	data.Recorded.Step = StepName{Title: "Patch the tills"}
	if m, _ := Render("status-update", data, "de"); !strings.Contains(m.Body, "„Patch the tills“") {
		t.Errorf("a deployment's own step title is not shown as written:\n%s", m.Body)
	}
}

// TestEveryShippedFormIsInert (issue 15, section 7): every shipped form,
// in every language and variant, with the hostile string in every field a
// person outside the desk writes, yields a subject and a body that keep
// none of its control characters or bidi overrides, and a body where it
// starts no line of its own (free text is quoted indented).
func TestEveryShippedFormIsInert(t *testing.T) {
	const hostile = printabletest.Hostile
	untrusted := map[string]bool{"Name": true, "Summary": true, "Technical": true, "NonTechnical": true, "Resolution": true,
		"Text": true, "Note": true, "Questions": true, "DecryptProblem": true}
	shown := 0
	for _, form := range Forms {
		f := Sample(form)
		spoil(reflect.ValueOf(&f).Elem(), untrusted, hostile)
		for _, lang := range Default().Languages() {
			for _, v := range Variants {
				f.Variant = v
				m, err := Render(form, f, lang)
				if err != nil {
					t.Fatalf("%s.%s %s: %v", form, lang, v, err)
				}
				if bad := printable.Unsafe(m.Subject + m.Body); bad != "" || strings.ContainsAny(m.Subject, "\r\n") {
					t.Errorf("%s.%s %s keeps %s", form, lang, v, bad)
				}
				shown += strings.Count(m.Subject+m.Body, printabletest.Shown)
				for _, l := range strings.Split(m.Body, "\n") {
					if strings.HasPrefix(l, "Bcc:") {
						t.Errorf("%s.%s %s: an injected line %q", form, lang, v, l)
					}
				}
			}
		}
	}
	if want := len(Forms) * len(Default().Languages()) * len(Variants); shown < want {
		t.Errorf("the hostile string was shown %d times in %d renderings: the fields were not spoiled", shown, want)
	}
}

// spoil appends s to every string (and string slice element) in the
// fields of v named in names, through the package's own structs.
func spoil(v reflect.Value, names map[string]bool, s string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() && v.Elem().Type().PkgPath() == reflect.TypeOf(Form{}).PkgPath() {
			spoil(v.Elem(), names, s)
		}
	case reflect.Slice:
		for i := range v.Len() {
			spoil(v.Index(i), names, s)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != reflect.TypeOf(Form{}).PkgPath() {
			return
		}
		for i := range v.NumField() {
			fv, name := v.Field(i), v.Type().Field(i).Name
			switch {
			case names[name] && fv.Kind() == reflect.String:
				fv.SetString(fv.String() + s)
			case names[name] && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
				for j := range fv.Len() {
					fv.Index(j).SetString(fv.Index(j).String() + s)
				}
			default:
				spoil(fv, names, s)
			}
		}
	}
}

// TestStatusReportSaysWhenItIsWritten pins issue 16: the status report
// says the real time since E (not "plus 24 hours" whenever it is sent),
// and words a step awaiting approval, or skipped, in every language.
func TestStatusReportSaysWhenItIsWritten(t *testing.T) {
	data := Sample("status-report")
	data.Elapsed = 26*time.Hour + 30*time.Minute + 20*time.Second
	data.Steps = append(data.Steps, Step{Name: StepName{Title: "Status report to the authorities"}, State: "awaiting-approval"},
		Step{Name: StepName{Title: "Units alerted"}, State: "skipped"})
	want := map[string]string{"en": "plus 26 hours 30 minutes.", "de": "plus 26 Stunden 30 Minuten.", "es": "más 26 horas y 30 minutos.",
		"fr": "plus 26 heures 30 minutes.", "ja": "から 26 時間 30 分後)"}
	for lang, w := range want {
		m, err := Render("status-report", data, lang)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Body, w) || regexp.MustCompile(`(plus|más|から) 24 `).MatchString(m.Body) {
			t.Errorf("%s: the report lacks %q (or says 24 hours):\n%s", lang, w, m.Body)
		}
		if strings.Contains(m.Body, "awaiting-approval") || lang != "en" && strings.Contains(m.Body, ": skipped") {
			t.Errorf("%s: a state is not worded:\n%s", lang, m.Body)
		}
	}
	data.Elapsed = time.Hour
	if m, _ := Render("status-report", data, "en"); !strings.Contains(m.Body, "plus 1 hour.") {
		t.Errorf("one hour: %s", m.Body)
	}
}
