package quantity

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCanonicalForm(t *testing.T) {
	cases := []struct{ in, want string }{
		{"0", "0"},
		{"0Gi", "0"},
		{"500m", "500m"},
		{"1500m", "1500m"},
		{"1.5", "1500m"},
		{"2000m", "2"},
		{"2", "2"},
		{"0.1", "100m"},
		{".5", "500m"},
		{"1.", "1"},
		{"+3", "3"},
		{"-250m", "-250m"},
		{"1000", "1k"},
		{"1500", "1500"},
		{"1500000", "1500k"},
		{"1G", "1G"},
		{"1Gi", "1Gi"},
		{"3Gi", "3Gi"},
		{"1.5Gi", "1536Mi"},
		{"1024Mi", "1Gi"},
		{"100Mi", "100Mi"},
		{"512Ki", "512Ki"},
		{"0.5Ki", "512"}, // under 1024 kube writes decimal
		{"1.5Ki", "1536"},
		{"1023Ki", "1023Ki"},
		{"1024", "1024"}, // decimal stays decimal
		{"1Ei", "1Ei"},
		{"2048Ei", "2048Ei"},
		{"1e3", "1e3"},
		{"12e6", "12e6"},
		{"1500e0", "1500"},
		{"5e-3", "5e-3"},
		{"1E6", "1e6"},
		{"1n", "1n"},
		{"1u", "1u"},
		{"0.1n", "1n"},    // finer than nano rounds up
		{"1e-10", "1e-9"}, // … in its own format
		{"10P", "10P"},
		{"10Pi", "10Pi"}, // 1.1e19 bytes: beyond int64 milli-units
		{"1000E", "1000E"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			q, err := Parse(c.in)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := q.String(); got != c.want {
				t.Fatalf("%q is written %q, want %q", c.in, got, c.want)
			}
			// The canonical form reads back as the same value in the same form.
			again, err := Parse(c.want)
			if err != nil || again.Cmp(q) != 0 || again.String() != c.want {
				t.Fatalf("%q does not round-trip: %v %v", c.want, again, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "m", ".", "-", "1K", "1mi", "1 Gi", "1.2.3", "1e", "1ex", "1e9999", "Gi", "1Gi1"} {
		if q, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", s, q, err)
		}
	}
}

func TestAddKeepsTheFirstNonZeroFormat(t *testing.T) {
	cases := []struct {
		a, b, want string
	}{
		{"1Gi", "1Gi", "2Gi"},
		{"1Gi", "500M", "1573741824"}, // binary but not a multiple of 1024: plain bytes
		{"500M", "1Gi", "1573741824"},
		{"1G", "1Gi", "2073741824"},
		{"0", "1Gi", "1Gi"}, // a zero's format gives way
		{"500m", "1", "1500m"},
		{"500m", "500m", "1"},
		{"1e3", "1", "1001"},
		{"1e3", "1e3", "2e3"},
	}
	for _, c := range cases {
		if got := MustParse(c.a).Add(MustParse(c.b)).String(); got != c.want {
			t.Errorf("%s + %s = %s, want %s", c.a, c.b, got, c.want)
		}
	}
	var zero Quantity
	if got := zero.Add(MustParse("2Mi")).String(); got != "2Mi" {
		t.Errorf("zero value + 2Mi = %s", got)
	}
}

func TestCmpAndValues(t *testing.T) {
	if MustParse("1Gi").Cmp(MustParse("1G")) <= 0 || MustParse("1000m").Cmp(MustParse("1")) != 0 || MustParse("-1").Sign() != -1 {
		t.Fatal("Cmp or Sign is wrong")
	}
	if v, ok := MustParse("1.5").MilliValue(); !ok || v != 1500 {
		t.Fatalf("1.5 is %d milli (%v)", v, ok)
	}
	if v, ok := MustParse("1n").MilliValue(); !ok || v != 1 {
		t.Fatalf("1n is %d milli, want 1 (rounded up)", v)
	}
	if _, ok := MustParse("10Ei").MilliValue(); ok {
		t.Fatal("10Ei in milli-units fits an int64")
	}
	if got := MustParse("1500m").RoundUp().String(); got != "2" {
		t.Fatalf("1500m rounded up is %s", got)
	}
	if got := MustParse("1.5Ki").RoundUp().String(); got != "1536" {
		t.Fatalf("1.5Ki rounded up is %s", got)
	}
	if got := New(3, BinarySI).String(); got != "3" {
		t.Fatalf("New(3) is %s", got)
	}
}

func TestJSON(t *testing.T) {
	var l List
	if err := json.Unmarshal([]byte(`{"cpu":"1000m","memory":"1.5Gi","pods":10,"frac":0.5}`), &l); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cpu":"1","frac":"500m","memory":"1536Mi","pods":"10"}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	// As encoding/json writes the map by reflection.
	for _, l := range []List{l, {}, nil, {"<&>\u2028": MustParse("1")}} {
		want, _ := json.Marshal(map[string]Quantity(l))
		if got, _ := json.Marshal(l); string(got) != string(want) {
			t.Errorf("List %v is written %s, encoding/json writes %s", l, got, want)
		}
	}
	if err := json.Unmarshal([]byte(`{"cpu":"lots"}`), &l); !errors.Is(err, ErrSyntax) {
		t.Fatalf("a malformed quantity decodes: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"cpu":true}`), &l); err == nil {
		t.Fatal("a boolean decodes as a quantity")
	}
}

func TestListMaxAndAdd(t *testing.T) {
	l := List{"cpu": MustParse("1"), "memory": MustParse("1Gi")}
	l.Max(List{"cpu": MustParse("500m"), "memory": MustParse("2Gi"), "nvidia.com/gpu": MustParse("1")})
	l.Add(List{"cpu": MustParse("250m")})
	want := map[string]string{"cpu": "1250m", "memory": "2Gi", "nvidia.com/gpu": "1"}
	for k, v := range want {
		if l[k].String() != v {
			t.Errorf("%s is %s, want %s", k, l[k], v)
		}
	}
	c := l.Clone()
	c.Add(List{"cpu": MustParse("1")})
	if l["cpu"].String() != "1250m" {
		t.Fatal("adding to a clone changed the original")
	}
}
