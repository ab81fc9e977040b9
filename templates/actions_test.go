package templates

import (
	"strings"
	"testing"
)

// TestActionAlertCarriesTheTeamsActions (issue 16): the team's text is
// shown as written (every line, made printable), under the form's label
// in each language; an update and a preliminary alert say so in each
// language, and an ordinary alert says neither.
func TestActionAlertCarriesTheTeamsActions(t *testing.T) {
	team := "Prevent: block /admin at the WAF.\nPatch: shop 4.2.1, sha256 9f2c\x1b[31m"
	marks := map[string][2]string{ // update, preliminary
		"en": {"UPDATE:", "PRELIMINARY:"}, "de": {"AKTUALISIERUNG:", "VORLÄUFIG:"}, "fr": {"MISE À JOUR :", "PRÉLIMINAIRE :"},
		"es": {"ACTUALIZACIÓN:", "PRELIMINAR:"}, "ja": {"更新:", "暫定版:"},
	}
	for lang, mark := range marks {
		f := Sample("action-alert")
		f.Actions, f.ActionsVersion = []Action{{Text: team}}, 2
		plain, err := Render("action-alert", f, lang)
		if err != nil || plain.Lang != lang {
			t.Fatalf("%s: %v (%s)", lang, err, plain.Lang)
		}
		if !strings.Contains(plain.Body, "\n  Prevent: block /admin at the WAF.\n  Patch: shop 4.2.1, sha256 9f2c") || strings.Contains(plain.Body, "\x1b") {
			t.Errorf("%s: the team's text is not shown as written, printable:\n%s", lang, plain.Body)
		}
		if strings.Contains(plain.Body, mark[0]) || strings.Contains(plain.Body, mark[1]) {
			t.Errorf("%s: an ordinary alert marked as update or preliminary", lang)
		}
		f.ActionsUpdate = true
		up, _ := Render("action-alert", f, lang)
		if !strings.Contains(up.Body, mark[0]) || !strings.Contains(up.Body, "2") {
			t.Errorf("%s: the update is not marked:\n%s", lang, up.Body)
		}
		f.ActionsUpdate, f.Actions, f.ActionsVersion, f.Preliminary = false, nil, 0, true
		pre, _ := Render("action-alert", f, lang)
		if !strings.Contains(pre.Body, mark[1]) {
			t.Errorf("%s: the preliminary alert is not marked:\n%s", lang, pre.Body)
		}
	}
}
