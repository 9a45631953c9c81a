package rules

import (
	"strings"
	"testing"

	"meapi/store"
)

func TestName(t *testing.T) {
	accepted := []struct{ in, stored string }{
		{"Ada", "Ada"},
		{"  Ada   Lovelace ", "Ada Lovelace"},
		{"\u00a0Ada\u00a0", "Ada"},
		{"Zoe\u0308", "Zoë"}, // NFC
		{"Ａｄａ", "Ada"},       // NFKC: fullwidth letters
		{"李小龍", "李小龍"},       // any script
		{"😀", "😀"},           // a symbol is visible
		{"O'Brien-Smith", "O'Brien-Smith"},
		{strings.Repeat("x", 100), strings.Repeat("x", 100)},
		{strings.Repeat("😀", 50), strings.Repeat("😀", 50)}, // 100 UTF-16 code units
	}
	for _, tt := range accepted {
		got, err := Name(tt.in)
		if err != nil || got != tt.stored {
			t.Errorf("Name(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.stored)
		}
	}
	refused := []struct{ name, in string }{
		{"empty", ""},
		{"spaces", "   "},
		{"ideographic spaces", "\u2000\u3000"},
		{"a tab", "a\tb"},
		{"a newline", "Love\nlace"},
		{"a C1 control", "Love\u0085lace"},
		{"DEL", "Ada\u007f"},
		{"zero-width space only", "\u200b"},
		{"zero-width space inside", "x\u200by"},
		{"zero-width joiner only", "\u200d"},
		{"word joiner only", "\u2060"},
		{"byte order mark only", "\ufeff"},
		{"soft hyphen only", "\u00ad"},
		{"Hangul filler only", "\u3164"},
		{"halfwidth Hangul filler", "\uffa0"},
		{"braille blank only", "\u2800"},
		{"braille blanks and spaces", "\u2800 \u2800"},
		{"a lone combining mark", "\u0301"},
		{"a combining mark first", "\u0301Ada"},
		{"right-to-left override", "\u202eAda"},
		{"left-to-right embedding", "Ada\u202a"},
		{"line separator inside", "Ada\u2028x"},
		{"paragraph separator", "Ada\u2029"},
		{"a noncharacter", "Ada\uffff"},
		{"a tag character", "Ada\U000E0041"},
		{"unassigned", "Ada\U000E0FFF"},
		{"101 characters", strings.Repeat("x", 101)},
		{"51 emoji: 102 UTF-16 code units", strings.Repeat("😀", 51)},
		{"one that expands past 100 under NFKC", strings.Repeat("x", 90) + "\ufdfa"},
	}
	for _, tt := range refused {
		if got, err := Name(tt.in); err == nil {
			t.Errorf("%s: Name(%+q) = %+q, want a refusal", tt.name, tt.in, got)
		}
	}
}

func TestUsername(t *testing.T) {
	for _, ok := range []string{"ada", "Ada.L", "a-b_c", "007", strings.Repeat("a", 64)} {
		if err := Username(ok); err != nil {
			t.Errorf("Username(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 65), "_ada", ".ada", "ada l", "adé", "\u212aaren", "admin", "Support", "ROOT"} {
		if err := Username(bad); err == nil {
			t.Errorf("Username(%q) accepted", bad)
		}
	}
}

func TestFoldIsASCIIOnly(t *testing.T) {
	if got := store.Fold("Ada@Example.COM"); got != "ada@example.com" {
		t.Errorf("Fold: %q", got)
	}
	// The Kelvin sign folds to k under Unicode case folding; here it stays
	// what it is, so it can never reach an account named with a k.
	for _, s := range []string{"\u212a", "Ｋ", "İ"} {
		if got := store.Fold(s); got != s {
			t.Errorf("Fold(%+q) = %+q, want it unchanged", s, got)
		}
	}
}

// emailCases are addresses with what every strict client validator (zod,
// valibot, ajv-formats) says of them; the client matrix holds the
// generated zod schema to the same list (clients/emails.json).
func TestEmail(t *testing.T) {
	for _, ok := range []string{
		"ada@example.com", "Ada.Lovelace@Example.COM", "a+tag@example.co.uk", "o'brien@example.ie",
		"a_b-c@sub.example.org", "x@xn--bcher-kva.de", "1@example.museum",
	} {
		if err := Email(ok); err != nil {
			t.Errorf("Email(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"x@localhost", "ada@[127.0.0.1]", "ada@-example.com", "ada@example-.com", "ada@example.c",
		"ada@bücher.de", "ädä@example.com", "ada@example.xn--p1ai", ".ada@example.com", "ada.@example.com",
		"a..b@example.com", "ada'@example.com", "ada@example..com", "Ada <ada@example.com>", "ada@exam_ple.com",
		"\u212aaren@example.com", "ada\u200b@example.com", "\u202eada@example.com", "ａｄａ@example.com",
		"ada@xn--zz.com", strings.Repeat("a", 65) + "@example.com", "ada@" + strings.Repeat("a", 64) + ".com",
	} {
		if err := Email(bad); err == nil {
			t.Errorf("Email(%q) accepted", bad)
		}
	}
}

func TestImageURL(t *testing.T) {
	for _, ok := range []string{
		"https://images.example.com/ada.png", "https://images.example.com/a%20b.png?x=1&y=2#top",
		"https://127.0.0.1/a.png", "https://[::1]:8443/a.png", "https://example.com/~ada/(1)/a,b;c=d!$'*+@:",
		"https://example.com:443/", "https://example.com",
	} {
		if err := ImageURL(ok); err != nil {
			t.Errorf("ImageURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://images.example.com/a.png", "/a.png", "javascript:alert(1)", "https:///a.png", "https://user:pw@example.com/a.png",
		"https://example.com/a b.png", "https://example.com/é.png", "https://example.com/{x}", "https://example.com/a|b",
		"https://example.com/<x>", `https://example.com/"x"`, `https://example.com/a\b`, "https://example.com/a%zz",
		"https://example.com/a^b", "https://example.com/a`b", "https://exa_mple.com/", "https://example.com:99999/",
		"https://example.com:/", "https://example..com/", "HTTPS://example.com/", "https://example.com/" + strings.Repeat("a", 2048),
	} {
		if err := ImageURL(bad); err == nil {
			t.Errorf("ImageURL(%q) accepted", bad)
		}
	}
}

// TestImageURLNumericHosts: a host whose last label is a number is an
// IPv4 address to a browser (the URL standard's "ends in a number"), which
// reads 0177.0.0.1 and 2130706433 as 127.0.0.1 and refuses 256.1.1.1, so
// such a host is taken only as a canonical dotted quad; other hosts with
// digits in them are domain names.
func TestImageURLNumericHosts(t *testing.T) {
	for _, ok := range []string{
		"https://127.0.0.1/a.png", "https://0.0.0.0/", "https://255.255.255.255:8443/", "https://192.0.2.10/",
		"https://1.2.3.example/", "https://123abc/", "https://a.0xg/", "https://0x.example/", "https://x.1a/",
	} {
		if err := ImageURL(ok); err != nil {
			t.Errorf("ImageURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"https://0177.0.0.1/a.png", "https://2130706433/a.png", "https://010.0.0.1/a.png", "https://999.999.999.999/",
		"https://256.1.1.1/", "https://1.2.3.4.5/", "https://a.1/", "https://127.1/", "https://00.0.0.0/",
		"https://0x7f.0.0.1/", "https://127.0.0.0x1/", "https://a.0x/", "https://a.0X1F/", "https://0/", "https://1.2.3.04/",
	} {
		err := ImageURL(bad)
		if err == nil || !strings.Contains(err.Error(), "is not a canonical IPv4 address") {
			t.Errorf("ImageURL(%q): %v; want a refusal saying the host is not a canonical IPv4 address", bad, err)
		}
	}
}

// TestPatternsAreASCII: the patterns read the same in every regular
// expression engine (impl's spec test holds them equal to openapi.yaml's).
func TestPatternsAreASCII(t *testing.T) {
	for _, p := range []string{EmailPattern(), ImageURLPattern()} {
		for _, r := range p {
			if r > 0x7e {
				t.Errorf("pattern %q holds %+q: patterns must read the same in every regex engine", p, r)
			}
		}
	}
}
