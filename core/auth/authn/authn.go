package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Authenticator is the API server's authentication stage (apiserver.Authenticator; the two
// are the same method set because apiserver.UserInfo is user.Info).
type Authenticator interface {
	Authenticate(r *http.Request) (*user.Info, bool, error)
}

// TokenAuthenticator recognises bearer tokens.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (*user.Info, bool, error)
}

// ErrInvalidCredential wraps every "credential of my kind, but not valid" answer, so callers
// can tell a rejected credential from a failure to check one (a lister error).
var ErrInvalidCredential = errors.New("invalid credential")

// Bearer authenticates requests by the token in their "Authorization: Bearer" header.
func Bearer(ta TokenAuthenticator) Authenticator { return bearer{ta} }

type bearer struct{ ta TokenAuthenticator }

func (b bearer) Authenticate(r *http.Request) (*user.Info, bool, error) {
	token, ok := BearerToken(r)
	if !ok {
		return nil, false, nil
	}
	return b.ta.AuthenticateToken(r.Context(), token)
}

// BearerToken is the token of an "Authorization: Bearer <token>" header. The scheme is matched
// case-insensitively (RFC 7235); an empty token counts as none.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Union tries authenticators in order; the first that recognises the request wins, and its
// user gains system:authenticated. If none does, the errors of those that rejected a credential
// come back joined (nil when the request carried no credential at all).
func Union(as ...Authenticator) Authenticator { return union(as) }

type union []Authenticator

func (u union) Authenticate(r *http.Request) (*user.Info, bool, error) {
	var errs []error
	for _, a := range u {
		info, ok, err := a.Authenticate(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok && info != nil {
			return info.WithGroup(user.AllAuthenticated), true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}

// TokenUnion tries token authenticators in order, like Union, for one Bearer header.
func TokenUnion(ts ...TokenAuthenticator) TokenAuthenticator { return tokenUnion(ts) }

type tokenUnion []TokenAuthenticator

func (u tokenUnion) AuthenticateToken(ctx context.Context, token string) (*user.Info, bool, error) {
	var errs []error
	for _, t := range u {
		info, ok, err := t.AuthenticateToken(ctx, token)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok && info != nil {
			return info, true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}
