package parsers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jhillyerd/enmime" // only so its testdata (real, malformed mail) is in the module cache
)

// moduleDir returns where the module cache holds mod.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", mod).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", mod, err)
	}
	var m struct{ Dir string }
	json.Unmarshal(out, &m)
	if m.Dir == "" {
		t.Fatalf("module %s is not in the module cache", mod)
	}
	return m.Dir
}

// TestEnmimeCorpus runs the malformed and multi-charset mail that ships in
// enmime's testdata through Parse: every message gives a report (or says
// it is not mail), and its delivery status notifications are bounces that
// are never answered.
func TestEnmimeCorpus(t *testing.T) {
	dir := moduleDir(t, "github.com/jhillyerd/enmime")
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "testdata") && (strings.HasSuffix(p, ".raw") || strings.HasSuffix(p, ".eml")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 50 {
		t.Fatalf("only %d messages found under %s", len(files), dir)
	}
	parsed := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		name, _ := filepath.Rel(dir, f)
		r, err := Parse(raw, DefaultLimits)
		// mail/erroneous.raw ("// Not an RFC-822 Document") has no
		// header: read as a body, as a mail client shows it.
		if err != nil {
			t.Errorf("%s: err = %v; want a report", name, err)
			continue
		}
		parsed++
		if strings.HasPrefix(name, "dsn/") && (r.Category != CategoryBounce || !r.AutoSubmitted) {
			t.Errorf("%s: category %s, auto %v (%s); want a bounce that is never answered", name, r.Category, r.AutoSubmitted, r.AutoReason)
		}
	}
	t.Logf("%d of %d messages gave a report", parsed, len(files))
}
