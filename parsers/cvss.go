package parsers

import (
	"math"
	"regexp"
	"strings"

	gocvss40 "github.com/pandatix/go-cvss/40"
)

// CVSS is one CVSS vector found in a report, with its base score where
// it can be computed: v3.0 and v3.1 by Tocsin, v4.0 by go-cvss, which
// carries FIRST's macro-vector table.
type CVSS struct {
	Vector    string  `json:"vector"`
	Version   string  `json:"version"`
	BaseScore float64 `json:"base_score"` // -1 when not computed
	Severity  string  `json:"severity"`   // none, low, medium, high, critical; "" when not computed
}

var (
	// v4.0 supplemental metrics have word values (U:Amber), so a value
	// may be longer than one letter.
	cvssRE = regexp.MustCompile(`CVSS:(3\.[01]|4\.0)(/[A-Za-z]{1,3}:[A-Za-z]{1,6})+`)
	cweRE  = regexp.MustCompile(`(?i)\bCWE-(\d{1,4})\b`)
)

func findCWEs(s string) []string {
	out := []string{}
	if !hasFold(s, "cwe-") {
		return out
	}
	seen := map[string]bool{}
	for _, m := range cweRE.FindAllStringSubmatch(s, 100) {
		id := "CWE-" + m[1]
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func findCVSS(s string) []CVSS {
	out := []CVSS{}
	if !strings.Contains(s, "CVSS:") {
		return out
	}
	seen := map[string]bool{}
	for _, v := range cvssRE.FindAllString(s, 20) {
		if seen[v] {
			continue
		}
		seen[v] = true
		c := CVSS{Vector: v, Version: strings.TrimPrefix(strings.SplitN(v, "/", 2)[0], "CVSS:"), BaseScore: -1}
		score := cvss3Base
		if c.Version == "4.0" {
			score = cvss4Score
		}
		if score, ok := score(v); ok {
			c.BaseScore, c.Severity = score, severity(score)
		}
		out = append(out, c)
	}
	return out
}

// cvss4Score computes the CVSS v4.0 score of a vector (CVSS-B, or
// CVSS-BT/BE/BTE when threat or environmental metrics are given). ok is
// false when the vector is not valid v4.0, a missing base metric included.
func cvss4Score(vector string) (score float64, ok bool) {
	v, err := gocvss40.ParseVector(vector)
	if err != nil {
		return 0, false
	}
	return v.Score(), true
}

// cvss3Base computes the CVSS v3.1 base score (FIRST CVSS v3.1
// specification, section 7.1; v3.0 differs only in rounding, which this
// follows as 3.1 does). ok is false when a base metric is missing or
// unknown.
func cvss3Base(vector string) (score float64, ok bool) {
	m := map[string]string{}
	for _, kv := range strings.Split(vector, "/")[1:] {
		k, v, _ := strings.Cut(kv, ":")
		m[k] = v
	}
	w := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"UI": {"N": 0.85, "R": 0.62},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	val := map[string]float64{}
	for k, table := range w {
		x, found := table[m[k]]
		if !found {
			return 0, false
		}
		val[k] = x
	}
	changed := m["S"] == "C"
	if m["S"] != "C" && m["S"] != "U" {
		return 0, false
	}
	pr := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if changed {
		pr = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	}
	prv, found := pr[m["PR"]]
	if !found {
		return 0, false
	}
	iss := 1 - (1-val["C"])*(1-val["I"])*(1-val["A"])
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	expl := 8.22 * val["AV"] * val["AC"] * prv * val["UI"]
	if impact <= 0 {
		return 0, true
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+expl), 10)), true
	}
	return roundUp(math.Min(impact+expl, 10)), true
}

// roundUp is the specification's Roundup: the smallest number with one
// decimal that is at least x, computed on integers to avoid float error.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

func severity(s float64) string {
	switch {
	case s == 0:
		return "none"
	case s < 4:
		return "low"
	case s < 7:
		return "medium"
	case s < 9:
		return "high"
	}
	return "critical"
}
