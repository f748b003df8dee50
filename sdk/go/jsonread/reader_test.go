package jsonread

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Documents for the differential tests against encoding/json: well-formed and not, with
// the escapes, numbers and nesting the scanning functions treat specially.
var corpus = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `true`, `false`, `null`, ` {"a" : [ 1 , 2 ] } `,
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"}}}]}}`,
	`{"a":"plain","b":"esc \" quote","c":"\\","d":"\/\b\f\n\r\t","e":"\u00e9\u2028","f":"\ud83d\ude80","g":"\ud800 lone","h":"\udc00\ud800"}`,
	`"` + strings.Repeat(`\"`, 40) + `"`, `"` + strings.Repeat(`x\n`, 40) + `"`, `"` + strings.Repeat("é", 40) + `"`,
	`"quote at the end\""`, `"\\"`, `"\\\""`, `["\\", "\""]`, `{"k\"ey":1}`,
	"\"bad utf8 \xff\xfe\"", "\"truncated rune \xe2\x82\"", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	// Malformed.
	``, ` `, `{`, `[`, `"`, `"abc`, `"abc\`, `"\u12"`, `"\u12`, `"\q"`, "\"\x01\"", "\"tab\there\"",
	`{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `{"a":1 "b":2}`, `[1 2]`, `{1:2}`, `{"a":1]`, `[1}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `falsey`, `{} {}`, `"\"`, `[[[]]`, `]`, `}`,
}

// TestSkipMatchesValid: Skip accepts exactly what encoding/json calls valid, and returns
// the value's bytes.
func TestSkipMatchesValid(t *testing.T) {
	for _, doc := range corpus {
		checkSkip(t, []byte(doc))
	}
}

func checkSkip(t *testing.T, b []byte) {
	t.Helper()
	r := New(b)
	got := r.Skip()
	err := r.End()
	if valid := json.Valid(b); valid != (err == nil) {
		t.Fatalf("Skip(%q): error %v, encoding/json says valid=%v", b, err, valid)
	}
	if err == nil && !bytes.Equal(got, bytes.TrimSpace(b)) {
		t.Fatalf("Skip(%q) = %q, want the value's bytes", b, got)
	}
}

// TestStringMatchesEncodingJSON: strings decode as encoding/json decodes them, in values
// and in keys.
func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, doc := range corpus {
		checkString(t, []byte(doc))
	}
}

func checkString(t *testing.T, b []byte) {
	t.Helper()
	var want string
	wantErr := json.Unmarshal(b, &want)
	r := New(b)
	got := r.String()
	err := r.End()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("String(%q): error %v, encoding/json's %v", b, err, wantErr)
	}
	if err == nil && got != want {
		t.Fatalf("String(%q) = %q, encoding/json decodes %q", b, got, want)
	}
	r = NewShared(b)
	if shared := r.String(); r.End() == nil && shared != want {
		t.Fatalf("shared String(%q) = %q, encoding/json decodes %q", b, shared, want)
	}
	if wantErr != nil || bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return
	}
	// The same string as a key.
	obj := append(append([]byte("{"), b...), ":1}"...)
	var m map[string]int
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("encoding/json refuses %q: %v", obj, err)
	}
	r = New(obj)
	var key string
	if r.Begin('{') {
		for r.Next('}') {
			key = string(r.Key())
			r.Skip()
		}
	}
	if err := r.End(); err != nil || m[key] != 1 {
		t.Fatalf("key of %q: %q, %v; encoding/json decodes %v", obj, key, err, m)
	}
}

func TestLongStrings(t *testing.T) {
	// Runs of plain bytes between escapes and non-ASCII bytes, quotes escaped at the
	// edges of the runs: each decoded and skipped as encoding/json does.
	parts := []string{`a`, `\"`, `\\`, `é`, `\u00e9`, `\n`, "\xff", strings.Repeat("x", 100)}
	for i := range parts {
		for j := range parts {
			for k := range parts {
				doc := []byte(`"` + parts[i] + parts[j] + parts[k] + parts[j] + `"`)
				checkSkip(t, doc)
				checkString(t, doc)
			}
		}
	}
}

// TestSpecialBytesEverywhere puts each kind of byte the string scanning stops at (or must
// not stop at) at every position of strings across the eight-byte words it reads.
func TestSpecialBytesEverywhere(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, `\n`, `\u00e9`, "\x01", "\x1f", " ", "\x7f", "é", "\xff", "~"} {
		for n := 0; n <= 20; n++ {
			for pos := 0; pos <= n; pos++ {
				doc := []byte(`"` + strings.Repeat("x", pos) + special + strings.Repeat("y", n-pos) + `"`)
				checkSkip(t, doc)
				checkString(t, doc)
				checkSkip(t, append([]byte(`{"k":`), append(doc, '}')...))
			}
		}
	}
}

// FuzzReader holds Skip and String to encoding/json on any input.
func FuzzReader(f *testing.F) {
	for _, doc := range corpus {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSkip(t, b)
		checkString(t, b)
	})
}

func TestHelpers(t *testing.T) {
	r := New([]byte(`[null, true, null, -7, {"a": [1], "type": "x", "b": null}, null, {}, {"n": null}]`))
	if !r.Begin('[') {
		t.Fatal(r.Err())
	}
	var got []any
	for i := 0; r.Next(']'); i++ {
		switch i {
		case 0, 1:
			got = append(got, r.OptionalBool())
		case 2, 3:
			got = append(got, r.OptionalInt(8))
		default:
			got = append(got, r.StringMember("type"))
		}
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if got[0].(*bool) != nil || !*got[1].(*bool) || got[2].(*int64) != nil || *got[3].(*int64) != -7 ||
		got[4] != "x" || got[5] != "" || got[6] != "" || got[7] != "" {
		t.Errorf("read %v", got)
	}
	for _, bad := range []string{`"true"`, `1.5`, `300`, `[]`, `{"type":1}`} {
		r := New([]byte(bad))
		switch bad {
		case `"true"`:
			r.OptionalBool()
		case `1.5`, `300`:
			r.OptionalInt(8)
		default:
			r.StringMember("type")
		}
		if r.End() == nil {
			t.Errorf("%s read without an error", bad)
		}
	}
}

// A shared Reader's strings are what New's are, and a copy: changing the input after does
// not change them.
func TestShared(t *testing.T) {
	doc := []byte(`{"name":"web","labels":{"app":"web","k\u00e9y":"v\"q","":""},"list":["a","b\n",null],"n":null}`)
	read := func(r *Reader) (name string, labels map[string]string, list []string, keys []string) {
		if !r.Begin('{') {
			t.Fatal(r.Err())
		}
		for r.Next('}') {
			switch k := r.KeyString(); k {
			case "name":
				name = r.String()
			case "labels":
				labels = r.StringMap()
			case "list":
				list = r.Strings()
			default:
				keys = append(keys, k)
				r.Skip()
			}
		}
		if err := r.End(); err != nil {
			t.Fatal(err)
		}
		return name, labels, list, keys
	}
	n1, l1, s1, k1 := read(New(bytes.Clone(doc)))
	input := bytes.Clone(doc)
	n2, l2, s2, k2 := read(NewShared(input))
	for i := range input {
		input[i] = 'X'
	}
	if n1 != n2 || !reflect.DeepEqual(l1, l2) || !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(k1, k2) {
		t.Errorf("shared: %q %v %q %q; not shared: %q %v %q %q", n2, l2, s2, k2, n1, l1, s1, k1)
	}
	if n1 != "web" || l1["k\u00e9y"] != "v\"q" || len(l1) != 3 || s1[1] != "b\n" || len(k1) != 1 || k1[0] != "n" {
		t.Errorf("read %q %v %q %q", n1, l1, s1, k1)
	}
}
