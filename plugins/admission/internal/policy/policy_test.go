package policy

import (
	"errors"
	"testing"
)

func TestMemo(t *testing.T) {
	var m Memo[string]
	calls := 0
	decode := func(raw []byte) (string, error) {
		calls++
		if string(raw) == "bad" {
			return "", errors.New("bad")
		}
		return string(raw) + "!", nil
	}
	for _, c := range []struct {
		raw, want string
		calls     int
	}{
		{"a", "a!", 1}, {"a", "a!", 1}, {"b", "b!", 2}, {"a", "a!", 3}, {"bad", "", 4}, {"bad", "", 4},
	} {
		raw := []byte(c.raw)
		got, err := m.Get(raw, decode)
		raw[0] = 'x' // the memo keeps its own copy of the bytes
		if got != c.want || (err != nil) != (c.raw == "bad") || calls != c.calls {
			t.Fatalf("Get(%q) = %q, %v after %d decodes; want %q after %d", c.raw, got, err, calls, c.want, c.calls)
		}
	}
}
