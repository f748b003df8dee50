package authn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/auth/user"
)

func TestParseJoinToken(t *testing.T) {
	tests := []struct {
		token      string
		id, secret string
	}{
		{"abcdef.0123456789abcdef", "abcdef", "0123456789abcdef"},
		{"ABCDEF.0123456789abcdef", "", ""},
		{"abcde.0123456789abcdef", "", ""},
		{"abcdef.0123456789abcde", "", ""},
		{"abcdef0123456789abcdef", "", ""},
		{"abcdef.0123456789abcdef.x", "", ""},
		{"abc-ef.0123456789abcdef", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			id, secret, err := ParseJoinToken(tt.token)
			if tt.id == "" {
				if !errors.Is(err, ErrBadJoinToken) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || id != tt.id || secret != tt.secret {
				t.Fatalf("got %q, %q, %v", id, secret, err)
			}
		})
	}
}

func TestNewJoinToken(t *testing.T) {
	a, err := NewJoinToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewJoinToken()
	if _, _, err := ParseJoinToken(a); err != nil {
		t.Fatalf("generated %q: %v", a, err)
	}
	if a == b {
		t.Fatal("two tokens alike")
	}
}

type failingLister struct{}

func (failingLister) JoinToken(context.Context, string) (*JoinToken, error) {
	return nil, errors.New("store unavailable")
}

func TestJoinTokens(t *testing.T) {
	now := time.Now()
	set := &JoinTokenSet{}
	for _, tok := range []JoinToken{
		{ID: "abcdef", Secret: "0123456789abcdef"},
		{ID: "old000", Secret: "0123456789abcdef", Expires: now.Add(-time.Second)},
		{ID: "later0", Secret: "0123456789abcdef", Expires: now.Add(time.Hour), ExtraGroups: []string{"system:bootstrappers:workers"}},
		{ID: "evil00", Secret: "0123456789abcdef", ExtraGroups: []string{"system:masters"}},
	} {
		if err := set.Add(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Add(JoinToken{ID: "short", Secret: "x"}); err == nil {
		t.Fatal("stored a malformed token")
	}
	tests := []struct {
		name    string
		token   string
		user    string
		groups  []string
		wantErr string // "" with no user: not ours
	}{
		{"valid", "abcdef.0123456789abcdef", "system:bootstrap:abcdef", []string{user.Bootstrappers}, ""},
		{"extra groups", "later0.0123456789abcdef", "system:bootstrap:later0", []string{user.Bootstrappers, "system:bootstrappers:workers"}, ""},
		{"wrong secret", "abcdef.0123456789abcdee", "", nil, "wrong secret"},
		{"unknown id", "zzzzzz.0123456789abcdef", "", nil, "not found"},
		{"expired", "old000.0123456789abcdef", "", nil, "expired"},
		{"extra group outside the prefix", "evil00.0123456789abcdef", "", nil, "lacks"},
		{"not a join token", "abc123", "", nil, ""},
		{"a JWT", "a.b.c", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &JoinTokens{Lister: set, Now: func() time.Time { return now }}
			info, ok, err := j.AuthenticateToken(context.Background(), tt.token)
			switch {
			case tt.user != "":
				if err != nil || !ok || info.Name != tt.user || !slices.Equal(info.Groups, tt.groups) {
					t.Fatalf("got %+v, %v, %v", info, ok, err)
				}
			case tt.wantErr == "":
				if ok || err != nil {
					t.Fatalf("got %v, %v; want not ours", ok, err)
				}
			default:
				if ok || !errors.Is(err, ErrInvalidCredential) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", ok, err, tt.wantErr)
				}
			}
		})
	}
	set.Remove("abcdef")
	if _, ok, _ := (&JoinTokens{Lister: set}).AuthenticateToken(context.Background(), "abcdef.0123456789abcdef"); ok {
		t.Fatal("removed token still works")
	}
	_, ok, err := (&JoinTokens{Lister: failingLister{}}).AuthenticateToken(context.Background(), "abcdef.0123456789abcdef")
	if ok || err == nil || errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("lister failure: %v, %v", ok, err)
	}
}

// JoinTokenSet is an in-memory JoinTokenLister for the tests; tug keeps join tokens as
// Secrets (cmd/tug/security.go).
type JoinTokenSet struct {
	mu     sync.RWMutex
	tokens map[string]JoinToken
}

// Add stores a token; its id and secret must have the join token format.
func (s *JoinTokenSet) Add(t JoinToken) error {
	if _, _, err := ParseJoinToken(t.ID + "." + t.Secret); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]JoinToken{}
	}
	s.tokens[t.ID] = t
	return nil
}

// Remove forgets a token.
func (s *JoinTokenSet) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, id)
}

// JoinToken implements JoinTokenLister.
func (s *JoinTokenSet) JoinToken(_ context.Context, id string) (*JoinToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[id]
	if !ok {
		return nil, nil
	}
	return &t, nil
}
