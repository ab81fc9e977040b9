package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
)

// A call-tree mail carries an answer reference: quoting it makes a reply
// count as its recipient's. It is their secret, so what the desk keeps
// and shows of incoming mail (the parsed report as stored and served, its
// subject, notes, the audit) never has it: each known reference is
// replaced by a mark with a short hash of it, enough to tell which
// reference two messages quoted, too short to find it again (32 bits of a
// space of about 50). The raw message stays on disk as evidence; nothing
// serves it. What was kept before references were hidden at writing is
// hidden when shown (GetIncident): audit entries cannot be rewritten.

// anyCaseTokenRE finds what may be a reference, in any case: a reader
// could lower-case one that a mail client changed.
var anyCaseTokenRE = regexp.MustCompile(`(?i)\b[a-hj-km-np-z2-9]{10}\b`)

// maxCandidates bounds the look-ups for one message or page.
const maxCandidates = 1000

// Redactor hides the references it knows; the zero value hides nothing.
type Redactor struct{ re *regexp.Regexp }

// ReferenceMark is what stands for reference tok in kept text.
func ReferenceMark(tok string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(tok)))
	return "[ref:" + hex.EncodeToString(sum[:4]) + "]"
}

// String is s with every known reference replaced by its mark.
func (r Redactor) String(s string) string {
	if r.re == nil {
		return s
	}
	return r.re.ReplaceAllStringFunc(s, ReferenceMark)
}

// Bytes is String for JSON: references are letters and digits, which
// JSON never escapes, so they stand in it as they are.
func (r Redactor) Bytes(b []byte) []byte {
	if r.re == nil {
		return b
	}
	return r.re.ReplaceAllFunc(b, func(m []byte) []byte { return []byte(ReferenceMark(string(m))) })
}

// References is the Redactor for the references the strings of a
// report's JSON quote, that the store knows.
func (t *Tx) References(reportJSON []byte) (Redactor, error) {
	texts, err := jsonStrings(reportJSON, nil)
	if err != nil {
		return Redactor{}, err
	}
	return knownReferences(t.ctx, t.tx, texts)
}

// knownReferences is the Redactor for the references that texts quote
// and the store knows.
func knownReferences(ctx context.Context, q querier, texts []string) (Redactor, error) {
	seen := map[string]bool{}
	var known []string
	for _, text := range texts {
		for _, c := range anyCaseTokenRE.FindAllString(text, -1) {
			c = strings.ToLower(c)
			if seen[c] || len(seen) >= maxCandidates {
				continue
			}
			seen[c] = true
			var one int
			err := q.QueryRowContext(ctx, `SELECT 1 FROM step_people WHERE token = ?`, c).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return Redactor{}, err
			}
			known = append(known, regexp.QuoteMeta(c))
		}
	}
	if len(known) == 0 {
		return Redactor{}, nil
	}
	return Redactor{re: regexp.MustCompile(`(?i)` + strings.Join(known, "|"))}, nil
}

// jsonStrings appends every string value of the JSON document b to out.
func jsonStrings(b []byte, out []string) ([]string, error) {
	if len(b) == 0 {
		return out, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return out, err
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out, nil
}

// hideReferences hides, in what d shows, the references kept before they
// were hidden at writing.
func (s *Store) hideReferences(ctx context.Context, d *IncidentDetail) error {
	var texts []string
	for _, m := range d.Messages {
		texts = append(texts, m.Subject)
		texts, _ = jsonStrings(m.Report, texts) // an unreadable report is shown as it is
	}
	for _, a := range d.Audit {
		texts = append(texts, a.Detail)
	}
	red, err := knownReferences(ctx, s.r, texts)
	if err != nil || red.re == nil {
		return err
	}
	for i := range d.Messages {
		d.Messages[i].Subject, d.Messages[i].Report = red.String(d.Messages[i].Subject), red.Bytes(d.Messages[i].Report)
	}
	for i := range d.Audit {
		d.Audit[i].Detail = red.String(d.Audit[i].Detail)
	}
	return nil
}
