package signin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q, %v", h, err)
	}
	if h2, _ := HashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		if ok, err := CheckPassword(h, pw); ok != want || err != nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=65536,t=3,p=2$!!$x",
		"$argon2id$v=19$m=999999999,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", strings.Replace(h, "v=19", "v=16", 1)} {
		if ok, err := CheckPassword(bad, "x"); ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want ErrBadHash", bad, ok, err)
		}
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("an empty password was hashed")
	}
}

func TestTOTP(t *testing.T) {
	secret, url, err := NewTOTP("Tocsin", "tara@sandbox.test")
	if err != nil || !strings.HasPrefix(url, "otpauth://totp/Tocsin:tara@sandbox.test?") {
		t.Fatalf("NewTOTP: %q %v", url, err)
	}
	now := time.Date(2026, 12, 2, 3, 0, 10, 0, time.UTC)
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	step, ok, err := CheckTOTP(secret, code(now), now, 0)
	if !ok || err != nil || step != now.Unix()/30 {
		t.Fatalf("the code of now: %d %v %v", step, ok, err)
	}
	// The same code again: refused as used.
	if _, ok, err := CheckTOTP(secret, code(now), now, step); ok || !errors.Is(err, ErrTOTPReused) {
		t.Errorf("a code used twice: %v %v", ok, err)
	}
	// Drift of one step either way is taken; two is not.
	if _, ok, _ := CheckTOTP(secret, code(now.Add(-30*time.Second)), now, 0); !ok {
		t.Error("the code of the step before was refused")
	}
	if _, ok, _ := CheckTOTP(secret, code(now.Add(30*time.Second)), now, 0); !ok {
		t.Error("the code of the step after was refused")
	}
	if _, ok, _ := CheckTOTP(secret, code(now.Add(-90*time.Second)), now, 0); ok {
		t.Error("a code three steps old was taken")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok, _ := CheckTOTP(secret, bad, now, 0); ok {
			t.Errorf("%q was taken", bad)
		}
	}
}

func TestSessionPolicy(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	s := Session{Created: t0, Seen: t0}
	p := DefaultPolicy
	if !p.Live(s, t0.Add(29*time.Minute)) || p.Live(s, t0.Add(31*time.Minute)) {
		t.Error("idle expiry")
	}
	s.Seen = t0.Add(12*time.Hour - time.Minute)
	if !p.Live(s, t0.Add(12*time.Hour-30*time.Second)) || p.Live(s, t0.Add(12*time.Hour)) {
		t.Error("absolute expiry")
	}
	if a, b := NewToken(32), NewToken(32); len(a) != 64 || a == b || HashID(a) == a || len(HashID(a)) != 64 {
		t.Errorf("tokens %q %q", a, b)
	}
}
