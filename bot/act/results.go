package act

import (
	"time"

	"tocsin/templates"
)

// Result is what a command did, as a value: the caller renders it by its
// kind (a template of the same name) in the reader's language. A refusal
// is a Result too (Refused); an error from Do is a failure, nothing was
// changed.
type Result interface {
	Kind() Kind
}

// Kind names a result; it is the name of the template that words it.
type Kind string

// The kinds of result.
const (
	KindAnswered     Kind = "answered"
	KindStatus       Kind = "status"
	KindNoted        Kind = "noted"
	KindEventMoved   Kind = "event-moved"
	KindUnitsChanged Kind = "units-changed"
	KindClosed       Kind = "closed"
	KindEscalated    Kind = "escalated"
	KindAssigned     Kind = "assigned"
	KindPrioritySet  Kind = "priority-set"
	KindDrafted      Kind = "drafted"
	KindApproved     Kind = "approved"
	KindOnCall       Kind = "oncall"
	KindFiled        Kind = "filed"
	KindLinkMailed   Kind = "link-mailed"
	KindLinked       Kind = "linked"
	KindUnlinked     Kind = "unlinked"
	KindRefused      Kind = "refused"
	KindHelp         Kind = "help"
	KindActions      Kind = "actions-written"
	KindAssetSet     Kind = "asset-set"
	KindAssetsMarked Kind = "assets-marked"
	KindReplyPreview Kind = "reply-preview"
	KindReplySent    Kind = "reply-sent"
)

// Answered: an ack or done counted for a step.
type Answered struct {
	Incident string
	Verb     string // ack, done, away
	Step     string // the step's title
	StepName templates.StepName
	State    string // the step's state after the answer
	By       string // the actor's name
	// For are the names of whom the step told, when the actor took the
	// team's step for them ("taken by Tara for Theo").
	For []string
	// OpenAssets are the assets of the step's unit still waiting for
	// their fix (a unit contact's confirmation rolls them up).
	OpenAssets []string
}

// Draft is a draft to an external contact that waits for approval.
type Draft struct {
	ID, Form, Contact, DraftedBy string
}

// IncidentStatus is an incident and its call tree's progress.
type IncidentStatus struct {
	Incident, Priority, Status, Category, Subject string
	Progress                                      string // the cards' lines, "" without a tree
	Waiting                                       []Draft
}

// Noted: a note was added.
type Noted struct{ Incident string }

// EventMoved: E was set; open deadlines moved.
type EventMoved struct {
	Incident string
	At       time.Time
	By       string
}

// UnitsChanged: affected units were added or removed.
type UnitsChanged struct {
	Incident string
	Changes  []string // as given: "+pay", "-web", "web"
	By       string
}

// Closed: the incident was closed and its open steps skipped; the
// reporter was sent the closure form (ReporterTold), or not, and why.
type Closed struct {
	Incident, By        string
	ReporterTold        bool
	ReporterNotWritable NotWritable
}

// ReplyPreview: what /reply would send the reporter (nothing was sent).
type ReplyPreview struct {
	Incident, Form, To, Lang, Subject, Body string
	Text                                    string // the team's text, as given
}

// ReplySent: a form to the reporter was queued (signed, encrypted where
// their key is known).
type ReplySent struct{ Incident, Form, To, By string }

// Escalated: open steps went to their next level.
type Escalated struct{ Incident, Why, By string }

// Assigned: someone was made responsible.
type Assigned struct{ Incident, To, By string }

// PrioritySet: the priority changed.
type PrioritySet struct{ Incident, Priority, By string }

// Drafted: a status report to an external contact waits for approval.
type Drafted struct {
	Incident, Draft, Contact, ContactKind, By string
}

// Approved: a draft was approved and goes out.
type Approved struct {
	Incident, Draft, By string
	To                  []string // "Name <address>"
}

// Slot is one on-call slot.
type Slot struct{ Name, Person, Why string }

// OnCall: who holds each slot now.
type OnCall struct {
	Unit  string
	Slots []Slot
}

// Filed: a report taken by phone or in person was filed. A phone report
// names its Caller (the reporter), who is told only when they gave an
// address (CallerTold).
type Filed struct {
	Incident, By string
	Caller       string
	CallerTold   bool
}

// LinkMailed: the answer to a link request, the same whether or not the
// address is on the roster.
type LinkMailed struct {
	Address string
	Minutes int
}

// Linked: the chat account now acts as Person.
type Linked struct{ Person string }

// Unlinked: the chat account no longer acts as Was.
type Unlinked struct{ Was string }

// ActionsWritten: the team's actions for the enhanced alert were kept
// as Version; Told are those already alerted who get them as an update.
type ActionsWritten struct {
	Incident string
	Version  int
	By       string
	Told     []string
}

// AssetSet: an asset was added to the incident or its state set.
type AssetSet struct {
	Incident, Unit, Asset, State, Why, By string
	Added                                 bool
	Open                                  []string // the unit's assets still open
}

// AssetsMarked: a done named assets: fixed (by the unit's people) or
// validated (by the team).
type AssetsMarked struct {
	Incident string
	Assets   []string
	State    string // fixed | validated
	By       string
	Open     []string // the units' assets still open
	// Step and StepState: the step the done also counted for (the
	// unit's last open asset), or "".
	Step, StepState string
}

// HelpShown: the caller may see the commands (each way in lists its own).
type HelpShown struct{}

// Reason says why a command was refused.
type Reason string

// Reasons for a refusal.
const (
	NotOnRoster      Reason = "not-on-roster"       // the chat account is nobody's on the roster
	NotPermitted     Reason = "not-permitted"       // the actor's roles do not allow the command
	NotInTree        Reason = "not-in-tree"         // escalate: not in the tree, nor team or officer
	NoOpenStep       Reason = "no-open-step"        // no id given, and nothing waits for the actor
	NoSuchIncident   Reason = "no-such-incident"    // Arg: the id
	NoTree           Reason = "no-tree"             // the incident runs no call tree
	NothingToAnswer  Reason = "nothing-to-answer"   // ack/done: no open step waits for the actor
	AlreadyClosed    Reason = "already-closed"      // close twice
	CannotEscalate   Reason = "cannot-escalate"     // no open step can go further for the actor
	DraftNotNamed    Reason = "draft-not-named"     // /approve without a draft id; Waiting
	NoSuchDraft      Reason = "no-such-draft"       // Arg: the id; Waiting
	DraftNewer       Reason = "draft-newer"         // drafted after the approval was made
	OwnDraft         Reason = "own-draft"           // a second person must approve
	NothingToApprove Reason = "nothing-to-approve"  // approved already
	ContactGone      Reason = "contact-gone"        // the draft's contact left the directory
	UnknownContact   Reason = "unknown-contact"     // Arg: the id; Known: the directory
	UnknownUnit      Reason = "unknown-unit"        // Arg: the unit
	UnknownPerson    Reason = "unknown-person"      // assign: Arg as given
	BadTime          Reason = "bad-time"            // event: Arg as given
	BadCode          Reason = "bad-code"            // link: wrong, expired or overused code
	TooManyLinks     Reason = "too-many-link-codes" // Arg: the address; Limit
	LinkedInConfig   Reason = "linked-in-config"    // unlink: Arg: the configured person
	NotLinked        Reason = "not-linked"          // unlink of an account linked to nobody
	UnknownCommand   Reason = "unknown-command"     // no handler: Arg the command
	MissingArgument  Reason = "missing-argument"    // the command lacks what it needs
	AlreadyAssigned  Reason = "already-assigned"    // assign: Arg (the name) is responsible already; no mail
	UnknownAsset     Reason = "unknown-asset"       // asset: Arg as given; name its unit (UNIT:ASSET)
	UnitNotAffected  Reason = "unit-not-affected"   // asset: Arg the unit, not affected by the incident
	BadAssetState    Reason = "bad-asset-state"     // asset: Arg as given
	// ReporterNotWritable: reply: Arg is the NotWritable reason.
	ReporterNotWritable Reason = "reporter-not-writable"
	// PreviewGone: a reply's Send button whose preview expired or was
	// sent already, or is another's.
	PreviewGone Reason = "preview-gone"
)

// Reasons are every reason, for the words that must cover them all.
var Reasons = []Reason{NotOnRoster, NotPermitted, NotInTree, NoOpenStep, NoSuchIncident, NoTree, NothingToAnswer, AlreadyClosed, CannotEscalate, DraftNotNamed, NoSuchDraft, DraftNewer, OwnDraft, NothingToApprove, ContactGone, UnknownContact, UnknownUnit, UnknownPerson, BadTime, BadCode, TooManyLinks, LinkedInConfig, NotLinked, UnknownCommand, MissingArgument, ReporterNotWritable, PreviewGone, UnknownAsset, UnitNotAffected, BadAssetState, AlreadyAssigned}

// Refused: nothing was done, for Reason.
type Refused struct {
	Reason   Reason
	Command  Name
	Incident string
	Platform string
	Arg      string
	Known    []string // unknown-contact: the directory's ids
	Waiting  []Draft  // approve refusals: what waits for approval
	Limit    int      // too-many-link-codes: per hour
}

func (Answered) Kind() Kind       { return KindAnswered }
func (IncidentStatus) Kind() Kind { return KindStatus }
func (Noted) Kind() Kind          { return KindNoted }
func (EventMoved) Kind() Kind     { return KindEventMoved }
func (UnitsChanged) Kind() Kind   { return KindUnitsChanged }
func (Closed) Kind() Kind         { return KindClosed }
func (Escalated) Kind() Kind      { return KindEscalated }
func (Assigned) Kind() Kind       { return KindAssigned }
func (PrioritySet) Kind() Kind    { return KindPrioritySet }
func (Drafted) Kind() Kind        { return KindDrafted }
func (Approved) Kind() Kind       { return KindApproved }
func (OnCall) Kind() Kind         { return KindOnCall }
func (Filed) Kind() Kind          { return KindFiled }
func (LinkMailed) Kind() Kind     { return KindLinkMailed }
func (Linked) Kind() Kind         { return KindLinked }
func (Unlinked) Kind() Kind       { return KindUnlinked }
func (Refused) Kind() Kind        { return KindRefused }
func (HelpShown) Kind() Kind      { return KindHelp }
func (ActionsWritten) Kind() Kind { return KindActions }
func (AssetSet) Kind() Kind       { return KindAssetSet }
func (AssetsMarked) Kind() Kind   { return KindAssetsMarked }
func (ReplyPreview) Kind() Kind   { return KindReplyPreview }
func (ReplySent) Kind() Kind      { return KindReplySent }
