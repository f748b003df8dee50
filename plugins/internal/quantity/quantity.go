// Package quantity is an exact Kubernetes resource quantity ("500m", "1.5Gi", "2", "1e3"):
// parsed, added, compared and written in kube's canonical form, so that what a controller
// writes back ("used": {"cpu": "1500m", "memory": "3Gi"}) reads exactly as
// kube-controller-manager's would. apimachinery's resource.Quantity would do the same but
// makes the wasm module several megabytes bigger.
//
// A quantity is exact to the nano-unit (10^-9, kube's finest precision; finer input rounds
// up, as kube's does), and petabytes of storage add up without overflow. It remembers the
// format it was written in: a value written with a binary suffix ("Mi") is written back
// with one when it is a whole multiple of 1024.
//
// The quantities pods and quotas carry ("500m", "64Gi") are whole numbers of thousandths
// well within an int64, and those are held and computed in int64 (milli.go); anything
// else falls back to math/big, which the policies using this package pay dearly for in
// wasm (a parse or a String took 15–20 µs there, the int64 forms well under one).
package quantity

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/tugboat-io/tug/sdk/go/jsonread"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
)

// Format is how a quantity is written: the family of suffix it was parsed with.
type Format int

// Formats, as apimachinery's.
const (
	DecimalSI       Format = iota // "500m", "2", "3k", "1G"
	BinarySI                      // "512Ki", "1Gi"
	DecimalExponent               // "1e3", "5e-3"
)

// ErrSyntax is the error of a string that is not a quantity.
var ErrSyntax = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

// Quantity is an exact resource quantity. The zero value is 0; quantities are values:
// operations return new ones and never change their operands.
type Quantity struct {
	// The value is milli thousandths when nano is nil, else nano nano-units. A value that
	// milli can hold is always held there (see exact), so that the int64 paths serve
	// whenever they can.
	milli  int64
	nano   *big.Int
	format Format
}

var (
	nanoPerUnit  = big.NewInt(1_000_000_000)
	nanoPerMilli = big.NewInt(1_000_000)
	ten          = big.NewInt(10)
	kibi         = big.NewInt(1024)
)

// exact is the quantity of n nano-units in format f, in its int64 form when it has one.
func exact(n *big.Int, f Format) Quantity {
	m, r := new(big.Int).QuoRem(n, nanoPerMilli, new(big.Int))
	if r.Sign() == 0 && m.IsInt64() {
		return Quantity{milli: m.Int64(), format: f}
	}
	return Quantity{nano: n, format: f}
}

// nanos is q in nano-units, for the math/big paths; callers must not change it.
func (q Quantity) nanos() *big.Int {
	if q.nano != nil {
		return q.nano
	}
	v := big.NewInt(q.milli)
	return v.Mul(v, nanoPerMilli)
}

// decimalExp is each decimal suffix's power of ten.
var decimalExp = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

// binaryExp is each binary suffix's power of 1024.
var binaryExp = map[string]int{"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}

// New is n whole units in the given format.
func New(n int64, f Format) Quantity {
	if m, ok := mulPos(n, 1000); ok {
		return Quantity{milli: m, format: f}
	}
	v := big.NewInt(n)
	return exact(v.Mul(v, nanoPerUnit), f)
}

// Parse parses a quantity as Kubernetes writes them: a signed decimal number and a suffix,
// binary (Ki … Ei), decimal (n, u, m, k, M … E) or an exponent (e3, E-2).
func Parse(s string) (Quantity, error) {
	if q, ok := parseMilli(s); ok {
		return q, nil
	}
	n, f, err := parseNano(s)
	if err != nil {
		return Quantity{}, err
	}
	return exact(n, f), nil
}

// parseNano is Parse in math/big: the value in nano-units and the format.
func parseNano(s string) (*big.Int, Format, error) {
	num, suffix := splitNumber(s)
	if num == "" {
		return nil, 0, fmt.Errorf("quantity %q: %w", s, ErrSyntax)
	}
	neg := false
	switch num[0] {
	case '-':
		neg = true
		num = num[1:]
	case '+':
		num = num[1:]
	}
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" && frac == "" {
		return nil, 0, fmt.Errorf("quantity %q: %w", s, ErrSyntax)
	}
	mant, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return nil, 0, fmt.Errorf("quantity %q: %w", s, ErrSyntax)
	}
	// value = mant × 10^exp10 × 1024^exp1024
	exp10, exp1024 := -len(frac), 0
	format := DecimalSI
	if e, ok := decimalExp[suffix]; ok {
		exp10 += e
	} else if e, ok := binaryExp[suffix]; ok {
		exp1024, format = e, BinarySI
	} else if suffix[0] == 'e' || suffix[0] == 'E' {
		e, err := strconv.Atoi(suffix[1:])
		// Bounded so that a hostile exponent cannot make a huge number.
		if err != nil || e < -1000 || e > 1000 {
			return nil, 0, fmt.Errorf("quantity %q: %w", s, ErrSyntax)
		}
		exp10, format = exp10+e, DecimalExponent
	} else {
		return nil, 0, fmt.Errorf("quantity %q: unknown suffix %q: %w", s, suffix, ErrSyntax)
	}
	if exp1024 > 0 {
		mant.Mul(mant, new(big.Int).Exp(kibi, big.NewInt(int64(exp1024)), nil))
	}
	// To nano-units, rounding anything finer up (away from zero), as kube does.
	if shift := exp10 + 9; shift >= 0 {
		mant.Mul(mant, pow10(shift))
	} else {
		q, r := new(big.Int).QuoRem(mant, pow10(-shift), new(big.Int))
		if r.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		mant = q
	}
	if neg {
		mant.Neg(mant)
	}
	return mant, format, nil
}

// MustParse is Parse for literals known to be valid; it panics on an error.
func MustParse(s string) Quantity {
	q, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return q
}

// splitNumber splits s into its signed number and its suffix.
func splitNumber(s string) (num, suffix string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, point := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if digits == 0 {
		return "", ""
	}
	return s[:i], s[i:]
}

func pow10(n int) *big.Int { return new(big.Int).Exp(ten, big.NewInt(int64(n)), nil) }

// Format is the format q is written in.
func (q Quantity) Format() Format { return q.format }

// IsZero reports whether q is 0.
func (q Quantity) IsZero() bool { return q.Sign() == 0 }

// Sign is -1, 0 or 1 as q is negative, zero or positive.
func (q Quantity) Sign() int {
	switch {
	case q.nano != nil:
		return q.nano.Sign()
	case q.milli < 0:
		return -1
	case q.milli > 0:
		return 1
	}
	return 0
}

// Cmp compares q and o: -1, 0 or 1.
func (q Quantity) Cmp(o Quantity) int {
	if q.nano == nil && o.nano == nil {
		return cmp.Compare(q.milli, o.milli)
	}
	return q.nanos().Cmp(o.nanos())
}

// Add is q+o in q's format, or o's when q is zero (as kube's Add keeps the receiver's).
func (q Quantity) Add(o Quantity) Quantity {
	f := q.format
	if q.IsZero() {
		f = o.format
	}
	if q.nano == nil && o.nano == nil {
		if m, ok := add64(q.milli, o.milli); ok {
			return Quantity{milli: m, format: f}
		}
	}
	return exact(new(big.Int).Add(q.nanos(), o.nanos()), f)
}

// RoundUp is q rounded up to a whole number of units, in q's format.
func (q Quantity) RoundUp() Quantity {
	if q.nano == nil {
		units := q.milli / 1000
		if q.milli%1000 > 0 {
			units++
		}
		if m, ok := mulPos(units, 1000); ok {
			return Quantity{milli: m, format: q.format}
		}
	}
	n, r := new(big.Int).QuoRem(q.nanos(), nanoPerUnit, new(big.Int))
	if r.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	return exact(n.Mul(n, nanoPerUnit), q.format)
}

// MilliValue is q in thousandths, rounded up, and whether that fits an int64.
func (q Quantity) MilliValue() (int64, bool) {
	if q.nano == nil {
		return q.milli, true
	}
	n, r := new(big.Int).QuoRem(q.nano, nanoPerMilli, new(big.Int))
	if r.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	return n.Int64(), n.IsInt64()
}

// String is q in kube's canonical form: "0"; binary suffixes for a whole multiple of 1024
// parsed as binary; otherwise the smallest integer mantissa with a decimal suffix (or an
// exponent, for a quantity parsed with one) whose power of ten is a multiple of 3.
func (q Quantity) String() string {
	if q.nano == nil {
		var buf [32]byte
		return string(appendMilli(buf[:0], q.milli, q.format))
	}
	return nanoString(q.nano, q.format)
}

// AppendText appends q as String writes it (encoding.TextAppender): without a string of
// its own, for writers of many quantities.
func (q Quantity) AppendText(b []byte) ([]byte, error) { return q.appendText(b), nil }

func (q Quantity) appendText(b []byte) []byte {
	if q.nano == nil {
		return appendMilli(b, q.milli, q.format)
	}
	return append(b, nanoString(q.nano, q.format)...)
}

// nanoString is String in math/big, of v nano-units.
func nanoString(v *big.Int, format Format) string {
	if v.Sign() == 0 {
		return "0"
	}
	if format == BinarySI {
		units, r := new(big.Int).QuoRem(v, nanoPerUnit, new(big.Int))
		// Below 1024 or fractional, binary suffixes would only confuse: kube writes those
		// as decimal.
		if r.Sign() != 0 || new(big.Int).Abs(units).Cmp(kibi) < 0 {
			format = DecimalSI
		} else {
			exp := 0
			for ; exp < len(binarySuffixes)-1; exp++ {
				d, m := new(big.Int).QuoRem(units, kibi, new(big.Int))
				if m.Sign() != 0 {
					break
				}
				units = d
			}
			return units.String() + binarySuffixes[exp]
		}
	}
	mant, exp := new(big.Int).Set(v), -9
	for {
		d, m := new(big.Int).QuoRem(mant, ten, new(big.Int))
		if m.Sign() != 0 {
			break
		}
		mant, exp = d, exp+1
	}
	// Down to a multiple of 3, so that a suffix names the power.
	if r := ((exp % 3) + 3) % 3; r != 0 {
		mant.Mul(mant, pow10(r))
		exp -= r
	}
	if format == DecimalExponent {
		if exp == 0 {
			return mant.String()
		}
		return mant.String() + "e" + strconv.Itoa(exp)
	}
	// Beyond exa there is no suffix: stay with E and a longer mantissa.
	if exp > 18 {
		mant.Mul(mant, pow10(exp-18))
		exp = 18
	}
	return mant.String() + decimalSuffixes[(exp+9)/3]
}

var (
	binarySuffixes  = []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	decimalSuffixes = []string{"n", "u", "m", "", "k", "M", "G", "T", "P", "E"}
)

// MarshalJSON writes q as a JSON string in canonical form.
func (q Quantity) MarshalJSON() ([]byte, error) { return jsonwrite.AppendString(nil, q.String()), nil }

// UnmarshalJSON reads a quantity from a JSON string or number, as Kubernetes accepts both.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("quantity: want a string or a number, got %s", b)
		}
		s = string(n)
	}
	p, err := Parse(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*q = p
	return nil
}

// Read reads a quantity with r as UnmarshalJSON does, from a JSON string or number, but
// without encoding/json: the decoders of the objects quota and admission read (package
// quota) use it.
func Read(r *jsonread.Reader) Quantity {
	raw := r.Skip()
	if r.Err() != nil {
		return Quantity{}
	}
	var text []byte
	switch c := raw[0]; {
	case c == '"':
		if text = raw[1 : len(raw)-1]; bytes.IndexByte(text, '\\') >= 0 {
			text = []byte(jsonread.New(raw).String()) // escaped: decode it
		}
	case c == '-' || '0' <= c && c <= '9':
		text = raw
	default:
		r.Fail(fmt.Sprintf("quantity: want a string or a number, got %s", raw))
		return Quantity{}
	}
	if q, ok := parseMilli(text); ok {
		return q
	}
	q, err := Parse(string(bytes.TrimSpace(text)))
	if err != nil {
		r.Fail(err.Error())
	}
	return q
}

// ReadList reads a List with r as json.Unmarshal would decode one (null reads as nil,
// {} as empty), without reflection.
func ReadList(r *jsonread.Reader) List {
	if !r.Begin('{') {
		return nil
	}
	l := List{}
	for r.Next('}') {
		k := r.KeyString()
		l[k] = Read(r)
	}
	return l
}

// List is a ResourceList: quantities by resource name.
type List map[string]Quantity

// MarshalJSON writes l as encoding/json would (names sorted, quantities in canonical
// form), without reflection: admission policies patch lists into pods and write quotas'
// status, in wasm.
func (l List) MarshalJSON() ([]byte, error) { return l.AppendJSON(nil), nil }

// AppendJSON appends l as MarshalJSON writes it.
func (l List) AppendJSON(b []byte) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	var stack [16]string // a list's names, usually: no allocation for them
	names := stack[:0]
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonwrite.AppendString(b, name)
		// A quantity's text is digits, a sign, a point and letters: nothing to escape.
		b = append(b, ':', '"')
		b = append(l[name].appendText(b), '"')
	}
	return append(b, '}')
}

// Add adds o into l, each resource in l's format when l has it.
func (l List) Add(o List) {
	for k, v := range o {
		l[k] = l[k].Add(v)
	}
}

// Max raises each of l's resources to o's where o's is greater (or l lacks it).
func (l List) Max(o List) {
	for k, v := range o {
		if cur, ok := l[k]; !ok || v.Cmp(cur) > 0 {
			l[k] = v
		}
	}
}

// Clone is a copy of l (quantities are values, so a shallow copy is one).
func (l List) Clone() List {
	c := make(List, len(l))
	for k, v := range l {
		c[k] = v
	}
	return c
}
