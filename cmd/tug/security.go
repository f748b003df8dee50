package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/cmd/tug/internal/kubeconfig"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/csrsigner"
	"github.com/tugboat-io/tug/core/auth/node"
	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/rbac"
	"github.com/tugboat-io/tug/core/auth/rootca"
	"github.com/tugboat-io/tug/core/auth/user"
)

// The service account token issuer and audience, kube-apiserver's defaults, so that tokens
// mean the same to workloads that check them.
const saIssuer = "https://kubernetes.default.svc.cluster.local"

// addSecurityFlags adds the flags of the API server's TLS, authentication and authorization.
func addSecurityFlags(f *pflag.FlagSet) {
	f.Bool("secure", true, "serve HTTPS with the cluster CA kept in <data-dir>/pki and authenticate and authorize every request (false: plain HTTP where anyone may do anything — development only)")
	f.String("token-auth-file", "", "CSV file of static bearer tokens: token,user,uid[,\"group1,group2\"] (as kube-apiserver's --token-auth-file)")
	f.StringSlice("tls-san", nil, "extra IP addresses and DNS names the serving certificate covers")
}

// security is what a secure API server serves, authenticates and authorizes with, and the
// credentials of the components that run in its process.
type security struct {
	bundle *pki.Bundle
	tls    *tls.Config
	// kubeletTLS is how the server reaches node agents: its kubelet client certificate, and
	// the CA their serving certificates are checked against.
	kubeletTLS *tls.Config
	authn      apiserver.Authenticator
	authz      apiserver.Authorizer
	rbac       *rbac.Authorizer
	// objects reads the API server's caches once the server exists: the authorizers and
	// authenticators are built before it.
	objects *objectSource
	signer  *authn.Signer
}

// newSecurity loads (or creates, on first start) the cluster PKI and builds the request
// stages. The CA and the service account key are shared through etcd, so every server of an
// HA cluster trusts the same certificates and tokens.
func (a *app) newSecurity(ctx context.Context, dataDir string, o apiOptions, cli *clientv3.Client) (*security, error) {
	sans, err := a.settings.List("tls-san")
	if err != nil {
		return nil, err
	}
	names, err := servingNames(o, sans)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, "pki")
	bundle, err := sharedPKI(ctx, cli, dir, pki.Options{Serving: names})
	if err != nil {
		return nil, err
	}
	if len(bundle.Written) > 0 {
		a.logger("tug").Info("cluster pki written", "dir", dir, "files", bundle.Written)
	}
	serving, err := bundle.Serving.TLSCertificate()
	if err != nil {
		return nil, err
	}
	// The CA goes with the serving certificate, so a joining node can pin it by hash.
	serving.Certificate = append(serving.Certificate, bundle.CA.Cert.Raw)
	s := &security{bundle: bundle, objects: &objectSource{}}
	s.tls = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serving},
		// Asked for, not required: a request may carry a token instead. The X509
		// authenticator verifies what is presented.
		ClientAuth: tls.RequestClientCert,
	}
	kubeletClient, err := bundle.KubeletClient.TLSCertificate()
	if err != nil {
		return nil, err
	}
	// Node agents' serving certificates are the kubelet serving CA's, and only this client
	// trusts that CA.
	s.kubeletTLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: bundle.KubeletServingCA.Pool(), Certificates: []tls.Certificate{kubeletClient}}
	s.signer, err = authn.NewSigner(bundle.SAKey, saIssuer, []string{saIssuer}, nil)
	if err != nil {
		return nil, err
	}
	verifier, err := authn.NewServiceAccountVerifier(saIssuer, []string{saIssuer}, []*ecdsa.PublicKey{&bundle.SAKey.PublicKey}, s.objects, nil)
	if err != nil {
		return nil, err
	}
	tokens := []authn.TokenAuthenticator{verifier, &authn.JoinTokens{Lister: s.objects}}
	if path := a.settings.String("token-auth-file"); path != "" {
		tf, err := authn.LoadTokenFile(path)
		if err != nil {
			return nil, fmt.Errorf("--token-auth-file: %w", err)
		}
		tokens = append([]authn.TokenAuthenticator{tf}, tokens...)
	}
	s.authn = authn.Union(&authn.X509{Roots: bundle.CA.Pool()}, authn.Bearer(authn.TokenUnion(tokens...)))
	// Order matters: masters skip every rule; the node authorizer denies a node's writes to
	// other nodes before RBAC could allow them.
	s.rbac = rbac.New(s.objects)
	s.authz = authz.Union(authz.Masters, node.New(s.objects), s.rbac)
	return s, nil
}

// servingNames are the names the serving certificate must cover: the listen address (every
// address of the machine when it is a wildcard), the machine's name, and --tls-san.
func servingNames(o apiOptions, sans []string) (pki.ServingNames, error) {
	var n pki.ServingNames
	if cidr, err := netip.ParsePrefix(o.clusterIPRange); err == nil {
		n.ServiceCIDR = cidr
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return n, fmt.Errorf("--listen: %w", err)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		n.IPs = append(n.IPs, ip)
	} else if host != "" && err != nil {
		n.DNSNames = append(n.DNSNames, host)
	} else if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLinkLocalUnicast() {
				n.IPs = append(n.IPs, p.Addr())
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		n.DNSNames = append(n.DNSNames, strings.ToLower(h))
	}
	for _, san := range sans {
		if ip, err := netip.ParseAddr(san); err == nil {
			n.IPs = append(n.IPs, ip)
		} else {
			n.DNSNames = append(n.DNSNames, san)
		}
	}
	return n, nil
}

// pkiKey is where the cluster's CA and service account key are shared in etcd, like k3s's
// bootstrap data: whoever can read etcd can read every Secret already, so the keys are no
// more exposed there than the data they protect.
const pkiKey = "/tug/pki/cluster"

type sharedKeys struct {
	CACert []byte `json:"caCert"`
	CAKey  []byte `json:"caKey"`
	SAKey  []byte `json:"saKey"`
	// The kubelet serving CA; absent from clusters made before it existed, which the first
	// server that has one adds it to.
	KubeletServingCACert []byte `json:"kubeletServingCACert,omitempty"`
	KubeletServingCAKey  []byte `json:"kubeletServingCAKey,omitempty"`
}

// sharedPKI makes dir hold the cluster's CAs and service account key — those in etcd when
// another server published them first, else this server's, which it then publishes — and
// loads or issues the leaf certificates from them.
func sharedPKI(ctx context.Context, cli *clientv3.Client, dir string, opts pki.Options) (*pki.Bundle, error) {
	// Each round either adopts what etcd holds or publishes what is missing there; a
	// publication that loses a race is followed by a round that adopts the winner's.
	for range 5 {
		get, err := cli.Get(ctx, pkiKey)
		if err != nil {
			return nil, fmt.Errorf("read the cluster pki from etcd: %w", err)
		}
		var held *sharedKeys
		if len(get.Kvs) == 1 {
			if held, err = adoptKeys(dir, get.Kvs[0].Value); err != nil {
				return nil, err
			}
		}
		b, err := pki.LoadOrCreate(dir, opts)
		if err != nil {
			return nil, err
		}
		if held != nil && len(held.KubeletServingCACert) > 0 {
			return b, nil
		}
		sa, err := pki.EncodeKey(b.SAKey)
		if err != nil {
			return nil, err
		}
		mine, err := json.Marshal(sharedKeys{CACert: b.CA.CertPEM, CAKey: b.CA.KeyPEM, SAKey: sa,
			KubeletServingCACert: b.KubeletServingCA.CertPEM, KubeletServingCAKey: b.KubeletServingCA.KeyPEM})
		if err != nil {
			return nil, err
		}
		// Published only if etcd still holds what was read: nothing, or a record without
		// a kubelet serving CA (whose other keys dir now holds, so mine carries them).
		unchanged := clientv3.Compare(clientv3.CreateRevision(pkiKey), "=", 0)
		if len(get.Kvs) == 1 {
			unchanged = clientv3.Compare(clientv3.ModRevision(pkiKey), "=", get.Kvs[0].ModRevision)
		}
		txn, err := cli.Txn(ctx).If(unchanged).Then(clientv3.OpPut(pkiKey, string(mine))).Commit()
		if err != nil {
			return nil, fmt.Errorf("publish the cluster pki to etcd: %w", err)
		}
		if txn.Succeeded {
			return b, nil
		}
	}
	return nil, fmt.Errorf("the cluster pki in etcd (%s) kept changing while this server adopted it", pkiKey)
}

// adoptKeys writes the shared CAs and service account key into dir, unless dir holds them
// already; leaf certificates of another CA are then reissued by LoadOrCreate.
func adoptKeys(dir string, raw []byte) (*sharedKeys, error) {
	var k sharedKeys
	if err := json.Unmarshal(raw, &k); err != nil || len(k.CACert) == 0 || len(k.CAKey) == 0 || len(k.SAKey) == 0 ||
		len(k.KubeletServingCACert) == 0 != (len(k.KubeletServingCAKey) == 0) {
		return nil, fmt.Errorf("the cluster pki in etcd (%s) is damaged: %v", pkiKey, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	type file struct {
		name string
		data []byte
		perm os.FileMode
	}
	files := []file{{pki.CAKeyFile, k.CAKey, 0o600}, {pki.CACertFile, k.CACert, 0o644}, {pki.SAKeyFile, k.SAKey, 0o600}}
	if len(k.KubeletServingCACert) > 0 {
		files = append(files, file{pki.KubeletServingCAKeyFile, k.KubeletServingCAKey, 0o600}, file{pki.KubeletServingCACertFile, k.KubeletServingCACert, 0o644})
	}
	for _, f := range files {
		if cur, err := os.ReadFile(filepath.Join(dir, f.name)); err == nil && string(cur) == string(f.data) {
			continue
		}
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, err
		}
	}
	// A public key of another key pair would be wrong; LoadOrCreate derives it again.
	if err := os.Remove(filepath.Join(dir, pki.SAPubFile)); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return &k, nil
}

// clientConfig returns the rest config a component running in this process reaches the API
// server with, as userName in groups (a client certificate issued at start, never written
// down); without security, a plain one. The scheduler and the node get the identities kube
// gives them, so that RBAC and the node authorizer bound them as in kube.
func (s *security) clientConfig(serverURL, userName string, groups ...string) (*rest.Config, error) {
	cfg := &rest.Config{Host: serverURL, ContentConfig: componentContent}
	if s == nil {
		return cfg, nil
	}
	kp, err := s.bundle.CA.IssueClient(userName, groups)
	if err != nil {
		return nil, fmt.Errorf("client certificate for %s: %w", userName, err)
	}
	cfg.TLSClientConfig = rest.TLSClientConfig{CAData: s.bundle.CA.CertPEM, CertData: kp.CertPEM, KeyData: kp.KeyPEM}
	return cfg, nil
}

// componentContent is how tug's own components talk to the API server: typed clients in
// protobuf, as kube's components do by default (--kube-api-content-type), which costs a
// fraction of JSON to decode in every informer; dynamic clients use JSON whatever this says.
var componentContent = rest.ContentConfig{
	ContentType:        "application/vnd.kubernetes.protobuf",
	AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
}

// loopback is the client config of the server's own machinery — the plugin manager, the
// admission chain — which acts as the server, as kube-apiserver's loopback client does.
func (s *security) loopback(serverURL string) (*rest.Config, error) {
	return s.clientConfig(serverURL, user.APIServer, user.Masters)
}

// configure gives the server its TLS, request stages and token issuer; without security it
// leaves them unset, which the server takes as plain HTTP and allow-all.
func (s *security) configure(cfg *apiserver.Config) {
	if s == nil {
		return
	}
	cfg.TLS, cfg.Authn, cfg.Authz, cfg.TokenIssuer = s.tls, s.authn, s.authz, s.signer
	// Nobody grants through a role or binding what they do not hold (kube's RBAC storage
	// rule), whatever admission policies run.
	cfg.Admission = &rbac.Escalation{Next: cfg.Admission, Authz: s.authz, RBAC: s.rbac}
	cfg.KubeletTLS, cfg.APIAudiences = s.kubeletTLS, []string{saIssuer}
	cfg.Rules = rulesOf{s.rbac}
}

// explainAttrs is what a request to the scheduler's explain endpoint asks: an explanation
// names nodes and scores, so whoever may get the pod may read it, and nobody else. /healthz
// is open, as the API server's is; any other path is a 404 to whoever is authenticated.
func explainAttrs(r *http.Request) (apiserver.Attributes, bool, error) {
	if r.URL.Path == "/healthz" {
		return apiserver.Attributes{}, false, nil
	}
	rest, _ := strings.CutPrefix(r.URL.Path, "/explain/")
	ns, name, found := strings.Cut(rest, "/")
	if rest == r.URL.Path || !found || ns == "" || name == "" || strings.Contains(name, "/") {
		return apiserver.Attributes{}, true, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path)
	}
	return apiserver.Attributes{Verb: "get", Version: "v1", Resource: "pods", Namespace: ns, Name: name,
		ResourceRequest: true, Path: r.URL.Path}, true, nil
}

// rulesOf lists a user's rules as the authorizers of s.authz, in their order, give them:
// masters everything (what authz.Masters allows, whatever the bindings say), nodes more than
// their rules (the node authorizer's rights are not rules, so their list is incomplete),
// and everyone what RBAC's bindings list.
type rulesOf struct{ rbac *rbac.Authorizer }

func (r rulesOf) RulesFor(ctx context.Context, u *apiserver.UserInfo, ns string) (authorizationv1.SubjectRulesReviewStatus, error) {
	st, err := r.rbac.RulesFor(ctx, u, ns)
	if err != nil || u == nil {
		return st, err
	}
	if u.InGroup(user.Masters) {
		all := []string{"*"}
		st.ResourceRules = append([]authorizationv1.ResourceRule{{Verbs: all, APIGroups: all, Resources: all}}, st.ResourceRules...)
		st.NonResourceRules = append([]authorizationv1.NonResourceRule{{Verbs: all, NonResourceURLs: all}}, st.NonResourceRules...)
	}
	st.Incomplete = u.InGroup(user.NodesGroup)
	return st, nil
}

func (s *security) caPEM() []byte {
	if s == nil {
		return nil
	}
	return s.bundle.CA.CertPEM
}

// csrSigner signs the client certificates of joining nodes.
func (s *security) csrSigner(loopback *rest.Config, log *slog.Logger) (*csrsigner.Signer, error) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	return &csrsigner.Signer{Client: client, CA: s.bundle.CA, ServingCA: s.bundle.KubeletServingCA, Logger: log}, nil
}

// rootCAPublisher publishes the CA into every namespace for the pods' token volumes.
func (s *security) rootCAPublisher(loopback *rest.Config, log *slog.Logger) (*rootca.Publisher, error) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	return &rootca.Publisher{Client: client, CAPEM: s.bundle.CA.CertPEM, Logger: log}, nil
}

// adminCredentials are the kubeconfig's: the CA and the admin certificate.
func (s *security) adminCredentials() kubeconfig.Credentials {
	if s == nil {
		return kubeconfig.Credentials{}
	}
	return kubeconfig.Credentials{CAPEM: s.bundle.CA.CertPEM, CertPEM: s.bundle.Admin.CertPEM, KeyPEM: s.bundle.Admin.KeyPEM}
}

// ensureRBAC creates tug's default roles and bindings where missing and brings those marked
// for automatic update back to the defaults, as kube-apiserver does at start. Objects already
// right are not written, so a restart costs reads only.
func (a *app) ensureRBAC(ctx context.Context, serverURL string) error {
	cfg, err := a.sec.loopback(serverURL)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = -1, 0 // the server's own start-up, not a client to throttle
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	roles, bindings := rbac.Bootstrap()
	api := cs.RbacV1()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8) // each is an etcd write on a first start; in parallel they take a fraction
	for _, r := range roles {
		g.Go(func() error {
			err := ensure(gctx, r, api.ClusterRoles().Create, api.ClusterRoles().Get, func(cur *rbacv1.ClusterRole) (*rbacv1.ClusterRole, bool) {
				if cur.Annotations[rbac.AutoupdateAnnotation] != "true" || (equality.Semantic.DeepEqual(cur.Rules, r.Rules) &&
					equality.Semantic.DeepEqual(cur.AggregationRule, r.AggregationRule) && equality.Semantic.DeepEqual(cur.Labels, r.Labels)) {
					return nil, false
				}
				next := cur.DeepCopy()
				next.Rules, next.AggregationRule, next.Labels = r.Rules, r.AggregationRule, r.Labels
				return next, true
			}, api.ClusterRoles().Update)
			if err != nil {
				return fmt.Errorf("clusterrole %s: %w", r.Name, err)
			}
			return nil
		})
	}
	for _, b := range bindings {
		g.Go(func() error {
			err := ensure(gctx, b, api.ClusterRoleBindings().Create, api.ClusterRoleBindings().Get, func(cur *rbacv1.ClusterRoleBinding) (*rbacv1.ClusterRoleBinding, bool) {
				if cur.Annotations[rbac.AutoupdateAnnotation] != "true" || equality.Semantic.DeepEqual(cur.Subjects, b.Subjects) {
					return nil, false
				}
				next := cur.DeepCopy()
				next.Subjects = b.Subjects
				return next, true
			}, api.ClusterRoleBindings().Update)
			if err != nil {
				return fmt.Errorf("clusterrolebinding %s: %w", b.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// ensure creates obj, or updates the existing one when reconcile says it differs.
func ensure[T interface {
	runtime.Object
	GetName() string
}](ctx context.Context, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	get func(context.Context, string, metav1.GetOptions) (T, error),
	reconcile func(cur T) (T, bool),
	update func(context.Context, T, metav1.UpdateOptions) (T, error)) error {
	cur, err := get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = create(ctx, obj, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		cur, err = get(ctx, obj.GetName(), metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	if next, ok := reconcile(cur); ok {
		_, err = update(ctx, next, metav1.UpdateOptions{})
	}
	return err
}

// objectSource answers the authenticators' and authorizers' reads from the API server's
// caches (rbac.Lister, node.PodLister, authn.Getter, authn.JoinTokenLister).
type objectSource struct {
	r *apiserver.ObjectReader
}

var (
	gvkClusterRole        = rbacv1.SchemeGroupVersion.WithKind("ClusterRole")
	gvkRole               = rbacv1.SchemeGroupVersion.WithKind("Role")
	gvkClusterRoleBinding = rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding")
	gvkRoleBinding        = rbacv1.SchemeGroupVersion.WithKind("RoleBinding")
)

func listAs[T runtime.Object](ctx context.Context, o *objectSource, gvk schema.GroupVersionKind, ns string, filter func(runtime.Object) bool) ([]T, error) {
	objs, err := o.r.List(ctx, gvk, ns, filter)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, obj := range objs {
		if t, ok := obj.(T); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func getAs[T runtime.Object](ctx context.Context, o *objectSource, gvk schema.GroupVersionKind, ns, name string) (T, error) {
	var zero T
	obj, err := o.r.Get(ctx, gvk, ns, name)
	if err != nil || obj == nil {
		return zero, err
	}
	t, _ := obj.(T)
	return t, nil
}

func (o *objectSource) ClusterRoles(ctx context.Context) ([]*rbacv1.ClusterRole, error) {
	return listAs[*rbacv1.ClusterRole](ctx, o, gvkClusterRole, "", nil)
}

func (o *objectSource) Roles(ctx context.Context, ns string) ([]*rbacv1.Role, error) {
	return listAs[*rbacv1.Role](ctx, o, gvkRole, ns, nil)
}

func (o *objectSource) ClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return listAs[*rbacv1.ClusterRoleBinding](ctx, o, gvkClusterRoleBinding, "", nil)
}

func (o *objectSource) RoleBindings(ctx context.Context, ns string) ([]*rbacv1.RoleBinding, error) {
	return listAs[*rbacv1.RoleBinding](ctx, o, gvkRoleBinding, ns, nil)
}

func (o *objectSource) PodsOnNode(ctx context.Context, nodeName, namespace string) ([]*corev1.Pod, error) {
	return listAs[*corev1.Pod](ctx, o, corev1.SchemeGroupVersion.WithKind("Pod"), namespace, func(obj runtime.Object) bool {
		p, ok := obj.(*corev1.Pod)
		return ok && p.Spec.NodeName == nodeName
	})
}

func (o *objectSource) GetServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	return getAs[*corev1.ServiceAccount](ctx, o, corev1.SchemeGroupVersion.WithKind("ServiceAccount"), ns, name)
}

func (o *objectSource) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return getAs[*corev1.Pod](ctx, o, corev1.SchemeGroupVersion.WithKind("Pod"), ns, name)
}

func (o *objectSource) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return getAs[*corev1.Node](ctx, o, corev1.SchemeGroupVersion.WithKind("Node"), "", name)
}

// Join tokens are kept as kube's bootstrap tokens are: Secrets of type
// bootstrap.kubernetes.io/token named bootstrap-token-<id> in kube-system.
const (
	joinTokenSecretType   = corev1.SecretType("bootstrap.kubernetes.io/token")
	joinTokenSecretPrefix = "bootstrap-token-"
)

func (o *objectSource) JoinToken(ctx context.Context, id string) (*authn.JoinToken, error) {
	s, err := getAs[*corev1.Secret](ctx, o, corev1.SchemeGroupVersion.WithKind("Secret"), metav1.NamespaceSystem, joinTokenSecretPrefix+id)
	if err != nil || s == nil || s.Type != joinTokenSecretType || string(s.Data["usage-bootstrap-authentication"]) != "true" {
		return nil, err
	}
	t := &authn.JoinToken{ID: string(s.Data["token-id"]), Secret: string(s.Data["token-secret"])}
	if t.ID != id {
		return nil, nil
	}
	if exp := string(s.Data["expiration"]); exp != "" {
		if t.Expires, err = time.Parse(time.RFC3339, exp); err != nil {
			// An expiry that cannot be read must not make the token last forever.
			return nil, fmt.Errorf("join token %s: expiration %q: %w", id, exp, err)
		}
	}
	if g := strings.TrimSpace(string(s.Data["auth-extra-groups"])); g != "" {
		t.ExtraGroups = strings.Split(g, ",")
	}
	return t, nil
}

// joinTokenSecret is the Secret that stores a join token.
func joinTokenSecret(id, secret string, ttl time.Duration, now time.Time) *corev1.Secret {
	data := map[string][]byte{
		"token-id": []byte(id), "token-secret": []byte(secret),
		"usage-bootstrap-authentication": []byte("true"), "usage-bootstrap-signing": []byte("true"),
		"description": []byte("join token made by tug token create"),
	}
	if ttl > 0 {
		data["expiration"] = []byte(now.Add(ttl).UTC().Format(time.RFC3339))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: joinTokenSecretPrefix + id, Namespace: metav1.NamespaceSystem},
		Type:       joinTokenSecretType,
		Data:       data,
	}
}
