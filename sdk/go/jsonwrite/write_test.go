package jsonwrite

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var strs = []string{
	"", "plain", `quote " and backslash \`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"café 🚀", "line\u2028para\u2029", "bad \xff\xfe utf8", "truncated \xe2\x82", "\xed\xa0\x80 surrogate",
	strings.Repeat("long plain run ", 20) + `"`,
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range strs {
		checkString(t, s)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	want, _ := json.Marshal(s)
	if got := AppendString([]byte("prefix"), s); string(got) != "prefix"+string(want) {
		t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got[6:], want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

type point struct {
	X, Y int
}

type marshaler struct{ s string }

func (m *marshaler) MarshalJSON() ([]byte, error) { return []byte(m.s), nil }

func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	var nilMarshaler *marshaler
	for _, v := range []any{
		nil, "s", "<&>", true, false, 0, -7, int8(-8), int16(16), int32(-32), int64(1 << 62), uint(7), uint8(8),
		uint16(16), uint32(32), uint64(1 << 63), 1.5, 1e21, float32(0.1),
		json.RawMessage(`{"a":[1,2,{"b":null}]}`), json.RawMessage(nil),
		[]string{"a", "<b>"}, []string{}, []string(nil),
		map[string]string{"b": "2", "a": "1", "<": ">"}, map[string]string{}, map[string]string(nil),
		[]any{"x", 1, true, nil, map[string]any{"k": []any{}}}, []any(nil),
		map[string]any{"z": 1, "a": map[string]any{"n": nil, "s": []string{"x"}}, "m": json.RawMessage(`"raw"`)},
		map[string]any(nil),
		[]json.RawMessage{json.RawMessage(`1`), nil, json.RawMessage(`{}`)}, []json.RawMessage(nil),
		point{1, 2}, &point{3, 4}, []point{{5, 6}}, map[string]point{"p": {7, 8}},
		&marshaler{`{"m":1}`}, nilMarshaler, time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC),
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encoding/json refuses %#v: %v", v, err)
		}
		got, err := AppendValue(nil, v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendValue(%#v) = %s, %v; encoding/json writes %s", v, got, err, want)
		}
	}
}

func TestAppendValueRefuses(t *testing.T) {
	for _, v := range []any{
		json.RawMessage(``), json.RawMessage(`{`), json.RawMessage(`1 2`), []json.RawMessage{json.RawMessage(`nul`)},
		map[string]any{"m": &marshaler{`{"a":}`}}, []any{func() {}}, map[string]any{"c": make(chan int)},
	} {
		if _, wantErr := json.Marshal(v); wantErr == nil {
			t.Fatalf("encoding/json encodes %#v", v)
		}
		if got, err := AppendValue(nil, v); err == nil {
			t.Errorf("AppendValue(%#v) = %s, want an error", v, got)
		}
	}
	if _, err := AppendRaw(nil, []byte(`{"a":1,}`)); !errors.Is(err, ErrInvalidRaw) {
		t.Errorf("AppendRaw of malformed JSON: %v, want ErrInvalidRaw", err)
	}
}
