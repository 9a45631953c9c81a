package rules

import (
	"cmp"
	"strings"
	"time"

	"meapi/store"
)

// Limit is one limit on attempts: at most Max of Subject's in any Window.
// The store counts attempts against limits, atomically; these say which.
type Limit struct {
	Subject string
	Max     int
	Window  time.Duration
}

// SigninLimits bound sign-in attempts in a sliding window: per account (or
// per email or username that names none) and per client address. Past a
// limit every sign-in for that account or from that address is refused,
// even with the right password, until enough attempts have aged out of the
// window. An attempt counts from the moment it is made, until its password
// turns out right.
type SigninLimits struct {
	Window     time.Duration
	PerAccount int
	PerAddress int
}

// DefaultSigninLimits: 10 failures of one account in 15 minutes is more than
// a person mistyping or trying old passwords makes, and caps an online guesser
// at under 1,000 guesses a day per account. 100 from one address leaves room
// for an office or a school behind one NAT address.
var DefaultSigninLimits = SigninLimits{Window: 15 * time.Minute, PerAccount: 10, PerAddress: 100}

// WithDefaults fills what l leaves zero from DefaultSigninLimits.
func (l SigninLimits) WithDefaults() SigninLimits {
	return SigninLimits{
		Window:     cmp.Or(l.Window, DefaultSigninLimits.Window),
		PerAccount: cmp.Or(l.PerAccount, DefaultSigninLimits.PerAccount),
		PerAddress: cmp.Or(l.PerAddress, DefaultSigninLimits.PerAddress),
	}
}

// For is what a sign-in attempt counts against: the account it names (see
// AccountSubject) and the client's address.
func (l SigninLimits) For(account, address string) []Limit {
	return []Limit{
		{Subject: account, Max: l.PerAccount, Window: l.Window},
		{Subject: addressPrefix + address, Max: l.PerAddress, Window: l.Window},
	}
}

const addressPrefix = "addr:"

// IsAddress reports whether a subject is a client address, for a message
// that says which limit was reached.
func IsAddress(subject string) bool { return strings.HasPrefix(subject, addressPrefix) }

// AccountSubject is what the per-account limit counts by: the account when
// there is one (its user id), so that naming it by email or by username
// adds up, and otherwise the identifier as typed, folded as the stored ones
// are.
func AccountSubject(userID, identifier string) string {
	if userID != "" {
		return "user:" + userID
	}
	return "id:" + store.Fold(identifier)
}

// SignupLimits bound sign-ups per client address in a sliding window.
type SignupLimits struct {
	Window     time.Duration
	PerAddress int
}

// DefaultSignupLimits: 30 in 10 minutes lets a few dozen through in a burst
// (an office behind one NAT address onboarding together), never hundreds a
// minute from one machine.
var DefaultSignupLimits = SignupLimits{Window: 10 * time.Minute, PerAddress: 30}

// WithDefaults fills what l leaves zero from DefaultSignupLimits.
func (l SignupLimits) WithDefaults() SignupLimits {
	return SignupLimits{
		Window:     cmp.Or(l.Window, DefaultSignupLimits.Window),
		PerAddress: cmp.Or(l.PerAddress, DefaultSignupLimits.PerAddress),
	}
}

// For is what a sign-up counts against: its client's address. Sign-ups
// count whatever their outcome, so that a burst from one address (someone
// making accounts by the hundred) is bounded.
func (l SignupLimits) For(address string) []Limit {
	return []Limit{{Subject: "signup-addr:" + address, Max: l.PerAddress, Window: l.Window}}
}
