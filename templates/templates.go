// Package templates holds every word Tocsin sends: the standard notification
// form and the forms built on it, as text/template files embedded in the
// binary, one file per form and language. The form layout lives once, in
// common.LANG.tmpl; each form fills it and adds what it asks of the reader.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"
	"time"
)

//go:embed forms/*.tmpl
var files embed.FS

// Form is the data of the standard notification form: every notification
// carries all of it, so a reader never has to look elsewhere.
type Form struct {
	IncidentID         string
	Date               time.Time // when the incident was opened
	Reporter           string
	ReporterName       string
	Subject            string // the report's subject, as received
	Summary            string // one line, factual
	Category           string
	Priority           string // P1..P4
	PriorityDefinition string // the published definition of Priority
	Status             string
	Technical          string
	NonTechnical       string
	NextUpdate         string
	DeskName           string
	DeskAddress        string
	KeyFingerprint     string
	PublicURL          string
}

// Languages the forms are written in; English is the fallback.
var Languages = []string{"en"}

var funcs = template.FuncMap{
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
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
}

// parsed holds one template per form and language ("acknowledgement.en"),
// each made of the common layout and the form's own file.
var parsed = map[string]*template.Template{}

func init() {
	for _, lang := range Languages {
		names, err := fs.Glob(files, "forms/*."+lang+".tmpl")
		if err != nil {
			panic(err)
		}
		for _, name := range names {
			form := strings.TrimSuffix(path.Base(name), "."+lang+".tmpl")
			if form == "common" {
				continue
			}
			parsed[form+"."+lang] = template.Must(template.New(form).Option("missingkey=error").Funcs(funcs).
				ParseFS(files, "forms/common."+lang+".tmpl", name))
		}
	}
}

// Render fills form (e.g. "acknowledgement") in lang, falling back to
// English, and returns the subject and the plain-text body.
func Render(form, lang string, data Form) (subject, body string, err error) {
	t, ok := parsed[form+"."+lang]
	if !ok {
		lang = "en"
		if t, ok = parsed[form+".en"]; !ok {
			return "", "", fmt.Errorf("no form %q", form)
		}
	}
	var sb, bb bytes.Buffer
	if err := t.ExecuteTemplate(&sb, "subject", data); err != nil {
		return "", "", fmt.Errorf("form %s.%s subject: %w", form, lang, err)
	}
	if err := t.ExecuteTemplate(&bb, "body", data); err != nil {
		return "", "", fmt.Errorf("form %s.%s body: %w", form, lang, err)
	}
	return strings.Join(strings.Fields(sb.String()), " "), bb.String(), nil
}
