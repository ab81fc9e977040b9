package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Replies word what a command did (chat replies, API messages): one file
// per language (replies/en.tmpl), one template per result kind, named as
// the kind ("answered", "closed", "refused", ...), executed with the
// result value itself (bot/act's typed results) as its data. A kind a
// language lacks is worded in English.
//
//go:embed replies
var repliesFS embed.FS

var replyFuncs = template.FuncMap{
	"join": strings.Join,
	"rfc3339": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339)
	},
}

var replies = sync.OnceValues(func() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	files, err := fs.Glob(repliesFS, "replies/*.tmpl")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		text, err := repliesFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lang := strings.TrimSuffix(strings.TrimPrefix(f, "replies/"), ".tmpl")
		t, err := template.New(lang).Option("missingkey=error").Funcs(replyFuncs).Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[lang] = t
	}
	return out, nil
})

// ReplyLanguages are the languages replies are worded in.
func ReplyLanguages() []string {
	set, _ := replies()
	var out []string
	for l := range set {
		out = append(out, l)
	}
	return out
}

// Reply words the result of kind in lang (English when lang has no such
// template), with data: the result.
func Reply(lang, kind string, data any) (string, error) {
	set, err := replies()
	if err != nil {
		return "", err
	}
	t := set[lang]
	if t == nil || t.Lookup(kind) == nil {
		t = set["en"]
	}
	if t.Lookup(kind) == nil {
		return "", fmt.Errorf("no reply template %q", kind)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, kind, data); err != nil {
		return "", fmt.Errorf("reply %s in %s: %w", kind, lang, err)
	}
	return strings.TrimSpace(b.String()), nil
}
