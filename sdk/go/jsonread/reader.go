package jsonread

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Reader reads the JSON text b. Reads after the first error do nothing and return zero
// values; Err reports the error.
//
// Objects and arrays are read with Begin and Next:
//
//	if r.Begin('{') {
//		for r.Next('}') {
//			switch string(r.Key()) {
//			case "name":
//				name = r.String()
//			default:
//				r.Skip()
//			}
//		}
//	}
type Reader struct {
	b    []byte
	i    int
	err  error
	last byte // the last structural token: '{', '[', ',', ':', or 'v' after a value
	buf  []byte
	// The name of the member Next read, until Key answers it, and its offset in b (-1
	// when it had escapes, and so is in buf).
	key    []byte
	keyAt  int
	hasKey bool
	// For NewShared: strings are cut from s, a copy of b made on the first one.
	shared bool
	s      string
}

// New returns a Reader of b.
func New(b []byte) *Reader { return &Reader{b: b, last: 'v'} }

// NewShared returns a Reader of b whose String, KeyString, StringMap and Strings cut the
// strings they return from one copy of b, made when the first is read, instead of
// allocating one each: for a decoder that keeps many of an input's strings (an admission
// request's names and kinds, a pod's resource names), as in Go's wasm code an allocation
// costs as much as reading a few dozen bytes. Any of the strings keeps the whole copy
// alive, which suits an input little bigger than what is kept of it, or kept as long
// anyway (an admission request, whose raw objects are slices of it).
func NewShared(b []byte) *Reader { return &Reader{b: b, last: 'v', shared: true} }

// cut is the string of b[at:at+n], from the shared copy when there is one.
func (r *Reader) cut(at, n int) string {
	if !r.shared {
		return string(r.b[at : at+n])
	}
	if r.s == "" {
		r.s = string(r.b)
	}
	return r.s[at : at+n]
}

// Err returns the first error.
func (r *Reader) Err() error { return r.err }

// End checks that nothing but white space follows the value read.
func (r *Reader) End() error {
	r.ws()
	if r.err == nil && r.i < len(r.b) {
		r.fail("data after the value")
	}
	return r.err
}

func (r *Reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: %s", r.i, fmt.Sprintf(format, args...))
	}
}

var errEOF = errors.New("unexpected end of JSON input")

func (r *Reader) ws() { r.i = skipSpace(r.b, r.i) }

// skipSpace is the index of the first byte at or after i that is not white space.
//
// The scanning functions work on local copies of the slice and index rather than on the
// Reader's fields: Go's wasm code keeps a field in memory, loading and storing it on every
// iteration, while locals live in wasm locals.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// peek returns the next non-space byte, 0 at the end or after an error.
func (r *Reader) peek() byte {
	if r.err != nil {
		return 0
	}
	r.ws()
	if r.i >= len(r.b) {
		r.err = errEOF
		return 0
	}
	return r.b[r.i]
}

func (r *Reader) literal(lit string) bool {
	if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
		r.i += len(lit)
		r.last = 'v'
		return true
	}
	r.fail("invalid literal")
	return false
}

// Null consumes a null and reports whether it did.
func (r *Reader) Null() bool {
	if r.peek() == 'n' {
		return r.literal("null")
	}
	return false
}

// Begin starts an object (open '{') or array ('['): it reports whether one starts, false for
// null (consumed) or anything else (an error).
func (r *Reader) Begin(open byte) bool {
	switch c := r.peek(); {
	case c == open:
		r.i++
		r.last = open
		return true
	case c == 'n':
		r.literal("null")
	case r.err == nil:
		r.fail("want %q, found %q", open, c)
	}
	return false
}

// Next moves to the next member of the object or element of the array being read, whose
// closing byte is close; it reports false (having consumed close) at its end or on error.
// In an object it reads the member's name and colon too, which Key then answers.
func (r *Reader) Next(close byte) bool {
	c := r.peek()
	if r.err != nil {
		return false
	}
	if c == close && (r.last == '{' || r.last == '[' || r.last == 'v') {
		r.i++
		r.last = 'v'
		return false
	}
	switch {
	case r.last == 'v' && c == ',':
		r.i++
	case r.last != '{' && r.last != '[':
		r.fail("want ',' or %q, found %q", close, c)
		return false
	}
	if close != '}' {
		r.last = ','
		return true
	}
	// Reading the name here rather than in Key saves a call and a scan for the next byte
	// per member, which in Go's wasm code is a good part of reading one.
	r.key, r.hasKey = r.readKey(), true
	return r.err == nil
}

// Key answers the name of the object member Next moved to (or, elsewhere, reads a name and
// the colon after it). The bytes are valid until the next read.
func (r *Reader) Key() []byte {
	if r.hasKey {
		r.hasKey = false
		return r.key
	}
	return r.readKey()
}

// KeyString is Key as a string: for a name kept as a map key.
func (r *Reader) KeyString() string {
	k := r.Key()
	if r.keyAt < 0 {
		return string(k)
	}
	return r.cut(r.keyAt, len(k))
}

func (r *Reader) readKey() []byte {
	k, at := r.str()
	if r.peek() != ':' {
		r.fail("want ':' after an object key")
		return nil
	}
	r.i++
	r.last = ':'
	r.keyAt = at
	return k
}

// String reads a string; null reads as "".
func (r *Reader) String() string {
	if r.Null() {
		return ""
	}
	s, at := r.str()
	r.last = 'v'
	if at < 0 || len(s) == 0 {
		return string(s)
	}
	return r.cut(at, len(s))
}

// str reads a string token, decoding escapes into r.buf when there are any: its bytes and
// their offset in r.b, or -1 when they are in r.buf.
func (r *Reader) str() ([]byte, int) {
	if c := r.peek(); c != '"' {
		if r.err == nil {
			r.fail("want a string, found %q", c)
		}
		return nil, -1
	}
	b, start := r.b, r.i+1
	i := plainEnd(b, start)
	if i < len(b) && b[i] == '"' {
		r.i = i + 1
		return b[start:i], start
	}
	r.i = i
	return r.slowStr(start), -1
}

// plainEnd is the index of the first byte at or after i that a string cannot simply
// contain — a quote, a backslash, a control character or a non-ASCII byte — or len(b).
func plainEnd(b []byte, i int) int { return stringEnd(b, i, true) }

// stringEnd is the index of the first quote, backslash or control character at or after
// i (and non-ASCII byte, if nonASCII), or len(b).
//
// It reads eight bytes at a time and finds the first such byte among them with
// arithmetic. In Go's wasm code every branch goes through the function's dispatch loop,
// so a loop testing each byte costs about 8 ns a byte; bytes.IndexByte is assembly but a
// call costs about 60 ns, more than most strings of Kubernetes JSON take.
func stringEnd(b []byte, i int, nonASCII bool) int {
	var high uint64
	if nonASCII {
		high = ^uint64(0)
	}
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := special(x) | x&high&highBits; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || (nonASCII && c >= utf8.RuneSelf) {
			break
		}
	}
	return i
}

const (
	lowBits  = 0x0101010101010101 // each byte's lowest bit
	highBits = 0x8080808080808080 // each byte's highest bit
)

// special has the high bit set of each byte of x that is a quote, a backslash or a control
// character. A byte above the first such one may be flagged too (a borrow carries into
// it), so only the lowest flag counts.
func special(x uint64) uint64 {
	quote, backslash := x^(lowBits*'"'), x^(lowBits*'\\')
	return (zero(quote) | zero(backslash) | (x-lowBits*0x20)&^x) & highBits
}

// zero has the high bit set of each zero byte of x (and possibly of bytes above the first).
func zero(x uint64) uint64 { return (x - lowBits) &^ x }

// slowStr decodes the rest of a string starting at start, r.i being at its first byte that
// is not plain (see plainEnd).
func (r *Reader) slowStr(start int) []byte {
	buf := append(r.buf[:0], r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			r.buf = buf
			return buf
		case c < 0x20:
			r.fail("control character in string")
			return nil
		case c == '\\':
			if r.i+1 >= len(r.b) {
				r.err = errEOF
				return nil
			}
			e := r.b[r.i+1]
			r.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				ru := r.hex4()
				if utf16.IsSurrogate(ru) {
					// A pair decodes to one rune; a lone half is U+FFFD, as in encoding/json.
					if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
						save := r.i
						r.i += 2
						if dec := utf16.DecodeRune(ru, r.hex4()); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						r.i = save
					}
					ru = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, ru)
			default:
				r.fail("invalid escape \\%c", e)
				return nil
			}
			if r.err != nil {
				return nil
			}
		case c < utf8.RuneSelf:
			// A run of plain bytes is copied at once.
			end := plainEnd(r.b, r.i)
			buf = append(buf, r.b[r.i:end]...)
			r.i = end
		default:
			ru, size := utf8.DecodeRune(r.b[r.i:])
			if ru == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, r.b[r.i:r.i+size]...)
			}
			r.i += size
		}
	}
	r.err = errEOF
	return nil
}

func (r *Reader) hex4() rune {
	if len(r.b)-r.i < 4 {
		r.err = errEOF
		return 0
	}
	var v rune
	for _, c := range r.b[r.i : r.i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			v |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= rune(c - 'A' + 10)
		default:
			r.fail("invalid \\u escape")
			return 0
		}
	}
	r.i += 4
	return v
}

// Bool reads true or false; null reads as false.
func (r *Reader) Bool() bool {
	switch r.peek() {
	case 't':
		return r.literal("true")
	case 'f':
		r.literal("false")
	case 'n':
		r.literal("null")
	default:
		if r.err == nil {
			r.fail("want a boolean")
		}
	}
	return false
}

// Number reads a number's text.
func (r *Reader) Number() []byte {
	if c := r.peek(); c != '-' && (c < '0' || c > '9') {
		if r.err == nil {
			r.fail("want a number, found %q", c)
		}
		return nil
	}
	start := r.i
	end := numberEnd(r.b, start)
	if end < 0 {
		r.fail("invalid number")
		return nil
	}
	r.i = end
	r.last = 'v'
	return r.b[start:end]
}

// numberEnd is the index just past the number starting at i, or -1 if the bytes there are
// not one: JSON's grammar, with no leading zeros and digits on both sides of a point.
func numberEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	i = skipDigits(b, i)
	if n := i - start; n == 0 || (n > 1 && b[start] == '0') {
		return -1
	}
	if i < len(b) && b[i] == '.' {
		start = i + 1
		if i = skipDigits(b, start); i == start {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start = i
		if i = skipDigits(b, start); i == start {
			return -1
		}
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Int reads an integer of bits bits; null reads as 0.
func (r *Reader) Int(bits int) int64 {
	if r.Null() {
		return 0
	}
	n := r.Number()
	if r.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, bits)
	if err != nil {
		r.fail("number %s is not an int%d", n, bits)
		return 0
	}
	return v
}

// Uint reads an unsigned integer of bits bits; null reads as 0.
func (r *Reader) Uint(bits int) uint64 {
	if r.Null() {
		return 0
	}
	n := r.Number()
	if r.err != nil {
		return 0
	}
	v, err := strconv.ParseUint(string(n), 10, bits)
	if err != nil {
		r.fail("number %s is not a uint%d", n, bits)
		return 0
	}
	return v
}

// Skip reads any value and returns its bytes (a subslice of the input), checking that it
// is well-formed JSON.
func (r *Reader) Skip() []byte {
	if r.peek(); r.err != nil {
		return nil
	}
	start := r.i
	if !r.skipValue() {
		return nil
	}
	r.last = 'v'
	return r.b[start:r.i]
}

// skipValue moves r.i past the value starting there, checking its syntax but decoding
// nothing, and reports whether it was well-formed (recording the error if not).
//
// It is one loop over the bytes with its own stack of the objects and arrays it is in,
// rather than a walk through Begin, Next and Key: policies skip most of every object they
// are handed, and in Go's wasm code a call costs about 25 ns. So white space and
// structure are scanned inline, and strings (keys and values at the same place) with
// stringEnd up to their first escape, if any; only escapes and numbers go to other
// helpers. Those answer the index after what they read and whether it was well-formed;
// when not, the index is where the problem is.
func (r *Reader) skipValue() bool {
	b, i := r.b, r.i
	var closers [32]byte
	open := closers[:0] // the closing byte of each object or array the value is in
	key := false        // whether a member's name comes next, rather than a value
	ok := true
	for {
		if i = skipSpace(b, i); i >= len(b) {
			return r.skipFailed(i, "")
		}
		switch c := b[i]; {
		case c == '"':
			if i = stringEnd(b, i+1, false); i < len(b) && b[i] == '"' {
				i++
			} else if i, ok = skipString(b, i); !ok {
				return r.skipFailed(i, "invalid string")
			}
			if key {
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return r.skipFailed(i, "want ':' after an object key")
				}
				i++
				key = false
				continue // at the member's value
			}
		case key:
			return r.skipFailed(i, "want an object key")
		case c == '{' || c == '[':
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			if i = skipSpace(b, i+1); i < len(b) && b[i] == close {
				i++ // empty: a whole value
				break
			}
			open = append(open, close)
			key = close == '}'
			continue // at the first member or element
		case c == 't':
			if i, ok = skipLiteral(b, i, "true"); !ok {
				return r.skipFailed(i, "invalid literal")
			}
		case c == 'f':
			if i, ok = skipLiteral(b, i, "false"); !ok {
				return r.skipFailed(i, "invalid literal")
			}
		case c == 'n':
			if i, ok = skipLiteral(b, i, "null"); !ok {
				return r.skipFailed(i, "invalid literal")
			}
		default:
			end := numberEnd(b, i)
			if end < 0 {
				return r.skipFailed(i, "invalid value")
			}
			i = end
		}
		// After a value: close what ends here, then move on to the next member or element.
		for {
			if len(open) == 0 {
				r.i = i
				return true
			}
			if i = skipSpace(b, i); i >= len(b) {
				return r.skipFailed(i, "")
			}
			close := open[len(open)-1]
			if b[i] == close {
				open = open[:len(open)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return r.skipFailed(i, fmt.Sprintf("want ',' or %q, found %q", close, b[i]))
			}
			i++
			key = close == '}'
			break
		}
	}
}

// skipFailed records skipValue's error at offset i: msg, or the end of the input when i is
// at it.
func (r *Reader) skipFailed(i int, msg string) bool {
	r.i = i
	if i >= len(r.b) {
		if r.err == nil {
			r.err = errEOF
		}
	} else {
		r.fail("%s", msg)
	}
	return false
}

// skipString moves on from i, inside a string, past its closing quote, checking its
// escapes and refusing control characters. Non-ASCII bytes pass unchecked, as
// encoding/json lets them (it decodes invalid UTF-8 as U+FFFD).
func skipString(b []byte, i int) (int, bool) {
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			var ok bool
			if i, ok = skipEscape(b, i); !ok {
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++
		}
	}
	return i, false
}

// skipEscape moves past the escape sequence whose backslash is at i.
func skipEscape(b []byte, i int) (int, bool) {
	if i+1 >= len(b) {
		return len(b), false
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, true
	case 'u':
		if i+6 > len(b) {
			return len(b), false
		}
		for _, c := range b[i+2 : i+6] {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return i, false
			}
		}
		return i + 6, true
	}
	return i, false
}

// skipLiteral moves past lit at i.
func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// Raw reads any value and returns its bytes, or nil for null.
func (r *Reader) Raw() []byte {
	if r.Null() {
		return nil
	}
	return r.Skip()
}

// StringMap reads an object of strings into a new map; null reads as nil.
func (r *Reader) StringMap() map[string]string {
	if !r.Begin('{') {
		return nil
	}
	m := map[string]string{}
	for r.Next('}') {
		k := r.KeyString()
		m[k] = r.String()
	}
	return m
}

// Strings reads an array of strings; null reads as nil and [] as empty, as encoding/json
// decodes them.
func (r *Reader) Strings() []string {
	return List(r, func(r *Reader, s *string) { *s = r.String() })
}

// List reads an array, each element into a new T with read; null reads as nil and [] as
// empty, as encoding/json decodes them.
func List[T any](r *Reader, read func(*Reader, *T)) []T {
	if !r.Begin('[') {
		return nil
	}
	out := []T{}
	for r.Next(']') {
		var v T
		read(r, &v)
		out = append(out, v)
	}
	return out
}

// Optional reads a value into a new T with read; null reads as nil, as encoding/json
// decodes a pointer.
func Optional[T any](r *Reader, read func(*Reader, *T)) *T {
	if r.Null() {
		return nil
	}
	v := new(T)
	read(r, v)
	return v
}

// OptionalBool reads a boolean; null reads as nil.
func (r *Reader) OptionalBool() *bool {
	return Optional(r, func(r *Reader, b *bool) { *b = r.Bool() })
}

// OptionalInt reads an integer of bits bits; null reads as nil.
func (r *Reader) OptionalInt(bits int) *int64 {
	return Optional(r, func(r *Reader, n *int64) { *n = r.Int(bits) })
}

// Member reads an object for its member key alone, with read, skipping the others; null
// reads as no member. It is how a decoder reaches into a small object for the one value it
// wants ({"seccompProfile": {"type": "RuntimeDefault"}}, a metadata's name).
func (r *Reader) Member(key string, read func(*Reader)) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		if string(r.Key()) == key {
			read(r)
		} else {
			r.Skip()
		}
	}
}

// StringMember reads an object for its string member key alone (see Member): "" when it
// has none.
func (r *Reader) StringMember(key string) string {
	v := ""
	r.Member(key, func(r *Reader) { v = r.String() })
	return v
}

// Fail records an error found by the caller (a value of the wrong shape), unless there is
// one already.
func (r *Reader) Fail(msg string) { r.fail("%s", msg) }
