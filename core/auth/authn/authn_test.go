package authn

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/core/auth/user"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		token  string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Bearer   abc  ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, ok := BearerToken(r)
			if got != tt.token || ok != tt.ok {
				t.Fatalf("BearerToken = %q, %v; want %q, %v", got, ok, tt.token, tt.ok)
			}
		})
	}
}

// fixedToken recognises one token.
type fixedToken struct {
	token string
	info  *user.Info
	err   error
}

func (f fixedToken) AuthenticateToken(_ context.Context, token string) (*user.Info, bool, error) {
	if f.err != nil {
		return nil, false, f.err
	}
	if token != f.token {
		return nil, false, nil
	}
	return f.info, true, nil
}

func TestUnion(t *testing.T) {
	alice := fixedToken{token: "a", info: &user.Info{Name: "alice", Groups: []string{"dev"}}}
	bob := fixedToken{token: "b", info: &user.Info{Name: "bob"}}
	alice2 := fixedToken{token: "a", info: &user.Info{Name: "alice2"}}
	broken := fixedToken{err: errors.New("lister down")}
	tests := []struct {
		name    string
		as      []Authenticator
		header  string
		want    string
		wantErr string
	}{
		{"first match wins", []Authenticator{Bearer(alice), Bearer(alice2)}, "Bearer a", "alice", ""},
		{"second recognises", []Authenticator{Bearer(alice), Bearer(bob)}, "Bearer b", "bob", ""},
		{"error then match", []Authenticator{Bearer(broken), Bearer(bob)}, "Bearer b", "bob", ""},
		{"nobody recognises", []Authenticator{Bearer(alice), Bearer(bob)}, "Bearer c", "", ""},
		{"no credentials is anonymous, not ok", []Authenticator{Bearer(alice)}, "", "", ""},
		{"errors come back", []Authenticator{Bearer(broken), Bearer(bob)}, "Bearer c", "", "lister down"},
		{"token union", []Authenticator{Bearer(TokenUnion(broken, alice, bob))}, "Bearer b", "bob", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			info, ok, err := Union(tt.as...).Authenticate(r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ok {
					t.Fatalf("got %v, %v, %v; want error %q", info, ok, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if ok || info != nil {
					t.Fatalf("authenticated as %+v", info)
				}
				return
			}
			if !ok || info.Name != tt.want {
				t.Fatalf("got %+v, %v; want %s", info, ok, tt.want)
			}
			if !slices.Contains(info.Groups, user.AllAuthenticated) {
				t.Fatalf("groups %q lack %s", info.Groups, user.AllAuthenticated)
			}
		})
	}
	// The authenticator's own user is not changed by the union.
	if slices.Contains(alice.info.Groups, user.AllAuthenticated) {
		t.Fatal("union changed the authenticator's user")
	}
}
