package templates

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func sample() Form {
	return Form{
		IncidentID: "SEC-2026-0042", Date: time.Date(2026, 11, 23, 9, 15, 0, 0, time.UTC),
		Reporter: "Ana García <ana@researcher.example>", ReporterName: "Ana García",
		Subject: "SQL injection in /api/orders", Summary: "SQL injection in /api/orders", Category: "vulnerability",
		Priority: "P2", PriorityDefinition: "high: serious vulnerability or incident; response within 4 hours",
		Status: "open, being triaged", Technical: "Report received.\nCVE ids named: CVE-2026-40123.",
		NonTechnical: "We have your report.", NextUpdate: "by 2026-11-23 13:15 UTC",
		DeskName: "Example Security", DeskAddress: "security@example.com",
		KeyFingerprint: "BAEEB7AD0ADAABBEB5AF26B26533804BEDEF9CDB", PublicURL: "https://security.example.com",
	}
}

// TestAcknowledgementGolden pins the acknowledgement's exact wording;
// `go test ./templates -update` rewrites it after a deliberate change.
func TestAcknowledgementGolden(t *testing.T) {
	subj, body, err := Render("acknowledgement", "en", sample())
	if err != nil {
		t.Fatal(err)
	}
	got := "Subject: " + subj + "\n\n" + body
	golden := filepath.Join("testdata", "acknowledgement.en.golden")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("acknowledgement differs from %s:\n%s", golden, got)
	}
	for _, must := range []string{"SEC-2026-0042", "BAEE B7AD 0ADA", "Technical explanation", "Non-technical explanation", "Next update"} {
		if !strings.Contains(body, must) {
			t.Errorf("body lacks %q", must)
		}
	}
}

func TestUnknownLanguageFallsBackToEnglish(t *testing.T) {
	_, en, _ := Render("acknowledgement", "en", sample())
	_, xx, err := Render("acknowledgement", "tlh", sample())
	if err != nil || xx != en {
		t.Errorf("unknown language did not fall back to English: %v", err)
	}
	if _, _, err := Render("no-such-form", "en", sample()); err == nil {
		t.Error("a missing form rendered")
	}
}
