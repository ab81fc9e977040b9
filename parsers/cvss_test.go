package parsers

import "testing"

func TestCVSS3BaseScore(t *testing.T) {
	for _, tc := range []struct {
		vector string
		want   float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
		{"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 6.5},
		{"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0},
	} {
		got, ok := cvss3Base(tc.vector)
		if !ok || got != tc.want {
			t.Errorf("%s = %v (ok %v), want %v", tc.vector, got, ok, tc.want)
		}
	}
	if _, ok := cvss3Base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"); ok {
		t.Error("a vector without A: was scored")
	}
}

func TestCVSS4Score(t *testing.T) {
	for _, tc := range []struct {
		vector string
		want   float64
	}{
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3},
		{"CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10},
		// Supplemental metrics carry word values and do not change the score.
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:Amber", 9.3},
	} {
		got, ok := cvss4Score(tc.vector)
		if !ok || got != tc.want {
			t.Errorf("%s = %v (ok %v), want %v", tc.vector, got, ok, tc.want)
		}
	}
	// A threat metric (exploit unreported) lowers the score: CVSS-BT.
	bt, ok := cvss4Score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
	if !ok || bt >= 9.3 || bt <= 0 {
		t.Errorf("E:U scored %v (ok %v), want below the base 9.3", bt, ok)
	}
	if _, ok := cvss4Score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N"); ok {
		t.Error("a vector without SA: was scored")
	}
}

func TestCVSSAndCWEInReport(t *testing.T) {
	raw := "From: r@example.org\r\nSubject: RCE\r\n\r\nCWE-78 OS command injection, CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H and a v4 vector CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N\r\n"
	r, _ := Parse([]byte(raw), DefaultLimits)
	if len(r.CWEs) != 1 || r.CWEs[0] != "CWE-78" {
		t.Errorf("cwes %v", r.CWEs)
	}
	if len(r.CVSS) != 2 || r.CVSS[0].BaseScore != 9.8 || r.CVSS[0].Severity != "critical" || r.CVSS[1].Version != "4.0" || r.CVSS[1].BaseScore != 9.3 || r.CVSS[1].Severity != "critical" {
		t.Errorf("cvss %+v", r.CVSS)
	}
	if r.Priority != "P1" {
		t.Errorf("priority %s (%v), want P1 from the critical CVSS score", r.Priority, r.PriorityReasons)
	}
}

func TestHasFold(t *testing.T) {
	for _, tc := range []struct {
		s, sub string
		want   bool
	}{{"see Cve-2026-1", "cve-", true}, {"CWE-79", "cwe-", true}, {"cv e-", "cve-", false}, {"", "cve-", false}, {"cve", "cve-", false}} {
		if got := hasFold(tc.s, tc.sub); got != tc.want {
			t.Errorf("hasFold(%q, %q) = %v", tc.s, tc.sub, got)
		}
	}
}
