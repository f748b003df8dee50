package api

import (
	"crypto/x509/pkix"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// --- fixtures ---

func role(m ...func(*rbacv1.Role)) *rbacv1.Role {
	return mk(&rbacv1.Role{ObjectMeta: nsMeta("pod-reader"), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}},
	}}, m...)
}

func clusterRole(m ...func(*rbacv1.ClusterRole)) *rbacv1.ClusterRole {
	return mk(&rbacv1.ClusterRole{ObjectMeta: clusterMeta("system:health-reader"), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
		{NonResourceURLs: []string{"/healthz", "/readyz"}, Verbs: []string{"get"}},
	}}, m...)
}

func subjects() []rbacv1.Subject {
	return []rbacv1.Subject{
		{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane@example.com"},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:authenticated"},
		{Kind: rbacv1.ServiceAccountKind, Name: "builder", Namespace: "ci"},
	}
}

func roleBinding(m ...func(*rbacv1.RoleBinding)) *rbacv1.RoleBinding {
	return mk(&rbacv1.RoleBinding{ObjectMeta: nsMeta("read-pods"), Subjects: subjects(),
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"}}, m...)
}

func clusterRoleBinding(m ...func(*rbacv1.ClusterRoleBinding)) *rbacv1.ClusterRoleBinding {
	return mk(&rbacv1.ClusterRoleBinding{ObjectMeta: clusterMeta("health"), Subjects: subjects(),
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:health-reader"}}, m...)
}

// testCSRPEM is a PEM certificate request for CN=jane, signed by its own fresh key.
func testCSRPEM(t testing.TB) []byte {
	t.Helper()
	req, _, err := pki.NewCSR(pkix.Name{CommonName: "jane", Organization: []string{"dev"}})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// testCertPEM is a PEM certificate, standing in for an issued one.
func testCertPEM(t testing.TB) []byte {
	t.Helper()
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM
}

func csrWith(request []byte, m ...func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
	return mk(&certificatesv1.CertificateSigningRequest{ObjectMeta: clusterMeta("jane"), Spec: certificatesv1.CertificateSigningRequestSpec{
		Request:    request,
		SignerName: "kubernetes.io/kube-apiserver-client",
		Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		Username:   "admin",
	}}, m...)
}

func approvedCond() certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "KubectlApprove", LastUpdateTime: metav1.NewTime(tableNow), LastTransitionTime: metav1.NewTime(tableNow)}
}

func deniedCond() certificatesv1.CertificateSigningRequestCondition {
	c := approvedCond()
	c.Type, c.Reason = certificatesv1.CertificateDenied, "KubectlDeny"
	return c
}

func withConds(cs ...certificatesv1.CertificateSigningRequestCondition) func(*certificatesv1.CertificateSigningRequest) {
	return func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = cs }
}

// --- rbac ---

func TestValidateRBAC(t *testing.T) {
	rule := func(r rbacv1.PolicyRule) func(*rbacv1.Role) {
		return func(x *rbacv1.Role) { x.Rules = []rbacv1.PolicyRule{r} }
	}
	crRule := func(r rbacv1.PolicyRule) func(*rbacv1.ClusterRole) {
		return func(x *rbacv1.ClusterRole) { x.Rules = []rbacv1.PolicyRule{r} }
	}
	subject := func(s rbacv1.Subject) func(*rbacv1.RoleBinding) {
		return func(b *rbacv1.RoleBinding) { b.Subjects = []rbacv1.Subject{s} }
	}
	crbSubject := func(s rbacv1.Subject) func(*rbacv1.ClusterRoleBinding) {
		return func(b *rbacv1.ClusterRoleBinding) { b.Subjects = []rbacv1.Subject{s} }
	}
	aggregated := func(sels ...metav1.LabelSelector) func(*rbacv1.ClusterRole) {
		return func(r *rbacv1.ClusterRole) {
			r.Rules = nil
			r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: sels}
		}
	}
	runCases(t, []vcase{
		{name: "name a path segment", res: "roles", obj: role(func(r *rbacv1.Role) { r.Name = "a/b" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "colons in names", res: "clusterroles", obj: clusterRole(func(r *rbacv1.ClusterRole) { r.Name = "system:node:worker-1" })},
		{name: "namespace required", res: "roles", obj: role(func(r *rbacv1.Role) { r.Namespace = "" }),
			want: []wantErr{required("metadata.namespace")}},
		{name: "verbs required", res: "roles", obj: role(rule(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}})),
			want: []wantErr{required("rules[0].verbs")}},
		{name: "apiGroups required", res: "roles", obj: role(rule(rbacv1.PolicyRule{Resources: []string{"pods"}, Verbs: []string{"get"}})),
			want: []wantErr{required("rules[0].apiGroups")}},
		{name: "resources required", res: "roles", obj: role(rule(rbacv1.PolicyRule{APIGroups: []string{""}, Verbs: []string{"get"}})),
			want: []wantErr{required("rules[0].resources")}},
		{name: "no non-resource URLs in a namespace", res: "roles", obj: role(rule(rbacv1.PolicyRule{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}})),
			want: []wantErr{invalid("rules[0].nonResourceURLs")}},
		{name: "non-resource URLs not mixed with resources", res: "clusterroles",
			obj:  clusterRole(crRule(rbacv1.PolicyRule{NonResourceURLs: []string{"/healthz"}, Resources: []string{"pods"}, Verbs: []string{"get"}})),
			want: []wantErr{invalid("rules[0].nonResourceURLs")}},
		{name: "non-resource URLs not mixed with resource names", res: "clusterroles",
			obj:  clusterRole(crRule(rbacv1.PolicyRule{NonResourceURLs: []string{"/healthz"}, ResourceNames: []string{"x"}, Verbs: []string{"get"}})),
			want: []wantErr{invalid("rules[0].nonResourceURLs")}},
		{name: "aggregation", res: "clusterroles", obj: clusterRole(aggregated(metav1.LabelSelector{
			MatchLabels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}}))},
		{name: "aggregation needs selectors", res: "clusterroles", obj: clusterRole(aggregated()),
			want: []wantErr{required("aggregationRule.clusterRoleSelectors")}},
		{name: "aggregation selectors valid", res: "clusterroles", obj: clusterRole(aggregated(metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}})),
			want: []wantErr{invalid("aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator"), invalid("aggregationRule.clusterRoleSelectors[0]")}},

		{name: "roleRef a ClusterRole", res: "rolebindings", obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Kind = "ClusterRole" })},
		{name: "roleRef apiGroup", res: "rolebindings", obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.APIGroup = "example.com" }),
			want: []wantErr{unsupported("roleRef.apiGroup")}},
		{name: "roleRef kind", res: "rolebindings", obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Kind = "Pod" }),
			want: []wantErr{unsupported("roleRef.kind")}},
		{name: "roleRef name required", res: "rolebindings", obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "" }),
			want: []wantErr{required("roleRef.name")}},
		{name: "roleRef name a path segment", res: "rolebindings", obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Name = ".." }),
			want: []wantErr{invalid("roleRef.name")}},
		{name: "roleRef only a ClusterRole", res: "clusterrolebindings", obj: clusterRoleBinding(func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Kind = "Role" }),
			want: []wantErr{unsupported("roleRef.kind")}},
		{name: "roleRef immutable", res: "rolebindings", old: roleBinding(), obj: roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "pod-writer" }),
			want: []wantErr{invalid("roleRef")}},
		{name: "roleRef immutable", res: "clusterrolebindings", old: clusterRoleBinding(),
			obj:  clusterRoleBinding(func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "admin" }),
			want: []wantErr{invalid("roleRef")}},
		{name: "subjects may change", res: "rolebindings", old: roleBinding(), obj: roleBinding(func(b *rbacv1.RoleBinding) { b.Subjects = nil })},

		{name: "subject name required", res: "rolebindings", obj: roleBinding(subject(rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName})),
			want: []wantErr{required("subjects[0].name")}},
		{name: "subject kind", res: "rolebindings", obj: roleBinding(subject(rbacv1.Subject{Kind: "Robot", Name: "r2"})),
			want: []wantErr{unsupported("subjects[0].kind")}},
		{name: "user apiGroup", res: "rolebindings", obj: roleBinding(subject(rbacv1.Subject{Kind: rbacv1.UserKind, Name: "jane"})),
			want: []wantErr{unsupported("subjects[0].apiGroup")}},
		{name: "group apiGroup", res: "rolebindings", obj: roleBinding(subject(rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: "v1", Name: "devs"})),
			want: []wantErr{unsupported("subjects[0].apiGroup")}},
		{name: "service account apiGroup", res: "rolebindings",
			obj:  roleBinding(subject(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, APIGroup: rbacv1.GroupName, Name: "builder"})),
			want: []wantErr{unsupported("subjects[0].apiGroup")}},
		{name: "service account name", res: "rolebindings", obj: roleBinding(subject(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "Builder"})),
			want: []wantErr{invalid("subjects[0].name")}},
		{name: "service account namespace optional in a namespace", res: "rolebindings",
			obj: roleBinding(subject(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "builder"}))},
		{name: "service account namespace required", res: "clusterrolebindings",
			obj:  clusterRoleBinding(crbSubject(rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "builder"})),
			want: []wantErr{required("subjects[0].namespace")}},
	})
}

func TestRoleRefChangeMessage(t *testing.T) {
	errs := validators["rolebindings"].update(roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "other" }), roleBinding())
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "roleRef: Invalid value: ") || !strings.HasSuffix(errs[0].Error(), ": cannot change roleRef") {
		t.Fatalf("errors %v", errs)
	}
}

func TestDefaultBindings(t *testing.T) {
	b := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"}, Subjects: []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "u"}, {Kind: rbacv1.GroupKind, Name: "g"},
		{Kind: rbacv1.ServiceAccountKind, Name: "sa"}, {Kind: rbacv1.UserKind, APIGroup: "example.com", Name: "x"},
	}}
	defaulters["rolebindings"](b)
	if b.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef.apiGroup %q", b.RoleRef.APIGroup)
	}
	got := []string{b.Subjects[0].APIGroup, b.Subjects[1].APIGroup, b.Subjects[2].APIGroup, b.Subjects[3].APIGroup}
	if want := []string{rbacv1.GroupName, rbacv1.GroupName, "", "example.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("subject apiGroups %q, want %q", got, want)
	}
	crb := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "r"}}
	defaulters["clusterrolebindings"](crb)
	if crb.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("cluster roleRef.apiGroup %q", crb.RoleRef.APIGroup)
	}
}

// --- certificate signing requests ---

func TestValidateCertificateSigningRequest(t *testing.T) {
	req := testCSRPEM(t)
	cert := testCertPEM(t)
	csr := func(m ...func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		return csrWith(req, m...)
	}
	// A request whose signature does not match its key: the last byte of the DER flipped.
	block, _ := pem.Decode(req)
	der := append([]byte(nil), block.Bytes...)
	der[len(der)-1] ^= 0xff
	badSig := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	signer := func(s string) func(*certificatesv1.CertificateSigningRequest) {
		return func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = s }
	}
	res := "certificatesigningrequests"
	runCases(t, []vcase{
		{name: "any name", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Name = "node-csr-Ab_C" })},
		{name: "request not PEM", res: res, obj: csrWith([]byte("garbage")), want: []wantErr{invalid("spec.request")}},
		{name: "request a certificate, not a request", res: res, obj: csrWith(cert), want: []wantErr{invalid("spec.request")}},
		{name: "request does not parse", res: res, obj: csrWith(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}})),
			want: []wantErr{invalid("spec.request")}},
		{name: "request signature checks", res: res, obj: csrWith(badSig), want: []wantErr{invalid("spec.request")}},
		{name: "usages required", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil }),
			want: []wantErr{required("spec.usages")}},
		{name: "usages known", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = append(c.Spec.Usages, "teleport") }),
			want: []wantErr{unsupported("spec.usages[1]")}},
		{name: "usages once", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, c.Spec.Usages[0])
		}),
			want: []wantErr{duplicate("spec.usages[1]")}},
		{name: "signerName required", res: res, obj: csr(signer("")), want: []wantErr{required("spec.signerName")}},
		{name: "signerName has a path", res: res, obj: csr(signer("example.com")), want: []wantErr{invalid("spec.signerName")}},
		{name: "signerName one slash", res: res, obj: csr(signer("example.com/a/b")), want: []wantErr{invalid("spec.signerName")}},
		{name: "signerName domain dotted", res: res, obj: csr(signer("localhost/signer")), want: []wantErr{invalid("spec.signerName")}},
		{name: "signerName domain labels", res: res, obj: csr(signer("Example_Com.io/signer")), want: []wantErr{invalid("spec.signerName")}},
		{name: "signerName path subdomains", res: res, obj: csr(signer("example.com/Signer")), want: []wantErr{invalid("spec.signerName")}},
		{name: "signerName dotted path", res: res, obj: csr(signer("example.com/team-a.signer"))},
		{name: "signerName not too long", res: res, obj: csr(signer("example.com/" + strings.Repeat("a.", 300) + "a")),
			want: []wantErr{tooLong("spec.signerName")}},
		{name: "signerName not the legacy one", res: res, obj: csr(signer(legacyUnknownSigner)), want: []wantErr{invalid("spec.signerName")}},
		{name: "expirationSeconds at least 600", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = tptr(int32(599)) }),
			want: []wantErr{invalid("spec.expirationSeconds")}},
		{name: "expirationSeconds 600", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = tptr(int32(600)) })},

		{name: "condition type required", res: res, obj: csr(withConds(certificatesv1.CertificateSigningRequestCondition{Status: corev1.ConditionTrue})),
			want: []wantErr{required("status.conditions[0].type")}},
		{name: "condition status required", res: res, obj: csr(withConds(certificatesv1.CertificateSigningRequestCondition{Type: "Verified"})),
			want: []wantErr{required("status.conditions[0].status")}},
		{name: "other conditions any status", res: res, obj: csr(withConds(certificatesv1.CertificateSigningRequestCondition{Type: "Verified", Status: corev1.ConditionFalse}))},
		{name: "Approved only True", res: res, obj: csr(withConds(certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse})),
			want: []wantErr{unsupported("status.conditions[0].status")}},
		{name: "Approved and Denied exclusive", res: res, obj: csr(withConds(approvedCond(), deniedCond())),
			want: []wantErr{invalid("status.conditions[1].type")}},
		{name: "condition types once", res: res, obj: csr(withConds(approvedCond(), approvedCond())),
			want: []wantErr{duplicate("status.conditions[1].type")}},
		{name: "certificate PEM", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("nope") }),
			want: []wantErr{invalid("status.certificate")}},
		{name: "certificate blocks only", res: res, obj: csr(func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Certificate = append(append([]byte(nil), cert...), req...)
		}),
			want: []wantErr{invalid("status.certificate")}},

		// Updates through the main resource: no approval, no certificate.
		{name: "metadata update", res: res, old: csr(), obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Labels = map[string]string{"a": "b"} })},
		{name: "main may not approve", res: res, old: csr(), obj: csr(withConds(approvedCond())),
			want: []wantErr{forbidden("status.conditions")}},
		{name: "main may not set the certificate", res: res, old: csr(), obj: csr(func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert }),
			want: []wantErr{forbidden("status.certificate")}},
		{name: "no path removes an approval", res: res, old: csr(withConds(approvedCond())), obj: csr(),
			want: []wantErr{forbidden("status.conditions")}},
	})
}

func TestValidateCertificateSigningRequestPaths(t *testing.T) {
	req := testCSRPEM(t)
	cert := testCertPEM(t)
	csr := func(m ...func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		return csrWith(req, m...)
	}
	issued := func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert }
	failed := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerError"}
	cases := []struct {
		name     string
		sub      string
		obj, old *certificatesv1.CertificateSigningRequest
		want     []wantErr
	}{
		{"approve", SubApproval, csr(withConds(approvedCond())), csr(), nil},
		{"deny", SubApproval, csr(withConds(deniedCond())), csr(), nil},
		{"approval may not deny an approved request", SubApproval, csr(withConds(approvedCond(), deniedCond())), csr(withConds(approvedCond())),
			[]wantErr{invalid("status.conditions[1].type")}},
		{"approval may not remove an approval", SubApproval, csr(), csr(withConds(approvedCond())), []wantErr{forbidden("status.conditions")}},
		{"approval may not set the certificate", SubApproval, csr(issued), csr(), []wantErr{forbidden("status.certificate")}},
		{"issue", SubStatus, csr(withConds(approvedCond()), issued), csr(withConds(approvedCond())), nil},
		{"status may not reissue", SubStatus, csr(withConds(approvedCond()), func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = testCertPEM(t) }),
			csr(withConds(approvedCond()), issued), []wantErr{forbidden("status.certificate")}},
		{"status may report failure", SubStatus, csr(withConds(approvedCond(), failed)), csr(withConds(approvedCond())), nil},
		{"status may not approve", SubStatus, csr(withConds(approvedCond())), csr(), []wantErr{forbidden("status.conditions")}},
		{"status certificate must parse", SubStatus, csr(func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("x") }), csr(),
			[]wantErr{invalid("status.certificate")}},
	}
	for _, tc := range cases {
		t.Run(tc.sub+"/"+tc.name, func(t *testing.T) {
			checkErrs(t, updateStrategies["certificatesigningrequests"][tc.sub].Validate(tc.obj, tc.old), tc.want)
		})
	}
}

func TestCSRSetRequester(t *testing.T) {
	csr := csrWith(nil, func(c *certificatesv1.CertificateSigningRequest) {
		c.Spec.UID, c.Spec.Groups = "forged", []string{"system:masters"}
		c.Spec.Extra = map[string]certificatesv1.ExtraValue{"x": {"y"}}
	})
	k := kindFor(t, "certificatesigningrequests")
	k.SetRequester(csr, &user.Info{Name: "jane", UID: "42", Groups: []string{"dev", user.AllAuthenticated},
		Extra: map[string][]string{"scopes": {"a", "b"}}})
	want := certificatesv1.CertificateSigningRequestSpec{Username: "jane", UID: "42", Groups: []string{"dev", user.AllAuthenticated},
		Extra: map[string]certificatesv1.ExtraValue{"scopes": {"a", "b"}}}
	got := csr.Spec
	got.SignerName, got.Usages = "", nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec %+v\nwant %+v", got, want)
	}
	k.SetRequester(csr, nil)
	if csr.Spec.Username != "" || csr.Spec.UID != "" || csr.Spec.Groups != nil || csr.Spec.Extra != nil {
		t.Errorf("without a user the identity stays: %+v", csr.Spec)
	}
}

func kindFor(t *testing.T, res string) *Kind {
	t.Helper()
	for _, k := range Builtin() {
		if k.Resource == res {
			return k
		}
	}
	t.Fatalf("no kind %s", res)
	return nil
}

func TestCSRPrepareUpdate(t *testing.T) {
	pinTableClock(t)
	now := metav1.NewTime(tableNow)
	earlier := metav1.NewTime(tableNow.Add(-time.Hour))
	req := testCSRPEM(t)
	cert := testCertPEM(t)
	stored := csrWith(req, withConds(certificatesv1.CertificateSigningRequestCondition{Type: "Verified", Status: corev1.ConditionTrue,
		LastUpdateTime: earlier, LastTransitionTime: earlier}))
	forged := func(c *certificatesv1.CertificateSigningRequest) {
		c.Spec.Username, c.Spec.Usages = "mallory", []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
	}
	prepare := func(sub string, obj runtime.Object) *certificatesv1.CertificateSigningRequest {
		updateStrategies["certificatesigningrequests"][sub].Prepare(obj, stored.DeepCopy())
		return obj.(*certificatesv1.CertificateSigningRequest)
	}

	main := prepare("", csrWith(req, forged))
	if !reflect.DeepEqual(main.Spec, stored.Spec) {
		t.Errorf("main update changed spec: %+v", main.Spec)
	}

	// Approval: new conditions get both times, a condition whose type and status are already
	// stored keeps its transition time; spec and certificate stay as stored.
	approval := prepare(SubApproval, csrWith(req, forged, func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Certificate = cert
		c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
			{Type: "Verified", Status: corev1.ConditionTrue},
			{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "KubectlApprove"},
		}
	}))
	if !reflect.DeepEqual(approval.Spec, stored.Spec) || approval.Status.Certificate != nil {
		t.Errorf("approval changed more than conditions: %+v", approval)
	}
	c := approval.Status.Conditions
	if len(c) != 2 || !c[0].LastTransitionTime.Equal(&earlier) || !c[0].LastUpdateTime.Equal(&now) ||
		!c[1].LastTransitionTime.Equal(&now) || !c[1].LastUpdateTime.Equal(&now) || c[1].Reason != "KubectlApprove" {
		t.Errorf("approval conditions %+v", c)
	}

	// Status: the certificate is taken, a changed approval is put back as stored.
	approvedStored := stored.DeepCopy()
	approvedStored.Status.Conditions = append(approvedStored.Status.Conditions, approvedCond())
	obj := csrWith(req, forged, func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Certificate = cert
		a := approvedCond()
		a.Reason = "Rewritten"
		c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{a}
	})
	updateStrategies["certificatesigningrequests"][SubStatus].Prepare(obj, approvedStored)
	if !reflect.DeepEqual(obj.Spec, stored.Spec) || string(obj.Status.Certificate) != string(cert) || obj.Status.Conditions[0].Reason != "KubectlApprove" {
		t.Errorf("status update: %+v", obj)
	}
}
