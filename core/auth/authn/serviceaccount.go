package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Service account token defaults.
const (
	// DefaultTokenExpiration is how long a token lives when the request names no expiration
	// (kube's TokenRequest default).
	DefaultTokenExpiration = time.Hour
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway = time.Minute
	// DeletedPodGrace is how long a pod's tokens outlive the start of its deletion, as in kube:
	// containers still shutting down may need to call the API server.
	DeletedPodGrace = 60 * time.Second
)

// ObjectRef names an object a token is bound to.
type ObjectRef struct {
	Name string
	UID  types.UID
}

// TokenRequest is what a token is issued for.
type TokenRequest struct {
	Namespace      string
	ServiceAccount ObjectRef
	// Audiences the token is good for; empty means the signer's default audiences.
	Audiences []string
	// Expiration from now; zero means DefaultTokenExpiration.
	Expiration time.Duration
	// Pod and Node, when set, bind the token: it dies with them.
	Pod  *ObjectRef
	Node *ObjectRef
}

// kubeClaims is the "kubernetes.io" private claim, as kube writes it.
type kubeClaims struct {
	Namespace      string    `json:"namespace"`
	ServiceAccount claimRef  `json:"serviceaccount"`
	Pod            *claimRef `json:"pod,omitempty"`
	Node           *claimRef `json:"node,omitempty"`
}

type claimRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

type privateClaims struct {
	Kubernetes *kubeClaims `json:"kubernetes.io,omitempty"`
}

// Signer issues service account tokens: ES256 JWTs shaped like kube's, so client libraries that
// read them (and kube's own TokenReview consumers) understand them.
type Signer struct {
	issuer    string
	audiences []string
	signer    jose.Signer
	now       func() time.Time
}

// NewSigner makes a signer for key, writing iss=issuer and, for requests without audiences,
// aud=defaultAudiences. now may be nil (time.Now).
func NewSigner(key *ecdsa.PrivateKey, issuer string, defaultAudiences []string, now func() time.Time) (*Signer, error) {
	if key == nil || issuer == "" {
		return nil, errors.New("service account signer needs a key and an issuer")
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("service account signer: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{issuer: issuer, audiences: defaultAudiences, signer: s, now: now}, nil
}

// KeyID is the JWS key id of a public key, computed as kube does (base64url of the SHA-256 of
// its PKIX DER) so a verifier holding several keys finds the right one.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Issue signs a token for req and returns it with its expiry.
func (s *Signer) Issue(req TokenRequest) (string, time.Time, error) {
	if req.Namespace == "" || req.ServiceAccount.Name == "" || req.ServiceAccount.UID == "" {
		return "", time.Time{}, errors.New("token request needs a namespace and a service account name and uid")
	}
	aud := req.Audiences
	if len(aud) == 0 {
		aud = s.audiences
	}
	if len(aud) == 0 {
		return "", time.Time{}, errors.New("token request needs an audience")
	}
	ttl := req.Expiration
	if ttl <= 0 {
		ttl = DefaultTokenExpiration
	}
	jti, err := randomID()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(ttl)
	std := jwt.Claims{
		Issuer:    s.issuer,
		Subject:   user.ServiceAccountUser(req.Namespace, req.ServiceAccount.Name),
		Audience:  jwt.Audience(aud),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(exp),
		ID:        jti,
	}
	kc := &kubeClaims{
		Namespace:      req.Namespace,
		ServiceAccount: claimRef{Name: req.ServiceAccount.Name, UID: string(req.ServiceAccount.UID)},
	}
	if req.Pod != nil {
		kc.Pod = &claimRef{Name: req.Pod.Name, UID: string(req.Pod.UID)}
	}
	if req.Node != nil {
		kc.Node = &claimRef{Name: req.Node.Name, UID: string(req.Node.UID)}
	}
	tok, err := jwt.Signed(s.signer).Claims(std).Claims(privateClaims{Kubernetes: kc}).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign service account token: %w", err)
	}
	return tok, exp, nil
}

// randomID is a random version 4 UUID, kube's token id (jti) format.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// Getter reads the objects a token is bound to. Each returns the object, or nil or an error
// satisfying apierrors.IsNotFound when it does not exist; any other error means "could not
// check" and fails the authentication without calling the token invalid.
type Getter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
}

// ServiceAccountVerifier authenticates tokens issued by a Signer with one of its keys.
type ServiceAccountVerifier struct {
	issuer    string
	audiences jwt.Audience
	keys      map[string]*ecdsa.PublicKey // by key id
	getter    Getter
	now       func() time.Time
}

// NewServiceAccountVerifier accepts tokens from issuer for any of audiences, signed by any of
// keys (several, so keys can be rotated and several servers can sign). now may be nil.
func NewServiceAccountVerifier(issuer string, audiences []string, keys []*ecdsa.PublicKey, getter Getter, now func() time.Time) (*ServiceAccountVerifier, error) {
	if issuer == "" || len(audiences) == 0 || len(keys) == 0 || getter == nil {
		return nil, errors.New("service account verifier needs an issuer, audiences, keys and a getter")
	}
	v := &ServiceAccountVerifier{issuer: issuer, audiences: audiences, keys: map[string]*ecdsa.PublicKey{}, getter: getter, now: now}
	for _, k := range keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		v.keys[kid] = k
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// AuthenticateToken verifies a service account token. A token that is not a JWT, or is one
// from another issuer, is not this authenticator's (nil, false, nil); one that claims our
// issuer and fails any check is rejected with ErrInvalidCredential and the reason.
func (v *ServiceAccountVerifier) AuthenticateToken(ctx context.Context, token string) (*user.Info, bool, error) {
	if !v.claimsOurIssuer(token) {
		return nil, false, nil
	}
	invalid := func(format string, args ...any) (*user.Info, bool, error) {
		return nil, false, fmt.Errorf("%w: service account token: %s", ErrInvalidCredential, fmt.Sprintf(format, args...))
	}
	// Only ES256 is accepted: "none", HMAC (with the public key as secret) and any other
	// algorithm an attacker picks fail here, before a key is chosen.
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return invalid("%v", err)
	}
	if len(tok.Headers) != 1 {
		return invalid("want one signature, found %d", len(tok.Headers))
	}
	var std jwt.Claims
	var priv privateClaims
	if err := v.verifyClaims(tok, &std, &priv); err != nil {
		return invalid("%v", err)
	}
	if std.Expiry == nil {
		return invalid("no expiry")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audiences, Time: v.now()}, Leeway); err != nil {
		return invalid("%v", err)
	}
	kc := priv.Kubernetes
	if kc == nil || kc.Namespace == "" || kc.ServiceAccount.Name == "" || kc.ServiceAccount.UID == "" {
		return invalid("missing kubernetes.io claims")
	}
	if want := user.ServiceAccountUser(kc.Namespace, kc.ServiceAccount.Name); std.Subject != want {
		return invalid("subject %q does not match service account %q", std.Subject, want)
	}
	if err := v.checkBound(ctx, kc); err != nil {
		if errors.Is(err, ErrInvalidCredential) {
			return nil, false, fmt.Errorf("service account token: %w", err)
		}
		return nil, false, err
	}
	info := &user.Info{
		Name:   std.Subject,
		UID:    kc.ServiceAccount.UID,
		Groups: append(user.ServiceAccountGroups(kc.Namespace), user.AllAuthenticated),
		Extra:  map[string][]string{},
	}
	if std.ID != "" {
		info.Extra[user.ExtraCredentialID] = []string{"JTI=" + std.ID}
	}
	if kc.Pod != nil {
		info.Extra[user.ExtraPodName] = []string{kc.Pod.Name}
		info.Extra[user.ExtraPodUID] = []string{kc.Pod.UID}
	}
	if kc.Node != nil {
		info.Extra[user.ExtraNodeName] = []string{kc.Node.Name}
		info.Extra[user.ExtraNodeUID] = []string{kc.Node.UID}
	}
	return info, true, nil
}

// claimsOurIssuer peeks at the unverified payload: deciding whose token it is needs no trust,
// and answering "not mine" for other issuers lets another authenticator have it.
func (v *ServiceAccountVerifier) claimsOurIssuer(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(payload, &c) == nil && c.Issuer == v.issuer
}

func (v *ServiceAccountVerifier) verifyClaims(tok *jwt.JSONWebToken, dest ...any) error {
	if kid := tok.Headers[0].KeyID; kid != "" {
		key, ok := v.keys[kid]
		if !ok {
			return fmt.Errorf("unknown key id %q", kid)
		}
		if err := tok.Claims(key, dest...); err != nil {
			return fmt.Errorf("signature does not verify: %w", err)
		}
		return nil
	}
	for _, key := range v.keys {
		if tok.Claims(key, dest...) == nil {
			return nil
		}
	}
	return errors.New("signature does not verify with any key")
}

// checkBound makes sure the objects the token names still exist as the same objects: a
// deleted and recreated service account or pod has a new UID, and the old tokens must not
// work for the new one.
func (v *ServiceAccountVerifier) checkBound(ctx context.Context, kc *kubeClaims) error {
	sa, err := v.getter.GetServiceAccount(ctx, kc.Namespace, kc.ServiceAccount.Name)
	if err := boundErr(err, sa == nil, "service account", kc.Namespace+"/"+kc.ServiceAccount.Name); err != nil {
		return err
	}
	if string(sa.UID) != kc.ServiceAccount.UID {
		return fmt.Errorf("%w: service account %s/%s was recreated (uid %s, token for %s)", ErrInvalidCredential, kc.Namespace, kc.ServiceAccount.Name, sa.UID, kc.ServiceAccount.UID)
	}
	if sa.DeletionTimestamp != nil {
		return fmt.Errorf("%w: service account %s/%s is being deleted", ErrInvalidCredential, kc.Namespace, kc.ServiceAccount.Name)
	}
	if kc.Pod != nil {
		pod, err := v.getter.GetPod(ctx, kc.Namespace, kc.Pod.Name)
		if err := boundErr(err, pod == nil, "pod", kc.Namespace+"/"+kc.Pod.Name); err != nil {
			return err
		}
		if string(pod.UID) != kc.Pod.UID {
			return fmt.Errorf("%w: pod %s/%s was recreated (uid %s, token for %s)", ErrInvalidCredential, kc.Namespace, kc.Pod.Name, pod.UID, kc.Pod.UID)
		}
		if dt := pod.DeletionTimestamp; dt != nil && dt.Time.Add(DeletedPodGrace).Before(v.now()) {
			return fmt.Errorf("%w: pod %s/%s was deleted at %s", ErrInvalidCredential, kc.Namespace, kc.Pod.Name, dt.Time.UTC().Format(time.RFC3339))
		}
	}
	if kc.Node != nil {
		node, err := v.getter.GetNode(ctx, kc.Node.Name)
		if err := boundErr(err, node == nil, "node", kc.Node.Name); err != nil {
			return err
		}
		if string(node.UID) != kc.Node.UID {
			return fmt.Errorf("%w: node %s was recreated (uid %s, token for %s)", ErrInvalidCredential, kc.Node.Name, node.UID, kc.Node.UID)
		}
	}
	return nil
}

func boundErr(err error, missing bool, kind, name string) error {
	switch {
	case apierrors.IsNotFound(err) || (err == nil && missing):
		return fmt.Errorf("%w: %s %s no longer exists", ErrInvalidCredential, kind, name)
	case err != nil:
		return fmt.Errorf("checking %s %s: %w", kind, name, err)
	}
	return nil
}
