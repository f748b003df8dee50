package jsonread

import (
	"errors"
	"fmt"
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
	last byte // the last structural token: '{', '[', ':', or 'v' after a value
	buf  []byte
}

// New returns a Reader of b.
func New(b []byte) *Reader { return &Reader{b: b, last: 'v'} }

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

func (r *Reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
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
	switch r.last {
	case '{', '[':
		return true
	case 'v':
		if c == ',' {
			r.i++
			r.last = ','
			return true
		}
	}
	r.fail("want ',' or %q, found %q", close, c)
	return false
}

// Key reads an object member's name and the colon after it. The bytes are valid until the
// next read.
func (r *Reader) Key() []byte {
	k := r.str()
	if r.peek() != ':' {
		r.fail("want ':' after an object key")
		return nil
	}
	r.i++
	r.last = ':'
	return k
}

// String reads a string; null reads as "".
func (r *Reader) String() string {
	if r.Null() {
		return ""
	}
	s := r.str()
	r.last = 'v'
	return string(s)
}

// str reads a string token, decoding escapes into r.buf when there are any.
func (r *Reader) str() []byte {
	if c := r.peek(); c != '"' {
		if r.err == nil {
			r.fail("want a string, found %q", c)
		}
		return nil
	}
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return s
		case c == '\\' || c >= utf8.RuneSelf:
			return r.slowStr(start)
		case c < 0x20:
			r.fail("control character in string")
			return nil
		}
		r.i++
	}
	r.err = errEOF
	return nil
}

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
			buf = append(buf, c)
			r.i++
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
	if r.b[r.i] == '-' {
		r.i++
	}
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	intStart := r.i
	if n := digits(); n == 0 || (n > 1 && r.b[intStart] == '0') {
		r.fail("invalid number")
		return nil
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			r.fail("invalid number")
			return nil
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			r.fail("invalid number")
			return nil
		}
	}
	r.last = 'v'
	return r.b[start:r.i]
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

// Skip reads any value and returns its bytes (a subslice of the input).
func (r *Reader) Skip() []byte {
	c := r.peek()
	if r.err != nil {
		return nil
	}
	start := r.i
	switch {
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		r.Begin(c)
		for r.Next(close) {
			if c == '{' {
				r.Key()
			}
			r.Skip()
		}
	case c == '"':
		r.str()
		r.last = 'v'
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	default:
		r.Number()
	}
	if r.err != nil {
		return nil
	}
	return r.b[start:r.i]
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
		k := string(r.Key())
		m[k] = r.String()
	}
	return m
}

// Fail records an error found by the caller (a value of the wrong shape), unless there is
// one already.
func (r *Reader) Fail(msg string) { r.fail("%s", msg) }
