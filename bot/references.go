package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"

	"tocsin/bot/store"
)

// A call-tree mail carries an answer reference: quoting it makes a reply
// count as its recipient's. It is their secret, so what the desk keeps
// and shows of an incoming message (the parsed report as stored and
// served, its subject, the audit) never has it: each known reference is
// replaced by a mark with a short hash of it, enough to tell which
// reference two messages quoted, too short to find it again (32 bits of
// a space of about 50). The raw message stays as evidence; nothing
// serves it.

// anyCaseTokenRE finds what may be a reference in any case: a reader
// could lower-case one that a mail client changed.
var anyCaseTokenRE = regexp.MustCompile(`(?i)\b[a-hj-km-np-z2-9]{10}\b`)

// maxCandidates bounds the look-ups for one message.
const maxCandidates = 1000

// redactor hides the references it knows; the zero value hides nothing.
type redactor struct{ re *regexp.Regexp }

// referenceMark is what stands for reference tok in kept text.
func referenceMark(tok string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(tok)))
	return "[ref:" + hex.EncodeToString(sum[:4]) + "]"
}

// String is s with every known reference replaced by its mark.
func (r redactor) String(s string) string {
	if r.re == nil {
		return s
	}
	return r.re.ReplaceAllStringFunc(s, referenceMark)
}

// Bytes is String for JSON: references are letters and digits, which
// JSON never escapes, so they stand in it as they are.
func (r redactor) Bytes(b []byte) []byte {
	if r.re == nil {
		return b
	}
	return r.re.ReplaceAllFunc(b, func(m []byte) []byte { return []byte(referenceMark(string(m))) })
}

// referencesIn is the redactor for the references that the strings of a
// report (its JSON) quote and the store knows.
func referencesIn(tx *store.Tx, repJSON []byte) (redactor, error) {
	var v any
	if err := json.Unmarshal(repJSON, &v); err != nil {
		return redactor{}, err
	}
	seen := map[string]bool{}
	var known []string
	var walk func(any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case string:
			for _, c := range anyCaseTokenRE.FindAllString(x, -1) {
				c = strings.ToLower(c)
				if seen[c] || len(seen) >= maxCandidates {
					continue
				}
				seen[c] = true
				_, _, _, err := tx.StepToken(c)
				if err == store.ErrNotFound {
					continue
				}
				if err != nil {
					return err
				}
				known = append(known, regexp.QuoteMeta(c))
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v); err != nil || len(known) == 0 {
		return redactor{}, err
	}
	return redactor{re: regexp.MustCompile(`(?i)` + strings.Join(known, "|"))}, nil
}
