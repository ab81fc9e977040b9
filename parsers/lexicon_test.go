package parsers

import "testing"

// TestRefusalInTheFormsLanguages pins issue 15 §8 ("OK, but this is not
// my system… please find someone else" counted as an acknowledgement):
// declining a step is recognised in each language of the forms, and the
// answers the forms ask for are not declines.
func TestRefusalInTheFormsLanguages(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"OK, but this is not my system… please find someone else", true},
		{"ack - wrong person, I left the payments team", true},
		{"OK, aber das ist nicht mein System, bitte jemand anderen fragen", true},
		{"Bestätigt. Ich bin nicht zuständig.", true},
		{"Reçu, mais ce n'est pas mon système : mauvaise personne", true},
		{"Recibido, pero no es mi sistema; busquen a otra persona", true},
		{"了解しましたが、担当外です。", true},
		{"ack - on it, calling the payments team", false},
		{"Erledigt: Patch eingespielt und getestet.", false},
		{"Reçu, on s'en occupe.", false},
		{"hecho, parche instalado", false},
		{"完了しました", false},
		{"fait - quelqu'un d'autre a vérifié aussi", false},
		{"hecho, otra persona lo revisó también", false},
		{"Erledigt, jemand anderes hat gegengeprüft", false},
		{"Reçu. Demandez à quelqu'un d'autre, je pars.", true},
	} {
		if got := Refusal(c.text) != ""; got != c.want {
			t.Errorf("Refusal(%q) = %q, want a refusal: %v", c.text, Refusal(c.text), c.want)
		}
	}
	for word, want := range map[string]string{"OK": AnswerAck, "erledigt": AnswerDone, "Reçu": AnswerAck, "listo": AnswerDone, "了解": AnswerAck, "maybe": ""} {
		if got := AnswerVerb(word); got != want {
			t.Errorf("AnswerVerb(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestBlockerInTheFormsLanguages pins issue 16 ("The patch fails to
// install on pay-db-2, need help from the CIRT" was filed as a message
// and nobody was told): a blocker is recognised in each language of the
// forms, and plain answers are none.
func TestBlockerInTheFormsLanguages(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"The patch fails to install on pay-db-2, need help from the CIRT", true},
		{"We cannot reboot pay-db-2 before Monday", true},
		{"Der Patch schlägt auf pay-db-2 fehl, wir brauchen Hilfe vom CIRT", true},
		{"Installation fehlgeschlagen", true},
		{"Le correctif échoue sur pay-db-2, besoin d'aide", true},
		{"Impossible d'installer le correctif", true},
		{"El parche falla en pay-db-2, necesitamos ayuda", true},
		{"No puedo reiniciar el servidor", true},
		{"pay-db-2 でパッチの適用に失敗しました。支援が必要です", true},
		{"再起動できません", true},
		{"ack - on it, calling the payments team", false},
		{"Erledigt: Patch eingespielt und getestet.", false},
		{"Reçu, on s'en occupe.", false},
		{"hecho, parche instalado", false},
		{"完了しました", false},
		{"Unhelpful failsafe", false},
	} {
		if got := Blocker(c.text) != ""; got != c.want {
			t.Errorf("Blocker(%q) = %q, want a blocker: %v", c.text, Blocker(c.text), c.want)
		}
	}
}
