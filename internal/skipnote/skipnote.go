// Package skipnote lets a test that cannot run on this machine say so in
// `make test`'s output: go test prints a skip's reason only with -v, so a
// skipped end-to-end test (Dovecot, the README walk-through) would pass
// unseen. make test names a file in $TOCSIN_SKIPPED and prints it after
// the run.
package skipnote

import (
	"fmt"
	"os"
	"testing"
)

// Skip records t's name and reason in $TOCSIN_SKIPPED (when set) and
// skips t.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if path := os.Getenv("TOCSIN_SKIPPED"); path != "" {
		// One short line, appended: O_APPEND keeps the lines of packages
		// tested in parallel whole.
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), reason)
			f.Close()
		}
	}
	t.Skip(reason)
}
