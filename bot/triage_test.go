package bot_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"tocsin/internal/gpgtest"
)

// TestTriageInTheReadersLanguage: a German report without a CVE is filed
// as a vulnerability at P2, and its acknowledgement gives the reason and
// the published definition of P2 in German.
func TestTriageInTheReadersLanguage(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("kunde@beispiel.de", report("Kunde <kunde@beispiel.de>", "de1@beispiel.de", "Sicherheitslücke: SQL-Injektion im Kundenportal",
		"Sehr geehrte Damen und Herren, im Kundenportal ist eine SQL-Injektion möglich, wenn man die Suche benutzt."))
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	inc := d.incidents()[0]
	if inc.Category != "vulnerability" || inc.Priority != "P2" {
		t.Errorf("filed as %s %s, want vulnerability P2", inc.Category, inc.Priority)
	}
	var ack []byte
	for _, b := range d.sent() {
		ack = b
	}
	signed := d.importDeskKey(gpgtest.NewHome(t)).VerifyPGPMIME(ack[bytes.Index(ack, []byte("Mime-Version")):])
	ent, _ := message.Read(bytes.NewReader(signed))
	body, _ := io.ReadAll(ent.Body)
	for _, want := range []string{
		"Priorität:",
		"hoch: schwerwiegende Schwachstelle oder schwerer Vorfall",
		"Grund für die Priorität: die Meldung spricht von einer schweren Schwachstelle („sql-injektion“)",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("acknowledgement lacks %q:\n%s", want, body)
		}
	}

	// /policy follows Accept-Language.
	req, _ := http.NewRequest("GET", "http://"+d.addrs.HTTP+"/policy", nil)
	req.Header.Set("Accept-Language", "fr-CH, fr;q=0.9, en;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<html lang="fr">`, "Définition des priorités", "critique : compromission ou exploitation en cours"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/policy in French lacks %q", want)
		}
	}
}
