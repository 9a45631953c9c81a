package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json/jsontext"
	lru "github.com/hashicorp/golang-lru/v2"

	"meapi/internal/dfa"
)

// direction says which of readOnly and writeOnly members a schema refuses:
// a request may not carry readOnly ones, a response may not carry writeOnly
// ones.
type direction int

const (
	dirRequest direction = iota
	dirResponse
)

// Formats checks the string formats a document uses, by name. date-time,
// password, byte and binary need no entry; any other format a document
// uses must have one.
type Formats map[string]func(string) error

// checker is a compiled schema.
type checker struct {
	types     typeSet
	nullable  bool
	enum      []any // decoded like JSON: nil, bool, float64, string
	format    func(string) error
	binary    bool // format: binary, any bytes
	pattern   *dfa.Regexp
	minLength int64
	maxLength int64 // -1: none
	minimum   *float64
	maximum   *float64
	// Objects: members holds what one lookup of a member's name needs.
	members  map[string]member
	required []string
	closed   bool // additionalProperties: false
	minProps int
	maxProps int // -1: none
	// Arrays.
	items    *checker
	minItems int
	maxItems int // -1: none
	// Combinations.
	allOf, anyOf, oneOf []*checker
	not                 *checker
	discriminator       string
	mapping             map[string]*checker
	// memo, for component schemas, remembers bodies found valid against
	// this schema, under its number id.
	memo *memo
	id   int32
	name string
}

type typeSet uint8

const (
	tNull typeSet = 1 << iota
	tBool
	tInt
	tNumber
	tString
	tArray
	tObject
	tAny = tBool | tInt | tNumber | tString | tArray | tObject
)

// compiler compiles the schemas of one document for one direction, each
// component once.
type compiler struct {
	dir        direction
	formats    Formats
	components map[*openapi3.Schema]*checker
	names      map[*openapi3.Schema]string
	memo       *memo
}

// newCompiler returns a compiler for the schemas of doc. memoSize bounds
// how many valid values its component schemas remember, all together
// (0: none).
func newCompiler(doc *openapi3.T, dir direction, formats Formats, memoSize int) *compiler {
	c := &compiler{dir: dir, formats: formats, components: map[*openapi3.Schema]*checker{}, names: map[*openapi3.Schema]string{}}
	if memoSize > 0 {
		c.memo = newMemo(memoSize)
	}
	for name, ref := range doc.Components.Schemas {
		if ref.Value != nil {
			c.names[ref.Value] = name
		}
	}
	return c
}

// compile compiles one schema.
func (c *compiler) compile(ref *openapi3.SchemaRef) (*checker, error) {
	if ref == nil || ref.Value == nil {
		return &checker{types: tAny, maxLength: -1, maxItems: -1, maxProps: -1}, nil
	}
	src := ref.Value
	if s, ok := c.components[src]; ok {
		return s, nil
	}
	s := &checker{maxLength: -1, maxItems: -1, maxProps: -1}
	if name, ok := c.names[src]; ok {
		// Registered before its parts are compiled, so that a schema that
		// refers to itself compiles.
		c.components[src] = s
		s.name = name
		s.memo, s.id = c.memo, int32(len(c.components))
	}
	if err := c.fill(s, src); err != nil {
		if s.name != "" {
			return nil, fmt.Errorf("schema %s: %w", s.name, err)
		}
		return nil, err
	}
	return s, nil
}

// dateTime is kin-openapi's date-time pattern, so that both validators
// agree; compiled once, however many schemas use the format.
var dateTime = sync.OnceValue(func() *dfa.Regexp { return dfa.MustCompile(openapi3.FormatOfStringDateTime) })

func checkDateTime(v string) error {
	if !dateTime().MatchString(v) {
		return errors.New("not an RFC 3339 date-time")
	}
	return nil
}

// supported are the keywords fill understands or may ignore (annotations).
var supported = map[string]bool{
	"type": true, "nullable": true, "enum": true, "format": true, "pattern": true,
	"minLength": true, "maxLength": true, "minimum": true, "maximum": true,
	"properties": true, "required": true, "additionalProperties": true, "minProperties": true, "maxProperties": true,
	"items": true, "minItems": true, "maxItems": true,
	"allOf": true, "anyOf": true, "oneOf": true, "not": true, "discriminator": true,
	"readOnly": true, "writeOnly": true,
	"description": true, "title": true, "example": true, "default": true,
}

func (c *compiler) fill(s *checker, src *openapi3.Schema) error {
	if err := checkKeywords(src); err != nil {
		return err
	}
	if src.Type == nil || len(src.Type.Slice()) == 0 {
		s.types = tAny
	}
	if src.Type != nil {
		for _, t := range src.Type.Slice() {
			switch t {
			case "null":
				s.types |= tNull
			case "boolean":
				s.types |= tBool
			case "integer":
				s.types |= tInt
			case "number":
				s.types |= tNumber | tInt
			case "string":
				s.types |= tString
			case "array":
				s.types |= tArray
			case "object":
				s.types |= tObject
			default:
				return fmt.Errorf("type %q", t)
			}
		}
	}
	s.nullable = src.Nullable
	s.enum = src.Enum
	for i, v := range s.enum {
		switch n := v.(type) {
		case int:
			s.enum[i] = float64(n)
		case int64:
			s.enum[i] = float64(n)
		case nil, bool, float64, string:
		default:
			return fmt.Errorf("enum value %v of type %T", v, v)
		}
	}
	switch src.Format {
	case "binary":
		s.binary = true
	case "", "password", "byte":
	case "date-time":
		s.format = checkDateTime
	default:
		f, ok := c.formats[src.Format]
		if !ok {
			return fmt.Errorf("format %q has no check", src.Format)
		}
		s.format = f
	}
	if src.Pattern != "" {
		p, err := dfa.Compile(src.Pattern)
		if err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
		s.pattern = p
	}
	s.minLength = int64(src.MinLength)
	if src.MaxLength != nil {
		s.maxLength = int64(*src.MaxLength)
	}
	s.minimum, s.maximum = src.Min, src.Max
	if src.ExclusiveMin.IsSet() || src.ExclusiveMax.IsSet() || src.MultipleOf != nil || src.UniqueItems {
		return errors.New("exclusiveMinimum, exclusiveMaximum, multipleOf and uniqueItems are not supported")
	}
	s.minProps = int(src.MinProps)
	if src.MaxProps != nil {
		s.maxProps = int(*src.MaxProps)
	}
	if len(src.Properties)+len(src.Required) > 0 {
		s.members = make(map[string]member, len(src.Properties))
	}
	for name, p := range src.Properties {
		ps, err := c.compile(p)
		if err != nil {
			return fmt.Errorf("property %s: %w", name, err)
		}
		s.members[name] = member{name: name, check: ps, bit: -1, forbidden: c.refuses(p)}
	}
	if len(src.Required) > 64 {
		return errors.New("more than 64 required members")
	}
	for _, r := range src.Required {
		// A member the direction refuses is not required in it.
		if c.refuses(src.Properties[r]) {
			continue
		}
		m, ok := s.members[r]
		if !ok {
			m = member{name: r} // required, but no property: any value
		}
		m.bit = int8(len(s.required))
		s.members[r] = m
		s.required = append(s.required, r)
	}
	ap := src.AdditionalProperties
	switch {
	case ap.Schema != nil:
		return errors.New("additionalProperties with a schema is not supported")
	case ap.Has != nil && !*ap.Has:
		s.closed = true
	}
	if src.Items != nil {
		it, err := c.compile(src.Items)
		if err != nil {
			return fmt.Errorf("items: %w", err)
		}
		s.items = it
	}
	s.minItems = int(src.MinItems)
	if src.MaxItems != nil {
		s.maxItems = int(*src.MaxItems)
	}
	for _, group := range []struct {
		dst  *[]*checker
		refs openapi3.SchemaRefs
	}{{&s.allOf, src.AllOf}, {&s.anyOf, src.AnyOf}, {&s.oneOf, src.OneOf}} {
		for _, r := range group.refs {
			sub, err := c.compile(r)
			if err != nil {
				return err
			}
			*group.dst = append(*group.dst, sub)
		}
	}
	if src.Not != nil {
		n, err := c.compile(src.Not)
		if err != nil {
			return fmt.Errorf("not: %w", err)
		}
		s.not = n
	}
	if d := src.Discriminator; d != nil {
		if len(d.Mapping) == 0 || len(s.oneOf) == 0 {
			return errors.New("a discriminator needs a mapping and oneOf")
		}
		s.discriminator = d.PropertyName
		s.mapping = map[string]*checker{}
		for value, ref := range d.Mapping {
			name := strings.TrimPrefix(ref.Ref, "#/components/schemas/")
			var target *checker
			for i, r := range src.OneOf {
				if strings.TrimPrefix(r.Ref, "#/components/schemas/") == name {
					target = s.oneOf[i]
				}
			}
			if target == nil {
				return fmt.Errorf("discriminator value %q maps to %q, which is not one of oneOf", value, ref.Ref)
			}
			s.mapping[value] = target
		}
	}
	return nil
}

// refuses says whether the compiler's direction refuses the member p:
// readOnly ones in requests, writeOnly ones in responses.
func (c *compiler) refuses(p *openapi3.SchemaRef) bool {
	return p != nil && p.Value != nil && ((c.dir == dirRequest && p.Value.ReadOnly) || (c.dir == dirResponse && p.Value.WriteOnly))
}

func checkKeywords(src *openapi3.Schema) error {
	raw, err := src.MarshalJSON()
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	var unknown []string
	for k := range m {
		if !supported[k] && !strings.HasPrefix(k, "x-") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("keywords not supported: %s", strings.Join(unknown, ", "))
	}
	return nil
}

// schemaError says where a value breaks its schema and how.
type schemaError struct {
	Pointer string
	Reason  string
}

func (e *schemaError) Error() string {
	if e.Pointer == "" {
		return e.Reason
	}
	return e.Pointer + ": " + e.Reason
}

func fail(path []string, format string, args ...any) error {
	return &schemaError{Pointer: pointer(path), Reason: fmt.Sprintf(format, args...)}
}

// pointer renders a path of member names and array indexes as a JSON
// Pointer (RFC 6901).
func pointer(path []string) string {
	var p jsontext.Pointer
	for _, tok := range path {
		p = p.AppendToken(tok)
	}
	return string(p)
}

// decoders are reused: a body is read by a few of them at once (one per
// level of allOf, anyOf, oneOf or remembered schema), each short-lived.
var decoders = sync.Pool{New: func() any { return &decoder{} }}

type decoder struct {
	r    bytes.Reader
	d    jsontext.Decoder
	path []string
}

// newDecoder reads raw. Duplicate member names are not looked for: request
// bodies have been checked for them already (they must be I-JSON), and
// responses come from encoders that do not write them.
func newDecoder(raw []byte) *decoder {
	d := decoders.Get().(*decoder)
	if d.path == nil {
		d.path = make([]string, 0, 16)
	}
	d.r.Reset(raw)
	d.d.Reset(&d.r, jsontext.AllowDuplicateNames(true))
	return d
}

func (d *decoder) release() { decoders.Put(d) }

// validate checks that body is one JSON value valid against s. With a
// memo, bytes found valid before are valid now, without reading them: the
// same answer to the same user is the commonest body there is.
//
// Only whole bodies are remembered, not the values inside them: a member
// remembered on its own would be read twice (once to find its bytes, once
// to check them) on every miss, and when more users are active than the
// memo holds nearly every lookup misses. Measured with 50,000 users
// against a memo of 65,536 (BenchmarkValidateUserEnvelope), remembering
// every component schema's values made a GET /me answer cost 25 µs to
// check, 13 µs with no memo at all.
func (s *checker) validate(body []byte) error { return s.validateAndRemember(body, true) }

// validateAndRemember is validate, with a body kept in the memo only when
// remember is set: an answer to a write carries the new version of what
// it wrote, and is never sent again.
func (s *checker) validateAndRemember(body []byte, remember bool) error {
	var k memoKey
	if s.memo != nil {
		if k = s.memo.key(s.id, body); s.memo.has(k) {
			return nil
		}
	}
	d := newDecoder(body)
	defer d.release()
	// Room for the path of a deep member: appending to it in check never
	// grows it. Siblings share the room in turn, which is safe because a
	// path is only read at once, by fail.
	if err := s.check(&d.d, d.path[:0]); err != nil {
		return err
	}
	if _, err := d.d.ReadToken(); err != io.EOF {
		return &schemaError{Reason: "more than one JSON value"}
	}
	if s.memo != nil && remember {
		s.memo.add(k)
	}
	return nil
}

// check reads the next value from dec and checks it.
func (s *checker) check(dec *jsontext.Decoder, path []string) error {
	if len(s.allOf)+len(s.anyOf)+len(s.oneOf) > 0 || s.not != nil {
		raw, err := dec.ReadValue()
		if err != nil {
			return fail(path, "malformed JSON: %v", err)
		}
		return s.checkRaw(raw, path)
	}
	return s.checkOwn(dec, path)
}

// checkRaw checks one whole value, given as its bytes.
func (s *checker) checkRaw(raw jsontext.Value, path []string) error {
	if err := s.checkCombinations(raw, path); err != nil {
		return err
	}
	// kin-openapi: null that passed allOf, anyOf or oneOf is valid, whatever
	// the schema's own type says.
	combined := len(s.allOf)+len(s.anyOf)+len(s.oneOf) > 0
	if !(combined && raw.Kind() == 'n') {
		d := newDecoder(raw)
		err := s.checkOwn(&d.d, path)
		d.release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *checker) checkCombinations(raw jsontext.Value, path []string) error {
	if raw.Kind() == 'n' && s.nullable {
		return nil // kin-openapi: a nullable schema takes null before anything else
	}
	if s.not != nil {
		if s.not.checkRaw(raw, path) == nil {
			return fail(path, "must not match the schema under not")
		}
	}
	if len(s.oneOf) > 0 {
		candidates := s.oneOf
		if s.discriminator != "" && raw.Kind() == '{' {
			target, err := s.discriminate(raw, path)
			if err != nil {
				return err
			}
			candidates = []*checker{target}
		}
		matched := 0
		var firstErr error
		for _, sub := range candidates {
			if err := sub.checkRaw(raw, path); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			matched++
		}
		if matched != 1 {
			if matched == 0 {
				return firstErr
			}
			return fail(path, "matches more than one schema of oneOf")
		}
	}
	if len(s.anyOf) > 0 {
		var firstErr error
		ok := false
		for _, sub := range s.anyOf {
			if err := sub.checkRaw(raw, path); err == nil {
				ok = true
				break
			} else if firstErr == nil {
				firstErr = err
			}
		}
		if !ok {
			return firstErr
		}
	}
	for _, sub := range s.allOf {
		if err := sub.checkRaw(raw, path); err != nil {
			return err
		}
	}
	return nil
}

// discriminate picks the oneOf schema the discriminator member names.
func (s *checker) discriminate(raw jsontext.Value, path []string) (*checker, error) {
	d := newDecoder(raw)
	defer d.release()
	dec := &d.d
	if _, err := dec.ReadToken(); err != nil {
		return nil, fail(path, "malformed JSON: %v", err)
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, fail(path, "malformed JSON: %v", err)
		}
		if name.String() != s.discriminator {
			if err := dec.SkipValue(); err != nil {
				return nil, fail(path, "malformed JSON: %v", err)
			}
			continue
		}
		v, err := dec.ReadToken()
		if err != nil {
			return nil, fail(path, "malformed JSON: %v", err)
		}
		if v.Kind() != '"' {
			return nil, fail(append(path, s.discriminator), "must be a string")
		}
		target, ok := s.mapping[v.String()]
		if !ok {
			return nil, fail(append(path, s.discriminator), "is not one of the mapped values")
		}
		return target, nil
	}
	return nil, fail(append(path, s.discriminator), "is missing")
}

// checkOwn reads the next value from dec and checks it against s's own
// keywords (not its combinations).
func (s *checker) checkOwn(dec *jsontext.Decoder, path []string) error {
	switch k := dec.PeekKind(); k {
	case '{':
		return s.checkObject(dec, path)
	case '[':
		return s.checkArray(dec, path)
	case 0:
		_, err := dec.ReadToken()
		return fail(path, "malformed JSON: %v", err)
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return fail(path, "malformed JSON: %v", err)
	}
	switch tok.Kind() {
	case 'n':
		if s.nullable {
			return nil // kin-openapi: before enum or anything else
		}
		if s.types&tNull == 0 {
			return fail(path, "must not be null")
		}
		return s.checkEnum(nil, path)
	case 't', 'f':
		if s.types&tBool == 0 {
			return fail(path, "must not be a boolean")
		}
		return s.checkEnum(tok.Bool(), path)
	case '"':
		return s.checkString(tok.String(), path)
	case '0':
		return s.checkNumber(tok.String(), path)
	}
	return fail(path, "unexpected token %v", tok.Kind())
}

func (s *checker) checkEnum(v any, path []string) error {
	if len(s.enum) == 0 || slices.Contains(s.enum, v) {
		return nil
	}
	return fail(path, "is not one of the allowed values")
}

func (s *checker) checkString(v string, path []string) error {
	if s.types&tString == 0 {
		return fail(path, "must not be a string")
	}
	if err := s.checkEnum(v, path); err != nil {
		return err
	}
	if s.minLength > 0 || s.maxLength >= 0 {
		n := int64(utf8.RuneCountInString(v))
		if n < s.minLength {
			return fail(path, "is shorter than %d characters", s.minLength)
		}
		if s.maxLength >= 0 && n > s.maxLength {
			return fail(path, "is longer than %d characters", s.maxLength)
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(v) {
		return fail(path, "does not match %q", s.pattern.String())
	}
	if s.format != nil {
		if err := s.format(v); err != nil {
			return fail(path, "format: %v", err)
		}
	}
	return nil
}

func (s *checker) checkNumber(raw string, path []string) error {
	if s.types&(tInt|tNumber) == 0 {
		return fail(path, "must not be a number")
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fail(path, "malformed number")
	}
	if math.IsInf(f, 0) {
		return fail(path, "is out of range") // kin-openapi refuses infinities whatever the schema
	}
	if s.types&tNumber == 0 && f != math.Trunc(f) {
		return fail(path, "must be an integer")
	}
	if err := s.checkEnum(f, path); err != nil {
		return err
	}
	if s.minimum != nil && f < *s.minimum {
		return fail(path, "is less than %v", *s.minimum)
	}
	if s.maximum != nil && f > *s.maximum {
		return fail(path, "is more than %v", *s.maximum)
	}
	return nil
}

func (s *checker) checkArray(dec *jsontext.Decoder, path []string) error {
	if s.types&tArray == 0 {
		return fail(path, "must not be an array")
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail(path, "malformed JSON: %v", err)
	}
	n := 0
	for dec.PeekKind() != ']' {
		if dec.PeekKind() == 0 {
			_, err := dec.ReadToken()
			return fail(path, "malformed JSON: %v", err)
		}
		var err error
		if s.items != nil {
			err = s.items.check(dec, append(path, strconv.Itoa(n)))
		} else {
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
		n++
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail(path, "malformed JSON: %v", err)
	}
	if n < s.minItems {
		return fail(path, "has fewer than %d items", s.minItems)
	}
	if s.maxItems >= 0 && n > s.maxItems {
		return fail(path, "has more than %d items", s.maxItems)
	}
	if len(s.enum) > 0 {
		return fail(path, "enums of arrays are not supported")
	}
	return nil
}

func (s *checker) checkObject(dec *jsontext.Decoder, path []string) error {
	if s.types&tObject == 0 {
		return fail(path, "must not be an object")
	}
	if len(s.enum) > 0 {
		return fail(path, "is not one of the allowed values")
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail(path, "malformed JSON: %v", err)
	}
	var seen uint64 // bit i: required member i was there
	n := 0
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue() // the member's name, quoted
		if err != nil {
			return fail(path, "malformed JSON: %v", err)
		}
		n++
		// The lookup converts the name's bytes without a copy; a name
		// with escapes is decoded first.
		var m member
		var known bool
		if bytes.IndexByte(raw, '\\') < 0 {
			m, known = s.members[string(raw[1:len(raw)-1])]
		} else {
			m, known = s.members[decodeName(raw)]
		}
		if known && m.bit >= 0 {
			seen |= 1 << m.bit
		}
		if m.forbidden && dec.PeekKind() != 'n' {
			return fail(append(path, m.name), "may not be sent in this direction")
		}
		switch {
		case known && m.check != nil:
			err = m.check.check(dec, append(path, m.name))
		case known && !s.closed:
			err = dec.SkipValue() // required, without a schema of its own
		case s.closed:
			return fail(append(path, decodeName(raw)), "is not a member of this object")
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return fail(path, "malformed JSON: %v", err)
	}
	if n < s.minProps {
		return fail(path, "has fewer than %d members", s.minProps)
	}
	if s.maxProps >= 0 && n > s.maxProps {
		return fail(path, "has more than %d members", s.maxProps)
	}
	if want := uint64(1)<<len(s.required) - 1; seen&want != want {
		for i, r := range s.required {
			if seen&(1<<i) == 0 {
				return fail(append(path, r), "is required")
			}
		}
	}
	return nil
}

// memo remembers bodies found valid against component schemas: one
// bounded LRU cache shared by every schema of a compiler, so that its room
// goes to whichever bodies are seen most (a user's GET /me answer is the
// same bytes every time).
//
// It keeps two 64-bit hashes of each value's bytes, with seeds drawn at
// random when it is made, rather than the bytes: 16 bytes a value instead
// of a copy of it (an answer to PATCH /me, which is never seen twice,
// would otherwise leave a kilobyte behind each time). Two different values
// share a key with a chance of about 2^-128 per pair, and nobody outside
// the process can aim for that, not knowing the seeds.
type memo struct {
	seedA, seedB maphash.Seed
	seen         *lru.Cache[memoKey, struct{}]
}

// memoKey names a value of one schema: the schema's number in its
// compiler, and the two hashes of the value's bytes.
type memoKey struct {
	schema int32
	a, b   uint64
}

func newMemo(size int) *memo {
	seen, err := lru.New[memoKey, struct{}](size)
	if err != nil {
		panic(err) // only for a size below 1, which newCompiler never asks for
	}
	return &memo{seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(), seen: seen}
}

func (m *memo) key(schema int32, raw []byte) memoKey {
	return memoKey{schema: schema, a: maphash.Bytes(m.seedA, raw), b: maphash.Bytes(m.seedB, raw)}
}

// has reports whether the value was found valid, and marks it as just used.
func (m *memo) has(k memoKey) bool {
	_, ok := m.seen.Get(k)
	return ok
}

func (m *memo) add(k memoKey) { m.seen.Add(k, struct{}{}) }

// validateText checks a header value: as a string against a string schema,
// or as a number against an integer or number schema, the way an OpenAPI
// header of style simple is read.
func (s *checker) validateText(v string) error {
	if s.types&tString != 0 {
		return s.checkString(v, nil)
	}
	if s.types&(tInt|tNumber) != 0 {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fail(nil, "is not a number")
		}
		return s.checkNumber(v, nil)
	}
	return fail(nil, "headers of this schema's type are not supported")
}

// member is what an object's checker knows of one member's name.
type member struct {
	name  string   // the name, for the path of a problem
	check *checker // nil: required, but not among the properties
	bit   int8     // its index in required, or -1
	// forbidden is set for a member the direction refuses (readOnly in
	// requests, writeOnly in responses).
	forbidden bool
}

// decodeName is the value of a JSON string that names a member.
func decodeName(raw jsontext.Value) string {
	var name string
	_ = json.Unmarshal(raw, &name) // raw has been read as a string token
	return name
}
