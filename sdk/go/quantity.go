package tug

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Quantity is a Kubernetes resource quantity as written in JSON: "500m", "2", "1.5Gi",
// "1e3". It decodes from a JSON string or number; MilliValue and Value parse it.
type Quantity string

// UnmarshalJSON accepts a string or a number, as Kubernetes does.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("quantity: want a string or a number, got %s", b)
	}
	*q = Quantity(n)
	return nil
}

// MilliValue returns the quantity in thousandths, rounded up: "500m" is 500, "2" is 2000,
// "1Ki" is 1024000. It fails on a malformed quantity or one out of int64's range.
func (q Quantity) MilliValue() (int64, error) { return q.scaled(1000) }

// Value returns the quantity rounded up to a whole number: "500m" is 1, "1Gi" is 1073741824.
func (q Quantity) Value() (int64, error) { return q.scaled(1) }

var quantitySuffixes = map[string]*big.Rat{
	"":   big.NewRat(1, 1),
	"n":  big.NewRat(1, 1_000_000_000),
	"u":  big.NewRat(1, 1_000_000),
	"m":  big.NewRat(1, 1000),
	"k":  big.NewRat(1000, 1),
	"M":  big.NewRat(1_000_000, 1),
	"G":  big.NewRat(1_000_000_000, 1),
	"T":  big.NewRat(1_000_000_000_000, 1),
	"P":  big.NewRat(1_000_000_000_000_000, 1),
	"E":  big.NewRat(1_000_000_000_000_000_000, 1),
	"Ki": big.NewRat(1<<10, 1),
	"Mi": big.NewRat(1<<20, 1),
	"Gi": big.NewRat(1<<30, 1),
	"Ti": big.NewRat(1<<40, 1),
	"Pi": big.NewRat(1<<50, 1),
	"Ei": big.NewRat(1<<60, 1),
}

func (q Quantity) scaled(unit int64) (int64, error) {
	s := string(q)
	if v, ok := fastScaled(s, unit); ok {
		return v, nil
	}
	return slowScaled(s, unit)
}

// slowScaled is scaled in exact rational arithmetic, for every form Kubernetes accepts.
func slowScaled(s string, unit int64) (int64, error) {
	// The number: an optional sign, digits with at most one point, at least one digit.
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits, points := 0, 0
	for ; end < len(s); end++ {
		switch c := s[end]; {
		case c >= '0' && c <= '9':
			digits++
			continue
		case c == '.' && points == 0:
			points++
			continue
		}
		break
	}
	if digits == 0 {
		return 0, fmt.Errorf("quantity %q: no number", s)
	}
	num, ok := new(big.Rat).SetString(strings.TrimPrefix(s[:end], "+"))
	if !ok {
		return 0, fmt.Errorf("quantity %q: bad number", s)
	}
	suffix := s[end:]
	mult, ok := quantitySuffixes[suffix]
	if !ok {
		if suffix[0] != 'e' && suffix[0] != 'E' {
			return 0, fmt.Errorf("quantity %q: unknown suffix %q", s, suffix)
		}
		exp, err := strconv.Atoi(suffix[1:])
		if err != nil || exp < -100 || exp > 100 {
			return 0, fmt.Errorf("quantity %q: bad exponent %q", s, suffix)
		}
		ten := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(exp, -exp))), nil)
		mult = new(big.Rat).SetInt(ten)
		if exp < 0 {
			mult.Inv(mult)
		}
	}
	v := num.Mul(num, mult)
	v.Mul(v, big.NewRat(unit, 1))
	// Round up (towards +inf), as Kubernetes' ScaledValue does.
	n, rem := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int))
	if rem.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() {
		return 0, fmt.Errorf("quantity %q: out of range", s)
	}
	return n.Int64(), nil
}

// fastScaled is scaled for the quantities nodes and pods carry ("500m", "16", "64Gi",
// "1.5G"), in int64 arithmetic: math/big is slow in wasm. It reports false for anything it
// cannot do exactly (more digits, odd forms, overflow), which the math/big path then decides.
func fastScaled(s string, unit int64) (int64, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var m int64
	digits, e10 := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		m = m*10 + int64(s[i]-'0')
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			m = m*10 + int64(s[i]-'0')
			digits++
			e10--
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	var mult int64 = 1
	switch suffix := s[i:]; suffix {
	case "":
	case "n":
		e10 -= 9
	case "u":
		e10 -= 6
	case "m":
		e10 -= 3
	case "k":
		e10 += 3
	case "M":
		e10 += 6
	case "G":
		e10 += 9
	case "T":
		e10 += 12
	case "Ki", "Mi", "Gi", "Ti":
		mult = 1 << (10 * (1 + strings.Index("KMGT", suffix[:1])))
	default:
		return 0, false
	}
	// m (< 10^15) × mult (≤ 2^40) × unit (≤ 1000) may overflow: check each step.
	v, ok := mul64(m, mult)
	if v, ok = mulOK(v, unit, ok); !ok {
		return 0, false
	}
	for ; e10 > 0; e10-- {
		if v, ok = mulOK(v, 10, ok); !ok {
			return 0, false
		}
	}
	if e10 < 0 {
		if e10 < -18 {
			return 0, false
		}
		d := int64(1)
		for ; e10 < 0; e10++ {
			d *= 10
		}
		q := v / d
		if v%d != 0 && !neg {
			q++ // round up, towards +inf
		}
		v = q
	}
	if neg {
		v = -v
	}
	return v, true
}

func mul64(a, b int64) (int64, bool) { return mulOK(a, b, true) }

func mulOK(a, b int64, ok bool) (int64, bool) {
	if !ok {
		return 0, false
	}
	if a != 0 && b > math.MaxInt64/a {
		return 0, false
	}
	return a * b, true
}
