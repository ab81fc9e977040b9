package config

import (
	"fmt"
	"net/mail"
	"os"
	"strings"
)

// Contact is an entry of the external contacts directory that corporate
// security keeps: a CERT or CSIRT, FIRST, an ISP, law enforcement, a
// vendor or partner, a customer site's security contact, an expert, the
// media. Nothing goes to one without a second person's approval: a
// responder drafts (/notify ID CONTACT, or the significant-event
// playbook at E+24h for the contacts marked status_report), another
// approves (/approve ID DRAFT, naming the draft).
type Contact struct {
	// ID names the contact in commands: /notify SEC-2026-0042 cert-bund.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Kind is one of ContactKinds.
	Kind  string `yaml:"kind"`
	Email string `yaml:"email"`
	// Phone is shown, never dialled.
	Phone string `yaml:"phone"`
	// Language of the forms they get (ISO 639-1); default en.
	Language string `yaml:"language"`
	// KeyFile is their armored public key: with one, what they get is
	// always encrypted (nothing is sent when the key cannot be used).
	KeyFile string `yaml:"key_file"`
	// StatusReport: the significant-event playbook drafts the E+24h
	// status report to them (sent once approved).
	StatusReport bool `yaml:"status_report"`
	// Notes are for the responders: when to call them, what they want.
	Notes string `yaml:"notes"`
}

// ContactKinds are the kinds of external contacts.
var ContactKinds = []string{"cert", "csirt", "first", "isp", "law-enforcement", "vendor", "partner", "customer", "expert", "media"}

// Encrypt is the contact's encryption policy: always with a key_file,
// else the replies' default.
func (k Contact) Encrypt(c *Config) string {
	if k.KeyFile != "" {
		return EncryptAlways
	}
	return c.Replies.Encrypt
}

// ContactByID returns the external contact id (any case).
func (c *Config) ContactByID(id string) (Contact, bool) {
	for _, k := range c.Contacts {
		if strings.EqualFold(k.ID, id) {
			return k, true
		}
	}
	return Contact{}, false
}

// ContactByEmail returns the external contact whose address this is.
func (c *Config) ContactByEmail(address string) (Contact, bool) {
	for _, k := range c.Contacts {
		if strings.EqualFold(k.Email, address) {
			return k, true
		}
	}
	return Contact{}, false
}

// StatusReportContacts are the contacts the E+24h status report is
// drafted to.
func (c *Config) StatusReportContacts() []Contact {
	var out []Contact
	for _, k := range c.Contacts {
		if k.StatusReport {
			out = append(out, k)
		}
	}
	return out
}

func (c *Config) contactDefaults() {
	for i := range c.Contacts {
		if c.Contacts[i].Language == "" {
			c.Contacts[i].Language = "en"
		}
	}
}

// validateContacts checks the external contacts directory.
func (c *Config) validateContacts(bad func(field, format string, args ...any)) {
	ids := map[string]bool{}
	for i, k := range c.Contacts {
		f := fmt.Sprintf("contacts.%d", i)
		if !validID(k.ID) {
			bad(f+".id", "%q must be lower-case letters, digits and - (it is typed in /notify)", k.ID)
		} else if ids[k.ID] {
			bad(f+".id", "%s is listed twice", k.ID)
		}
		ids[k.ID] = true
		if strings.TrimSpace(k.Name) == "" {
			bad(f+".name", "required: it is shown to whoever approves what goes to them")
		}
		if !contains(ContactKinds, k.Kind) {
			bad(f+".kind", "%q is not one of %s", k.Kind, strings.Join(ContactKinds, ", "))
		}
		if a, err := mail.ParseAddress(k.Email); err != nil || a.Address != k.Email {
			bad(f+".email", "%q is not a bare e-mail address", k.Email)
		} else if _, onRoster := c.PersonByEmail(k.Email); onRoster {
			bad(f+".email", "%s is on the roster (people): an external contact is someone outside", k.Email)
		}
		if !languageRE.MatchString(k.Language) {
			bad(f+".language", "%q is not an ISO 639-1 code such as en, de, fr, es, ja", k.Language)
		}
		if k.KeyFile != "" {
			if _, err := os.Stat(k.KeyFile); err != nil {
				bad(f+".key_file", "%v", err)
			}
		}
	}
}
