package quantity

import (
	"math/big"
	"testing"
)

// The int64 forms against math/big: every operation on quantities in their usual form
// gives what it gives on the same values held in big.Ints, which is the package's first
// implementation.

var milliCorpus = []string{
	"0", "-0", "+0", "1", "-1", "500m", "-250m", "1.5", ".5", "1.", "0.001", "0.0015", "1500m", "2000m", "1000", "1500",
	"1k", "12M", "3G", "7T", "2P", "9E", "1Ki", "1.5Ki", "0.5Ki", "1023Ki", "64Mi", "1.5Gi", "40Gi", "80Gi", "3Ti", "1Pi",
	"7Ei", "8Ei", "10Ei", "1n", "1u", "1000000n", "1000u", "1e3", "5e-3", "1E6", "12e6", "999999999999999999", "9223372036854775",
	"9223372036854776", "-9223372036854775", "123456789012345678m", "1234567890123456789", "0.000000001", "0.0000000001",
	"1.23456789012345678", "9.5E", "100000000000000000", "-8Ei",
}

// reference is q held in a big.Int, where every operation takes the math/big path.
func reference(s string) (Quantity, bool) {
	n, f, err := parseNano(s)
	if err != nil {
		return Quantity{}, false
	}
	return Quantity{nano: n, format: f}, true
}

func checkSame(t *testing.T, what string, q, ref Quantity) {
	t.Helper()
	if q.String() != ref.String() || q.Cmp(ref) != 0 || ref.Cmp(q) != 0 || q.Sign() != ref.Sign() || q.IsZero() != ref.IsZero() || q.Format() != ref.Format() {
		t.Fatalf("%s: %q (%v, sign %d), math/big %q (%v, sign %d)", what, q, q.Format(), q.Sign(), ref, ref.Format(), ref.Sign())
	}
	if text, _ := q.AppendText([]byte("x")); string(text) != "x"+q.String() {
		t.Fatalf("%s: AppendText %q, String %q", what, text, q.String())
	}
	m, ok := q.MilliValue()
	rm, rok := ref.MilliValue()
	if m != rm || ok != rok {
		t.Fatalf("%s: %d milli (%v), math/big %d (%v)", what, m, ok, rm, rok)
	}
	if u, ru := q.RoundUp(), ref.RoundUp(); u.String() != ru.String() || u.Cmp(ru) != 0 {
		t.Fatalf("%s rounded up: %q, math/big %q", what, u, ru)
	}
	// A value the int64 form can hold is held there.
	if r := new(big.Int).Rem(q.nanos(), nanoPerMilli); q.nano != nil && r.Sign() == 0 && new(big.Int).Quo(q.nanos(), nanoPerMilli).IsInt64() {
		t.Fatalf("%s is held in a big.Int", what)
	}
}

func checkPair(t *testing.T, a, b string) {
	t.Helper()
	qa, errA := Parse(a)
	qb, errB := Parse(b)
	ra, okA := reference(a)
	rb, okB := reference(b)
	if (errA == nil) != okA || (errB == nil) != okB {
		t.Fatalf("Parse(%q): %v, Parse(%q): %v; math/big parses them: %v, %v", a, errA, b, errB, okA, okB)
	}
	if !okA || !okB {
		return
	}
	checkSame(t, a, qa, ra)
	checkSame(t, b, qb, rb)
	if c, rc := qa.Cmp(qb), ra.Cmp(rb); c != rc {
		t.Fatalf("Cmp(%q, %q) = %d, math/big %d", a, b, c, rc)
	}
	checkSame(t, a+" + "+b, qa.Add(qb), ra.Add(rb))
	checkSame(t, a+" + "+b+" + "+b, qa.Add(qb).Add(qb), ra.Add(rb).Add(rb))
}

func TestMilliMatchesBig(t *testing.T) {
	for _, a := range milliCorpus {
		for _, b := range milliCorpus {
			checkPair(t, a, b)
		}
	}
	for _, n := range []int64{0, 1, -1, 9223372036854775, 9223372036854776, -9223372036854776, 1 << 62} {
		v := big.NewInt(n)
		checkSame(t, "New", New(n, BinarySI), Quantity{nano: v.Mul(v, nanoPerUnit), format: BinarySI})
	}
}

func FuzzMilliMatchesBig(f *testing.F) {
	for i, a := range milliCorpus {
		f.Add(a, milliCorpus[(i*7+3)%len(milliCorpus)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 40 || len(b) > 40 {
			return // math/big's exponents make long inputs slow, not interesting
		}
		checkPair(t, a, b)
	})
}
