// Package parsers turns the bytes of one inbound message into a Report.
//
// It is pure: bytes in, a value or an error out. It does no network or
// database I/O and keeps no logger, so it can be fuzzed and run offline by
// `tocsin parse`. Every limit (size, parts, nesting) is a field of Limits,
// and malformed input yields a best-effort Report with Warnings rather than
// an error; only input that cannot be read as mail at all is an error.
package parsers

import (
	"errors"
	"time"
)

// ErrNotAMessage is returned when the input cannot be read as an RFC 5322
// message at all (empty, or no header block).
var ErrNotAMessage = errors.New("not an internet message")

// Category is what kind of mail a report is. The values are a contract of
// `tocsin parse --json` (DESIGN.md).
type Category string

const (
	CategoryVulnerability Category = "vulnerability"
	CategoryIncident      Category = "incident"
	CategoryAbuse         Category = "abuse"
	CategoryAdvisory      Category = "advisory"
	CategoryAutoReply     Category = "auto-reply"
	CategoryBounce        Category = "bounce"
	CategoryOther         Category = "other"
)

// Report is the structured reading of one message. The JSON keys are the
// contract printed by `tocsin parse --json`.
type Report struct {
	From     string `json:"from"`
	FromName string `json:"from_name"`
	// FromSource says which header From was read from: "from", or, when
	// the message has no usable From, "sender" or "return-path"; "" when
	// no address could be read.
	FromSource string `json:"from_source"`
	// Organisation is a guess at the reporter's organisation: the display
	// name's "(Org)" or "Name | Org", else the sender's domain unless it is
	// a free-mail provider.
	Organisation string    `json:"organisation"`
	To           []string  `json:"to"`
	Subject      string    `json:"subject"`
	Date         time.Time `json:"date,omitzero"`
	Category     Category  `json:"category"`
	// Weakness is the class of vulnerability the report names (xss,
	// open-redirect, ...), when its category is vulnerability.
	Weakness      Weakness `json:"weakness,omitempty"`
	AutoSubmitted bool     `json:"auto_submitted"`
	AutoReason    string   `json:"auto_reason,omitempty"`
	Language      string   `json:"language"`
	Priority      string   `json:"priority"`
	// SenderClass is the configured class of the sender (cert, partner, ...).
	SenderClass string `json:"sender_class"`
	// AffectedAssets are inventory entries the report names.
	AffectedAssets  []string `json:"affected_assets"`
	PriorityReasons []string `json:"priority_reasons"`
	// PriorityReasonCodes are PriorityReasons as data, for wording them
	// in the reader's language.
	PriorityReasonCodes []Reason     `json:"priority_reason_codes"`
	Text                string       `json:"text"`
	Attachments         []Attachment `json:"attachments"`
	CVEs                []string     `json:"cves"`
	CWEs                []string     `json:"cwes"`
	CVSS                []CVSS       `json:"cvss"`
	// Versions are version numbers named ("version 2.4.1", "v1.2").
	Versions   []string   `json:"versions"`
	Indicators Indicators `json:"indicators"`
	PGP        PGP        `json:"pgp"`
	// Feedback is the machine-readable part of an abuse report.
	Feedback *Feedback `json:"feedback,omitempty"`
	// IODEF is the IODEF document (RFC 7970) the report carries, if any.
	IODEF *IODEF `json:"iodef,omitempty"`
	// Forwarded lists the messages the report carries.
	Forwarded []Forwarded `json:"forwarded"`
	// Authentication is what a trusted server said of the sender.
	Authentication Authentication `json:"authentication"`
	// SpoofSigns are reasons to doubt the sender is who the From shows.
	SpoofSigns []string `json:"spoof_signs"`
	Thread     Thread   `json:"thread"`
	Warnings   []string `json:"warnings"`
	// OfferedKeyData are the keys the message carried, for the store.
	OfferedKeyData []OfferedKey `json:"-"`
}

// Attachment describes one attached file. Content holds the decoded bytes
// when they fit Limits.MaxAttachmentBytes; Size and SHA256 always cover the
// whole part, even when Content was not kept.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Truncated   bool   `json:"truncated,omitempty"`
	// Stored: the whole attachment went to Options.Attachments.
	Stored  bool   `json:"stored,omitempty"`
	Content []byte `json:"-"`
}

// Indicators are the observables found in the subject, text and attachment
// names of a report.
type Indicators struct {
	IPv4    []string `json:"ipv4"`
	IPv6    []string `json:"ipv6"`
	Domains []string `json:"domains"`
	URLs    []string `json:"urls"`
	Hashes  []string `json:"hashes"`
}

// PGP tells what OpenPGP protection the message carried and what came of it.
type PGP struct {
	Encrypted bool   `json:"encrypted"`
	Decrypted bool   `json:"decrypted"`
	Signed    bool   `json:"signed"`
	Verified  bool   `json:"verified"`
	Signer    string `json:"signer"`
	Reason    string `json:"reason"`
	// OfferedKeys are the fingerprints of keys the message carried
	// (Autocrypt header, attached application/pgp-keys).
	OfferedKeys []string `json:"offered_keys,omitempty"`
}

// Thread holds the keys that attach a message to an existing incident.
type Thread struct {
	MessageID   string   `json:"message_id"`
	InReplyTo   string   `json:"in_reply_to"`
	References  []string `json:"references"`
	IncidentTag string   `json:"incident_tag"`
}

// Limits bound the work Parse does on untrusted input.
type Limits struct {
	// MaxParts is the most MIME parts walked; later parts are skipped.
	MaxParts int
	// MaxDepth is the deepest multipart nesting followed.
	MaxDepth int
	// MaxTextBytes is the most decoded body text kept.
	MaxTextBytes int64
	// MaxAttachmentBytes is the most bytes of one attachment kept in
	// memory (for the parser to read, or in Content); larger ones are
	// hashed, measured and streamed to Options.Attachments, not kept.
	MaxAttachmentBytes int64
	// MaxDecodedBytes is the most bytes decoded from one message across
	// all its layers (transfer encodings, decompression, decryption,
	// forwarded messages); the rest is not read, and says so.
	MaxDecodedBytes int64
}

// DefaultLimits are generous enough for real reports and small enough that
// a hostile message cannot exhaust a 2-core machine.
var DefaultLimits = Limits{
	MaxParts:           500,
	MaxDepth:           20,
	MaxTextBytes:       1 << 20,
	MaxAttachmentBytes: 25 << 20,
	MaxDecodedBytes:    256 << 20,
}

func (l Limits) withDefaults() Limits {
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultLimits.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultLimits.MaxTextBytes
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = DefaultLimits.MaxAttachmentBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = DefaultLimits.MaxDecodedBytes
	}
	return l
}
