package quantity

import (
	"math"
	"strconv"
)

// The int64 forms of quantities that are whole numbers of thousandths (see Quantity). Each
// function gives exactly what its math/big counterpart gives, or reports that it cannot
// (a finer value, an overflow), and the caller falls back to math/big:
// quantity_test.go holds the two to each other.

// parseMilli is Parse for a number of at most 18 digits with a decimal or binary suffix
// (or none) that is a whole number of thousandths within int64. Anything else, malformed
// input included, it leaves to parseNano. It reads bytes too, so that decoders need not
// make a string of each quantity they read.
func parseMilli[T string | []byte](s T) (Quantity, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		i++
	}
	var m int64
	digits, fraction, point := 0, 0, false
scan:
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if digits == 18 {
				return Quantity{}, false
			}
			m = m*10 + int64(c-'0')
			digits++
			if point {
				fraction++
			}
		case c == '.' && !point:
			point = true
		default:
			break scan
		}
	}
	if digits == 0 {
		return Quantity{}, false
	}
	// In thousandths: m × 10^exp10 × 1024^exp1024.
	exp10, exp1024, format := 3-fraction, 0, DecimalSI
	switch string(s[i:]) {
	case "":
	case "m":
		exp10 -= 3
	case "k":
		exp10 += 3
	case "M":
		exp10 += 6
	case "G":
		exp10 += 9
	case "T":
		exp10 += 12
	case "P":
		exp10 += 15
	case "E":
		exp10 += 18
	case "Ki":
		exp1024, format = 1, BinarySI
	case "Mi":
		exp1024, format = 2, BinarySI
	case "Gi":
		exp1024, format = 3, BinarySI
	case "Ti":
		exp1024, format = 4, BinarySI
	case "Pi":
		exp1024, format = 5, BinarySI
	case "Ei":
		exp1024, format = 6, BinarySI
	default: // n, u, exponents, unknown suffixes
		return Quantity{}, false
	}
	ok := true
	for ; exp1024 > 0 && ok; exp1024-- {
		m, ok = mulPos(m, 1024)
	}
	for ; exp10 > 0 && ok; exp10-- {
		m, ok = mulPos(m, 10)
	}
	if !ok {
		return Quantity{}, false
	}
	if exp10 < 0 {
		d := int64(1)
		for ; exp10 < 0; exp10++ {
			d *= 10 // at most 10^18: the digits are at most 18
		}
		if m%d != 0 {
			return Quantity{}, false // finer than a thousandth
		}
		m /= d
	}
	if neg {
		m = -m
	}
	return Quantity{milli: m, format: format}, true
}

// appendMilli appends the text of m thousandths, as String writes it.
func appendMilli(b []byte, m int64, format Format) []byte {
	if m == 0 {
		return append(b, '0')
	}
	if format == BinarySI {
		// Binary suffixes for whole units from 1024 on; kube writes the rest as decimal.
		if units := m / 1000; m%1000 == 0 && (units >= 1024 || units <= -1024) {
			exp := 0
			for ; exp < len(binarySuffixes)-1 && units%1024 == 0; exp++ {
				units /= 1024
			}
			return append(strconv.AppendInt(b, units, 10), binarySuffixes[exp]...)
		}
		format = DecimalSI
	}
	mant, exp := m, -3
	for mant%10 == 0 {
		mant /= 10
		exp++
	}
	// Down to a multiple of 3, so that a suffix names the power. This gives back at most
	// the zeros just taken, so it cannot overflow; and exp stays below 18, the largest
	// suffix's, as m has at most 19 digits.
	for ; exp%3 != 0; exp-- {
		mant *= 10
	}
	b = strconv.AppendInt(b, mant, 10)
	if format == DecimalExponent {
		if exp == 0 {
			return b
		}
		return strconv.AppendInt(append(b, 'e'), int64(exp), 10)
	}
	return append(b, decimalSuffixes[(exp+9)/3]...)
}

// mulPos is a×b for b > 0, and whether it did not overflow.
func mulPos(a, b int64) (int64, bool) {
	if a > math.MaxInt64/b || a < math.MinInt64/b {
		return 0, false
	}
	return a * b, true
}

// add64 is a+b, and whether it did not overflow.
func add64(a, b int64) (int64, bool) {
	c := a + b
	if (a > 0 && b > 0 && c < 0) || (a < 0 && b < 0 && c >= 0) {
		return 0, false
	}
	return c, true
}
