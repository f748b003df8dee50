package authn

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTokenFileErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"too few columns", "t1,alice,1\n\nt2,bob\n", "line 3: want at least 3 columns"},
		{"empty token", "# header\n,alice,1\n", "line 2: empty token"},
		{"empty user", "t1,,1\n", "line 1: empty user name"},
		{"duplicate token", "t1,alice,1\nt1,bob,2\n", "line 2: token already used on line 1"},
		{"bad quoting", "t1,alice,1,\"dev\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTokenFile(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

const tokenFile = `# token,user,uid,groups
abc123,alice,1001,"dev,ops"

  def456,bob,1002
ghi789,carol,,system:masters
`

func TestTokenFileAuthenticate(t *testing.T) {
	tf, err := ParseTokenFile(strings.NewReader(tokenFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token, user, uid string
		groups           []string
		ok               bool
	}{
		{"abc123", "alice", "1001", []string{"dev", "ops"}, true},
		{"def456", "bob", "1002", nil, true},
		{"ghi789", "carol", "", []string{"system:masters"}, true},
		{"abc12", "", "", nil, false},
		{"abc1234", "", "", nil, false},
		{"ABC123", "", "", nil, false},
		{"", "", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			info, ok, err := tf.AuthenticateToken(context.Background(), tt.token)
			if err != nil || ok != tt.ok {
				t.Fatalf("got %+v, %v, %v; want ok=%v", info, ok, err, tt.ok)
			}
			if !ok {
				return
			}
			if info.Name != tt.user || info.UID != tt.uid || !slices.Equal(info.Groups, tt.groups) {
				t.Fatalf("got %+v", info)
			}
			info.Groups = append(info.Groups, "system:masters") // must not leak into the file's entry
		})
	}
	again, _, _ := tf.AuthenticateToken(context.Background(), "abc123")
	if slices.Contains(again.Groups, "system:masters") {
		t.Fatal("a caller's change to a returned user leaked into the token file")
	}
}

func TestLoadTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte(tokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokenFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokenFile(path + ".missing"); err == nil {
		t.Fatal("loaded a missing file")
	}
}
