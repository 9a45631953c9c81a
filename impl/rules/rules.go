// Package rules holds meapi's domain rules for the values people choose:
// names, usernames, email addresses, avatar URLs. openapi.yaml states what
// a portable JSON Schema can (lengths, ASCII patterns); these are the rest,
// which the schema's descriptions state in words. They know nothing of
// HTTP: a value a rule refuses is a *Violation, which the API turns into a
// refusal naming the member.
package rules

import (
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"

	"meapi/internal/dfa"
	"meapi/store"
)

// Violation says why a rule refuses a value, in words that follow the
// member's name: "must not be empty".
type Violation struct {
	Reason string
}

func (v *Violation) Error() string { return v.Reason }

func violation(reason string) error { return &Violation{Reason: reason} }

// MaxNameLength is how long a stored name may be, in UTF-16 code units:
// the way JavaScript (and so zod and valibot in a browser) counts a
// string's length, which is at least the number of characters, so that a
// name the server keeps never fails a client's check of it.
const MaxNameLength = 100

// Name enforces the PRECIS Nickname profile (RFC 8266) on a first or last
// name and returns the name to store: white space at either end removed,
// runs of spaces made one, in Unicode normalization form NFKC. It refuses
// control characters (C0, DEL, C1, line and paragraph separators),
// bidirectional controls, invisible (default-ignorable) and unassigned code
// points, and names in which nothing visible is left.
func Name(s string) (string, error) {
	out, err := precis.Nickname.String(s)
	switch {
	case err != nil && strings.TrimFunc(s, unicode.IsSpace) == "":
		return "", violation("must contain something other than white space")
	case err != nil:
		return "", violation("must not contain control characters, bidirectional controls, or invisible or unassigned characters")
	}
	first := []rune(out)[0]
	if unicode.In(first, unicode.Mn, unicode.Mc, unicode.Me) {
		return "", violation("must not start with a combining mark")
	}
	if !strings.ContainsFunc(out, visible) {
		return "", violation("must contain something visible")
	}
	if n := len(utf16.Encode([]rune(out))); n > MaxNameLength {
		return "", violation("must be at most " + strconv.Itoa(MaxNameLength) + " characters (a character outside the Basic Multilingual Plane, such as most emoji, counts as two)")
	}
	return out, nil
}

// visible reports whether r draws something: a letter, mark, number,
// punctuation or symbol, but not the blank symbols that draw nothing.
func visible(r rune) bool {
	switch r {
	case '\u2800': // BRAILLE PATTERN BLANK
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// ReservedUsernames are refused regardless of letter case, so that nobody
// can pass for the service or its staff. openapi.yaml lists the same names
// in the Username schema's description; a test keeps the two in step.
var ReservedUsernames = []string{
	"admin", "administrator", "api", "auth", "help", "me", "meapi", "null", "root", "security",
	"session", "signin", "signout", "signup", "staff", "support", "system", "undefined",
}

var usernamePattern = dfa.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$`)

// Username checks a username: 3 to 64 of A-Z a-z 0-9 _ . -, starting with
// a letter or a digit, and not a reserved name.
func Username(s string) error {
	if !usernamePattern.MatchString(s) {
		return violation("must be 3 to 64 characters of letters, digits, '_', '.' and '-', starting with a letter or a digit")
	}
	if slices.Contains(ReservedUsernames, store.Fold(s)) {
		return violation(s + " is reserved")
	}
	return nil
}

// emailPattern is the grammar of addresses that every strict client
// validator accepts (zod's and valibot's email checks, ajv-formats'
// "email"): openapi.yaml's Email pattern, the same text.
var emailPattern = dfa.MustCompile(`^([A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$`)

// EmailPattern is the pattern Email checks, for a test that holds it equal
// to openapi.yaml's.
func EmailPattern() string { return emailPattern.String() }

// Email checks an email address: the grammar of emailPattern, at most 64
// characters before the @ and 253 after it, labels of at most 63, and an
// internationalized domain written in valid A-labels (xn--…).
func Email(s string) error {
	if !emailPattern.MatchString(s) {
		return violation("must be an email address such as name@example.com, ASCII only (write an internationalized domain in its xn-- form)")
	}
	local, domain, _ := strings.Cut(s, "@")
	if len(local) > 64 {
		return violation("must have at most 64 characters before the @")
	}
	if len(domain) > 253 {
		return violation("must have a domain of at most 253 characters")
	}
	aLabel := false
	for label := range strings.SplitSeq(domain, ".") {
		if len(label) > 63 {
			return violation("must have domain labels of at most 63 characters")
		}
		aLabel = aLabel || len(label) >= 4 && strings.EqualFold(label[:4], "xn--")
	}
	// Lookup's profile checks every label as IDNA2008 does for a
	// registration: an A-label must decode to a valid U-label. The pattern
	// has let only letters, digits and hyphens through: a domain without an
	// A-label has nothing more to check.
	if aLabel {
		if _, err := idna.Lookup.ToUnicode(domain); err != nil {
			return violation("must have a domain whose xn-- labels are valid internationalized domain names")
		}
	}
	return nil
}

// MaxImageURLLength is the longest avatar URL, in bytes (it is ASCII).
const MaxImageURLLength = 2048

var imageURLPattern = dfa.MustCompile(`^https://([A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+$`)

// ImageURLPattern is the pattern ImageURL checks, for a test that holds it
// equal to openapi.yaml's.
func ImageURLPattern() string { return imageURLPattern.String() }

var hostPattern = dfa.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// NumericHost says how a browser's URL parser (WHATWG's) reads host, a
// host name without brackets or port: numeric when its last label (a
// trailing dot aside) is a number, all decimal digits or 0x followed by
// hexadecimal digits or nothing, which the parser takes for an IPv4
// address in any of its old forms (0177.0.0.1 and 2130706433 are
// 127.0.0.1; 256.1.1.1 and a.1 fail to load); canonical when host is
// then the one form every parser reads alike, four decimal numbers from 0
// to 255 without leading zeros.
func NumericHost(host string) (numeric, canonical bool) {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		numeric = strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	} else {
		numeric = last != "" && strings.Trim(last, "0123456789") == ""
	}
	if !numeric {
		return false, false
	}
	addr, err := netip.ParseAddr(host)
	return true, err == nil && addr.Is4()
}

// ImageURL checks an avatar URL: absolute https, at most 2048 bytes, only
// the characters RFC 3986 allows in a URI, a host that is a domain name or
// an IP address (so that every browser's URL parser reads it the same: a
// host ending in a number must be a canonical dotted-quad IPv4 address),
// a port in range, and no user name or password (which every viewer of the
// avatar would be sent).
func ImageURL(s string) error {
	if len(s) > MaxImageURLLength {
		return violation("must be at most " + strconv.Itoa(MaxImageURLLength) + " bytes")
	}
	if !imageURLPattern.MatchString(s) {
		return violation("must be an absolute https URL written with the characters RFC 3986 allows (percent-encode the others)")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "https" || u.Opaque != "":
		return violation("must be an absolute https URL")
	case u.User != nil:
		return violation("must not contain a user name or password")
	case u.Host == "":
		return violation("must name a host")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip == nil && (!hostPattern.MatchString(host) || strings.Contains(host, "..")) {
		return violation("must name a host that is a domain name or an IP address")
	}
	// A host that browsers read as an IPv4 address is taken only in the one
	// form every parser reads alike (see NumericHost).
	if numeric, canonical := NumericHost(host); !strings.HasPrefix(u.Host, "[") && numeric && !canonical {
		return violation("must name a host that is a domain name or an IP address: the host " + host +
			" ends in a number, so browsers read it as an IPv4 address, and it is not a canonical IPv4 address (four decimal numbers from 0 to 255 without leading zeros, such as 192.0.2.1)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return violation("must have a port from 0 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return violation("must have a port after its colon, or no colon")
	}
	return nil
}
