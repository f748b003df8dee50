package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/auth/user"
)

const (
	testIssuer = "https://kubernetes.default.svc.cluster.local"
	testAud    = "https://kubernetes.default.svc.cluster.local"
)

// fakeGetter holds objects by namespace/name; a missing one is a NotFound error.
type fakeGetter struct {
	sas   map[string]*corev1.ServiceAccount
	pods  map[string]*corev1.Pod
	nodes map[string]*corev1.Node
	err   error
}

func (g *fakeGetter) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if g.err != nil {
		return nil, g.err
	}
	if sa, ok := g.sas[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
}

func (g *fakeGetter) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := g.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
}

// GetNode answers a missing node with (nil, nil), the other shape Getter allows.
func (g *fakeGetter) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	return g.nodes[name], nil
}

func newGetter() *fakeGetter {
	return &fakeGetter{
		sas:   map[string]*corev1.ServiceAccount{"ns/builder": {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "builder", UID: "sa-1"}}},
		pods:  map[string]*corev1.Pod{"ns/web": {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "pod-1"}}},
		nodes: map[string]*corev1.Node{"n1": {ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-1"}}},
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	builder = ObjectRef{Name: "builder", UID: "sa-1"}
	web     = &ObjectRef{Name: "web", UID: "pod-1"}
	n1      = &ObjectRef{Name: "n1", UID: "node-1"}
)

func issue(t *testing.T, key *ecdsa.PrivateKey, issuer string, now time.Time, req TokenRequest) string {
	t.Helper()
	s, err := NewSigner(key, issuer, []string{testAud}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signRaw signs arbitrary claims with key, with the key id kube would give it, to build
// tokens a Signer never would.
func signRaw(t *testing.T, key *ecdsa.PrivateKey, claims ...any) string {
	t.Helper()
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := jwt.Signed(s)
	for _, c := range claims {
		b = b.Claims(c)
	}
	tok, err := b.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	j, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(j)
}

func TestServiceAccountTokens(t *testing.T) {
	key := newKey(t)
	now := time.Now()
	valid := issue(t, key, testIssuer, now, TokenRequest{Namespace: "ns", ServiceAccount: builder})
	parts := strings.Split(valid, ".")
	goodClaims := func() (jwt.Claims, privateClaims) {
		return jwt.Claims{Issuer: testIssuer, Subject: "system:serviceaccount:ns:builder", Audience: jwt.Audience{testAud}, Expiry: jwt.NewNumericDate(now.Add(time.Hour))},
			privateClaims{Kubernetes: &kubeClaims{Namespace: "ns", ServiceAccount: claimRef{Name: "builder", UID: "sa-1"}}}
	}
	noExp, priv := goodClaims()
	noExp.Expiry = nil
	wrongSub, _ := goodClaims()
	wrongSub.Subject = "system:serviceaccount:kube-system:builder"
	std, _ := goodClaims()

	// HS256 keyed with the public key: the classic algorithm confusion forgery.
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubDER}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := jwt.Signed(hsSigner).Claims(std).Claims(priv).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	// Unsigned (alg none) with a valid payload.
	none := b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
	// A payload edited after signing (to another namespace), signature kept.
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)
	payload["sub"] = "system:serviceaccount:kube-system:builder"
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]
	// A kid-less token signed by another key.
	otherKey := newKey(t)
	noKid, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	forgedNoKid, err := jwt.Signed(noKid).Claims(std).Claims(priv).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	// HS256 with an HMAC computed by hand over a header naming our key id.
	kid, _ := KeyID(&key.PublicKey)
	h := hmac.New(sha256.New, pubDER)
	signing := b64(map[string]string{"alg": "HS256", "kid": kid}) + "." + parts[1]
	h.Write([]byte(signing))
	hsKid := signing + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))

	tests := []struct {
		name    string
		token   string
		wantErr string // "" and !ok: not ours
		ok      bool
	}{
		{"valid", valid, "", true},
		{"expired", issue(t, key, testIssuer, now.Add(-2*time.Hour), TokenRequest{Namespace: "ns", ServiceAccount: builder}), "expired", false},
		{"expired within leeway", issue(t, key, testIssuer, now.Add(-time.Hour-30*time.Second), TokenRequest{Namespace: "ns", ServiceAccount: builder}), "", true},
		{"not yet valid", issue(t, key, testIssuer, now.Add(time.Hour), TokenRequest{Namespace: "ns", ServiceAccount: builder}), "not valid yet", false},
		{"forged with another key", issue(t, otherKey, testIssuer, now, TokenRequest{Namespace: "ns", ServiceAccount: builder}), "unknown key id", false},
		{"forged without key id", forgedNoKid, "does not verify", false},
		{"wrong audience", issue(t, key, testIssuer, now, TokenRequest{Namespace: "ns", ServiceAccount: builder, Audiences: []string{"vault"}}), "audience", false},
		{"wrong issuer is not ours", issue(t, key, "https://other.example", now, TokenRequest{Namespace: "ns", ServiceAccount: builder}), "", false},
		{"alg none", none, "unexpected signature algorithm", false},
		{"HS256 with the public key", hs, "unexpected signature algorithm", false},
		{"HS256 naming our key id", hsKid, "unexpected signature algorithm", false},
		{"payload edited", tampered, "signature does not verify", false},
		{"no expiry", signRaw(t, key, noExp, priv), "no expiry", false},
		{"subject does not match claims", signRaw(t, key, wrongSub, priv), "does not match", false},
		{"no kubernetes.io claims", signRaw(t, key, std), "missing kubernetes.io", false},
		{"truncated signature", valid[:len(valid)-10], "signature does not verify", false},
		{"signature dropped", parts[0] + "." + parts[1] + ".", "signature does not verify", false},
		{"two parts", parts[0] + "." + parts[1], "", false},
		{"garbage", "garbage", "", false},
		{"three garbage parts", "a.b.c", "", false},
		{"empty", "", "", false},
		{"static token", "abc123", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewServiceAccountVerifier(testIssuer, []string{testAud}, []*ecdsa.PublicKey{&key.PublicKey}, newGetter(), func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			info, ok, err := v.AuthenticateToken(context.Background(), tt.token)
			if ok != tt.ok {
				t.Fatalf("ok = %v (err %v), want %v", ok, err, tt.ok)
			}
			switch {
			case tt.ok:
				if err != nil || info.Name != "system:serviceaccount:ns:builder" || info.UID != "sa-1" {
					t.Fatalf("got %+v, %v", info, err)
				}
				wantGroups := []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"}
				if !slices.Equal(info.Groups, wantGroups) {
					t.Fatalf("groups %q, want %q", info.Groups, wantGroups)
				}
				if id := info.Extra[user.ExtraCredentialID]; len(id) != 1 || !strings.HasPrefix(id[0], "JTI=") {
					t.Fatalf("credential id %q", id)
				}
			case tt.wantErr == "":
				if err != nil || info != nil {
					t.Fatalf("not ours should be (nil, false, nil), got %+v, %v", info, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidCredential) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
			}
		})
	}
}

func TestServiceAccountTokenClaims(t *testing.T) {
	key := newKey(t)
	now := time.Unix(1_700_000_000, 0)
	s, err := NewSigner(key, testIssuer, []string{testAud}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := s.Issue(TokenRequest{Namespace: "ns", ServiceAccount: builder, Pod: web, Node: n1, Expiration: 10 * time.Minute, Audiences: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("exp %v", exp)
	}
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": testIssuer, "sub": "system:serviceaccount:ns:builder", "aud": []any{"a", "b"},
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(exp.Unix()),
		"kubernetes.io": map[string]any{
			"namespace":      "ns",
			"serviceaccount": map[string]any{"name": "builder", "uid": "sa-1"},
			"pod":            map[string]any{"name": "web", "uid": "pod-1"},
			"node":           map[string]any{"name": "n1", "uid": "node-1"},
		},
	}
	jti, _ := got["jti"].(string)
	if len(jti) != 36 {
		t.Errorf("jti %q is not a UUID", jti)
	}
	delete(got, "jti")
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("claims\n got %s\nwant %s", gotJSON, wantJSON)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(hdr), `"alg":"ES256"`) || !strings.Contains(string(hdr), `"kid":`) {
		t.Errorf("header %s", hdr)
	}
	if _, _, err := s.Issue(TokenRequest{Namespace: "ns", ServiceAccount: ObjectRef{Name: "x"}}); err == nil {
		t.Error("issued a token for a service account without a uid")
	}
}

// TestServiceAccountTokenBinding: a token dies with the objects it is bound to.
func TestServiceAccountTokenBinding(t *testing.T) {
	key := newKey(t)
	now := time.Now()
	bound := issue(t, key, testIssuer, now, TokenRequest{Namespace: "ns", ServiceAccount: builder, Pod: web, Node: n1})
	unbound := issue(t, key, testIssuer, now, TokenRequest{Namespace: "ns", ServiceAccount: builder})
	tests := []struct {
		name    string
		token   string
		change  func(g *fakeGetter)
		wantErr string
		invalid bool // the error is ErrInvalidCredential, not "could not check"
	}{
		{"bound, all present", bound, func(*fakeGetter) {}, "", false},
		{"pod deleted", bound, func(g *fakeGetter) { delete(g.pods, "ns/web") }, "pod ns/web no longer exists", true},
		{"pod recreated", bound, func(g *fakeGetter) { g.pods["ns/web"] = podWithUID("pod-2") }, "pod ns/web was recreated", true},
		{"unbound survives pod recreation", unbound, func(g *fakeGetter) { g.pods["ns/web"] = podWithUID("pod-2") }, "", false},
		{"pod deleting within grace", bound, func(g *fakeGetter) {
			g.pods["ns/web"].DeletionTimestamp = &metav1.Time{Time: now.Add(-30 * time.Second)}
		}, "", false},
		{"pod deleted beyond grace", bound, func(g *fakeGetter) {
			g.pods["ns/web"].DeletionTimestamp = &metav1.Time{Time: now.Add(-2 * time.Minute)}
		}, "was deleted", true},
		{"service account deleted", unbound, func(g *fakeGetter) { delete(g.sas, "ns/builder") }, "service account ns/builder no longer exists", true},
		{"service account recreated", unbound, func(g *fakeGetter) { g.sas["ns/builder"].UID = "sa-2" }, "was recreated", true},
		{"service account being deleted", unbound, func(g *fakeGetter) { g.sas["ns/builder"].DeletionTimestamp = &metav1.Time{Time: now} }, "being deleted", true},
		{"node deleted", bound, func(g *fakeGetter) { delete(g.nodes, "n1") }, "node n1 no longer exists", true},
		{"node recreated", bound, func(g *fakeGetter) { g.nodes["n1"].UID = "node-2" }, "node n1 was recreated", true},
		{"getter fails", unbound, func(g *fakeGetter) { g.err = errors.New("store unavailable") }, "store unavailable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGetter()
			tt.change(g)
			v, err := NewServiceAccountVerifier(testIssuer, []string{testAud}, []*ecdsa.PublicKey{&newKey(t).PublicKey, &key.PublicKey}, g, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			info, ok, err := v.AuthenticateToken(context.Background(), tt.token)
			if tt.wantErr == "" {
				if err != nil || !ok {
					t.Fatalf("got %v, %v", ok, err)
				}
				if tt.token == bound {
					if info.Extra[user.ExtraPodName][0] != "web" || info.Extra[user.ExtraPodUID][0] != "pod-1" || info.Extra[user.ExtraNodeName][0] != "n1" {
						t.Fatalf("extra %v", info.Extra)
					}
				} else if _, has := info.Extra[user.ExtraPodName]; has {
					t.Fatalf("unbound token has pod extra %v", info.Extra)
				}
				return
			}
			if ok || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, %v; want error containing %q", ok, err, tt.wantErr)
			}
			if errors.Is(err, ErrInvalidCredential) != tt.invalid {
				t.Fatalf("errors.Is(err, ErrInvalidCredential) = %v, want %v", !tt.invalid, tt.invalid)
			}
		})
	}
}

func podWithUID(uid types.UID) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: uid}}
}
