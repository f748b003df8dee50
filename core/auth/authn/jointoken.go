package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Join token format, kube's bootstrap token: "<id>.<secret>", a 6-character public id (which
// may be logged and is how the token is looked up) and a 16-character secret, both [a-z0-9].
const (
	JoinTokenIDLen     = 6
	JoinTokenSecretLen = 16
	joinTokenAlphabet  = "0123456789abcdefghijklmnopqrstuvwxyz"
	// JoinTokenExtraGroupPrefix is the prefix every extra group of a join token must have, as
	// in kube, so a join token can never be made to grant system:masters.
	JoinTokenExtraGroupPrefix = user.Bootstrappers + ":"
)

// ErrBadJoinToken is a string that does not have the join token format.
var ErrBadJoinToken = errors.New("not a join token: want 6 and 16 characters of [a-z0-9] joined by a dot")

// JoinToken is a stored join token.
type JoinToken struct {
	ID     string
	Secret string
	// Expires is when the token stops working; zero means never.
	Expires time.Time
	// ExtraGroups are added to system:bootstrappers; each must start with
	// "system:bootstrappers:".
	ExtraGroups []string
}

// ParseJoinToken splits a token into its id and secret.
func ParseJoinToken(token string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || len(id) != JoinTokenIDLen || len(secret) != JoinTokenSecretLen || !isTokenChars(id) || !isTokenChars(secret) {
		return "", "", ErrBadJoinToken
	}
	return id, secret, nil
}

func isTokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(joinTokenAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// NewJoinToken makes a random join token.
func NewJoinToken() (string, error) {
	id, err := randomString(JoinTokenIDLen)
	if err != nil {
		return "", err
	}
	secret, err := randomString(JoinTokenSecretLen)
	if err != nil {
		return "", err
	}
	return id + "." + secret, nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(joinTokenAlphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random token: %w", err)
		}
		b[i] = joinTokenAlphabet[k.Int64()]
	}
	return string(b), nil
}

// JoinTokenLister finds a stored join token by id: (nil, nil) when there is none.
type JoinTokenLister interface {
	JoinToken(ctx context.Context, id string) (*JoinToken, error)
}

// JoinTokens authenticates join tokens against a store of them; the user is
// system:bootstrap:<id> in group system:bootstrappers, which RBAC lets create a certificate
// request and little else.
type JoinTokens struct {
	Lister JoinTokenLister
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// AuthenticateToken checks a join token. Strings of another shape are not ours (nil, false,
// nil); a well-formed token that is unknown, expired or has the wrong secret is rejected.
func (j *JoinTokens) AuthenticateToken(ctx context.Context, token string) (*user.Info, bool, error) {
	id, secret, err := ParseJoinToken(token)
	if err != nil {
		return nil, false, nil
	}
	stored, err := j.Lister.JoinToken(ctx, id)
	if err != nil {
		return nil, false, fmt.Errorf("looking up join token %s: %w", id, err)
	}
	if stored == nil {
		return nil, false, fmt.Errorf("%w: join token %s not found", ErrInvalidCredential, id)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(stored.Secret)) != 1 {
		return nil, false, fmt.Errorf("%w: join token %s: wrong secret", ErrInvalidCredential, id)
	}
	now := time.Now()
	if j.Now != nil {
		now = j.Now()
	}
	if !stored.Expires.IsZero() && !now.Before(stored.Expires) {
		return nil, false, fmt.Errorf("%w: join token %s expired at %s", ErrInvalidCredential, id, stored.Expires.UTC().Format(time.RFC3339))
	}
	groups := []string{user.Bootstrappers}
	for _, g := range stored.ExtraGroups {
		if !strings.HasPrefix(g, JoinTokenExtraGroupPrefix) {
			return nil, false, fmt.Errorf("%w: join token %s: extra group %q lacks the %q prefix", ErrInvalidCredential, id, g, JoinTokenExtraGroupPrefix)
		}
		groups = append(groups, g)
	}
	return &user.Info{
		Name:   user.BootstrapUserPrefix + id,
		Groups: groups,
		Extra:  map[string][]string{user.ExtraCredentialID: {"BootstrapTokenID=" + id}},
	}, true, nil
}
