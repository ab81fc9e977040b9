package signin

import (
	"errors"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP is RFC 6238 with the parameters every authenticator app takes:
// SHA-1, six digits, 30-second steps; a code of the step before or after
// is accepted (clock drift), each step once.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTP returns a new secret (base32) for account and the otpauth://
// URL an authenticator app reads (as a QR code or typed).
func NewTOTP(issuer, account string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// ErrTOTPReused: the code's step was used before (a code seen over a
// shoulder, or replayed): refused like a wrong one.
var ErrTOTPReused = errors.New("this code was used already: wait for the next one")

// CheckTOTP reports whether code is the secret's code at now (or a step
// before or after), and the step it matched. lastStep is the step the
// account last signed in with: a code of that step or before is refused
// (ErrTOTPReused), so that each code signs in once.
func CheckTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool, err error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	base := now.Unix() / 30
	for _, d := range []int64{0, -1, 1} {
		at := time.Unix((base+d)*30, 0)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			return 0, false, err
		}
		if Equal(want, code) {
			if base+d <= lastStep {
				return base + d, false, ErrTOTPReused
			}
			return base + d, true, nil
		}
	}
	return 0, false, nil
}
