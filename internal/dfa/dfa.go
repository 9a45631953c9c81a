// Package dfa matches regular expressions fast: for an expression of the
// kind it takes (anchored at the start, without case folding, lines or word
// boundaries: JSON Schema patterns as people write them for an API), it
// builds once a deterministic automaton that reads each rune of a value
// once, a table lookup each; for any other it uses Go's regexp, which is
// also the reference it is tested against. It answers MatchString only.
package dfa

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Regexp is a compiled expression. Go's regexp matches when the expression
// is not of the kind the automaton takes (regexp's matchers cost many times
// more: patterns were most of meapi's response validation).
type Regexp struct {
	re  *regexp.Regexp
	dfa *dfa
}

// Compile compiles expr with Go's regexp syntax.
func Compile(expr string) (*Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &Regexp{re: re, dfa: newDFA(expr)}, nil
}

// MustCompile is Compile for expressions known to be good.
func MustCompile(expr string) *Regexp {
	re, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return re
}

// MatchString reports whether s matches, as regexp.MatchString does.
func (p *Regexp) MatchString(s string) bool {
	if p.dfa != nil {
		return p.dfa.match(s)
	}
	return p.re.MatchString(s)
}

// String is the expression.
func (p *Regexp) String() string { return p.re.String() }

// dfa is a deterministic automaton over symbols: the runes are divided into
// intervals that every instruction of the expression treats alike, and each
// interval is one symbol.
type dfa struct {
	ascii  [utf8.RuneSelf]uint16 // the symbol of each ASCII rune
	bounds []rune                // for the others: the first rune of each interval, sorted
	syms   []uint16              // and its symbol
	nsym   int
	// next is the transition table: next[state*nsym+symbol], dead < 0;
	// asciiNext the same for ASCII runes, by the rune itself.
	next      []int32
	asciiNext []int32
	// matched says that a state has matched already, whatever follows
	// (an expression without $); atEnd that it matches if the value ends
	// there.
	matched, atEnd []bool
}

// maxDFAStates bounds the automaton; an expression that needs more is
// left to regexp.
const maxDFAStates = 4096

// newDFA builds the automaton of expr, or returns nil when expr is not of
// the kind it takes.
func newDFA(expr string) *dfa {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil || prog.StartCond()&syntax.EmptyBeginText == 0 {
		return nil
	}
	// The symbols: intervals between the bounds of every rune range.
	cuts := []rune{0, utf8.MaxRune + 1}
	for _, in := range prog.Inst {
		switch in.Op {
		case syntax.InstRune:
			if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
				return nil
			}
			for i := 0; i+1 < len(in.Rune); i += 2 {
				cuts = append(cuts, in.Rune[i], in.Rune[i+1]+1)
			}
			if len(in.Rune) == 1 {
				cuts = append(cuts, in.Rune[0], in.Rune[0]+1)
			}
		case syntax.InstRune1:
			cuts = append(cuts, in.Rune[0], in.Rune[0]+1)
		case syntax.InstRuneAnyNotNL:
			cuts = append(cuts, '\n', '\n'+1)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
				return nil // lines and word boundaries: regexp's
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	d := &dfa{nsym: len(cuts) - 1}
	for i := range d.nsym {
		lo := cuts[i]
		if lo < utf8.RuneSelf {
			for r := lo; r < min(cuts[i+1], utf8.RuneSelf); r++ {
				d.ascii[r] = uint16(i)
			}
		}
		if cuts[i+1] > utf8.RuneSelf {
			d.bounds = append(d.bounds, max(lo, utf8.RuneSelf))
			d.syms = append(d.syms, uint16(i))
		}
	}

	// Subset construction: a state is the set of instructions the
	// expression may be at, after the empty-width ones that hold before
	// the value's end have been followed.
	type state struct{ pcs []uint32 }
	key := func(pcs []uint32) string {
		var b strings.Builder
		for _, pc := range pcs {
			b.WriteString(strconv.FormatUint(uint64(pc), 36))
			b.WriteByte(',')
		}
		return b.String()
	}
	closure := func(from []uint32, atBegin, atEnd bool) ([]uint32, bool) {
		seen := map[uint32]bool{}
		var out []uint32
		matched := false
		var visit func(pc uint32)
		visit = func(pc uint32) {
			if seen[pc] {
				return
			}
			seen[pc] = true
			in := &prog.Inst[pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				visit(in.Out)
				visit(in.Arg)
			case syntax.InstCapture, syntax.InstNop:
				visit(in.Out)
			case syntax.InstEmptyWidth:
				op := syntax.EmptyOp(in.Arg)
				if (op&syntax.EmptyBeginText != 0 && !atBegin) || (op&syntax.EmptyEndText != 0 && !atEnd) {
					if op&syntax.EmptyEndText != 0 {
						out = append(out, pc) // may hold once the value ends
					}
					return
				}
				visit(in.Out)
			case syntax.InstMatch:
				matched = true
			case syntax.InstFail:
			default:
				out = append(out, pc)
			}
		}
		for _, pc := range from {
			visit(pc)
		}
		slices.Sort(out)
		return out, matched
	}
	ids := map[string]int32{}
	var states []state
	add := func(pcs []uint32, matched bool) int32 {
		k := key(pcs)
		if matched {
			k = "m" + k
		}
		if id, ok := ids[k]; ok {
			return id
		}
		id := int32(len(states))
		ids[k] = id
		states = append(states, state{pcs})
		d.matched = append(d.matched, matched)
		_, end := closure(pcs, false, true)
		d.atEnd = append(d.atEnd, matched || end)
		return id
	}
	start, m := closure([]uint32{uint32(prog.Start)}, true, false)
	add(start, m)
	for i := 0; i < len(states); i++ {
		if len(states) > maxDFAStates {
			return nil
		}
		d.next = append(d.next, make([]int32, d.nsym)...)
		for sym := range d.nsym {
			r := cuts[sym] // every rune of the symbol's interval is alike
			var to []uint32
			for _, pc := range states[i].pcs {
				in := &prog.Inst[pc]
				if in.Op != syntax.InstEmptyWidth && in.MatchRune(r) {
					to = append(to, in.Out)
				}
			}
			if len(to) == 0 {
				d.next[i*d.nsym+sym] = -1
				continue
			}
			pcs, m := closure(to, false, false)
			if len(pcs) == 0 && !m {
				d.next[i*d.nsym+sym] = -1
				continue
			}
			d.next[i*d.nsym+sym] = add(pcs, m)
		}
	}
	d.asciiNext = make([]int32, len(states)*utf8.RuneSelf)
	for st := range states {
		for r := range utf8.RuneSelf {
			d.asciiNext[st*utf8.RuneSelf+r] = d.next[st*d.nsym+int(d.ascii[r])]
		}
	}
	return d
}

func (d *dfa) symbol(r rune) int {
	if r < utf8.RuneSelf {
		return int(d.ascii[r])
	}
	i := sort.Search(len(d.bounds), func(i int) bool { return d.bounds[i] > r }) - 1
	return int(d.syms[i])
}

// match reports whether s matches, as regexp.MatchString would: invalid
// UTF-8 reads as U+FFFD, one byte at a time.
func (d *dfa) match(s string) bool {
	st := int32(0)
	for i := 0; i < len(s); {
		if d.matched[st] {
			return true
		}
		if c := s[i]; c < utf8.RuneSelf {
			st = d.asciiNext[int(st)*utf8.RuneSelf+int(c)]
			i++
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			st = d.next[int(st)*d.nsym+d.symbol(r)]
			i += n
		}
		if st < 0 {
			return false
		}
	}
	return d.atEnd[st]
}
