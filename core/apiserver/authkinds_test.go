package apiserver

import (
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/auth/pki"
)

// table GETs path as a meta.k8s.io/v1 Table and returns its column names and rows.
func (s *testServer) table(path string) ([]string, [][]any) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var t metav1.Table
	if err := json.NewDecoder(res.Body).Decode(&t); err != nil || res.StatusCode != http.StatusOK {
		s.t.Fatalf("table of %s: %d %v", path, res.StatusCode, err)
	}
	var cols []string
	for _, c := range t.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	var rows [][]any
	for _, r := range t.Rows {
		rows = append(rows, r.Cells)
	}
	return cols, rows
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRBACKindsServed(t *testing.T) {
	s := newTestServer(t)
	const rbac = "/apis/rbac.authorization.k8s.io/v1"
	role := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader"},
	  "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]}`
	s.must(s.do("POST", rbac+"/namespaces/default/roles", js, role), 201)
	got := s.must(s.do("GET", rbac+"/namespaces/default/roles/pod-reader", "", ""), 200)
	if got.str("rules", "0", "verbs") != `["get","list","watch"]` || got.str("metadata", "namespace") != "default" {
		t.Fatalf("role: %s", got.raw)
	}

	// Subjects and the role reference without API groups get kube's defaults.
	binding := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"read-pods"},
	  "roleRef":{"kind":"Role","name":"pod-reader"},
	  "subjects":[{"kind":"User","name":"jane"},{"kind":"ServiceAccount","name":"builder","namespace":"ci"}]}`
	b := s.must(s.do("POST", rbac+"/namespaces/default/rolebindings", js, binding), 201)
	if b.str("roleRef", "apiGroup") != rbacv1.GroupName || b.str("subjects", "0", "apiGroup") != rbacv1.GroupName || b.str("subjects", "1", "apiGroup") != "" {
		t.Fatalf("binding defaults: %s", b.raw)
	}
	list := s.must(s.do("GET", rbac+"/rolebindings", "", ""), 200)
	if list.str("kind") != "RoleBindingList" || list.str("items", "0", "metadata", "name") != "read-pods" || list.str("items", "1") != "" {
		t.Fatalf("list: %s", list.raw)
	}
	cols, rows := s.table(rbac + "/namespaces/default/rolebindings")
	if want := []string{"Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"}; !reflect.DeepEqual(cols, want) || len(rows) != 1 ||
		rows[0][0] != "read-pods" || rows[0][1] != "Role/pod-reader" || rows[0][3] != "jane" || rows[0][5] != "ci/builder" {
		t.Fatalf("table %q %v", cols, rows)
	}

	// The role of a binding is fixed; the refusal names roleRef, and nothing changes.
	changed := strings.Replace(binding, `"name":"pod-reader"`, `"name":"pod-writer"`, 1)
	refused := s.must(s.do("PUT", rbac+"/namespaces/default/rolebindings/read-pods", js, changed), 422)
	if !strings.Contains(refused.str("message"), "roleRef: Invalid value") || !strings.Contains(refused.str("message"), "cannot change roleRef") ||
		refused.str("details", "causes", "0", "field") != "roleRef" {
		t.Fatalf("roleRef change: %s", refused.raw)
	}
	if g := s.must(s.do("GET", rbac+"/namespaces/default/rolebindings/read-pods", "", ""), 200); g.str("roleRef", "name") != "pod-reader" {
		t.Fatalf("refused update changed the binding: %s", g.raw)
	}
	// Subjects may change.
	s.must(s.do("PATCH", rbac+"/namespaces/default/rolebindings/read-pods", "application/merge-patch+json", `{"subjects":[{"kind":"Group","name":"devs"}]}`), 200)

	// Cluster-scoped kinds: a service account bound cluster-wide needs its namespace.
	s.must(s.do("POST", rbac+"/clusterroles", js, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"view"},
	  "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"rbac.example.com/aggregate-to-view":"true"}}]}}`), 201)
	crb := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"viewers"},
	  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"ServiceAccount","name":"builder"}]}`
	noNS := s.must(s.do("POST", rbac+"/clusterrolebindings", js, crb), 422)
	if noNS.str("details", "causes", "0", "field") != "subjects[0].namespace" {
		t.Fatalf("service account without namespace: %s", noNS.raw)
	}
	s.must(s.do("POST", rbac+"/clusterrolebindings", js, strings.Replace(crb, `"name":"builder"`, `"name":"builder","namespace":"ci"`, 1)), 201)
	s.must(s.do("GET", rbac+"/namespaces/default/clusterroles/view", "", ""), 404)
	if cols, rows := s.table(rbac + "/clusterroles"); !reflect.DeepEqual(cols, []string{"Name", "Created At"}) || len(rows) != 1 || rows[0][0] != "view" {
		t.Fatalf("clusterroles table %q %v", cols, rows)
	}
}

// testCSR is a CertificateSigningRequest as JSON, carrying a client-claimed identity and
// approval the server must drop.
func testCSR(t *testing.T, name string, request []byte) string {
	t.Helper()
	return jsonOf(t, &certificatesv1.CertificateSigningRequest{
		TypeMeta:   metav1.TypeMeta{APIVersion: "certificates.k8s.io/v1", Kind: "CertificateSigningRequest"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: request, SignerName: "kubernetes.io/kube-apiserver-client",
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, ExpirationSeconds: ptrTo(int32(3600)),
			Username: "mallory", Groups: []string{"forged"}},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
			{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}},
	})
}

// csrAndCert returns a PEM certificate request and a PEM certificate, standing in for the one
// a signer would issue.
func csrAndCert(t *testing.T) (request, cert []byte) {
	t.Helper()
	request, _, err := pki.NewCSR(pkix.Name{CommonName: "jane"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return request, ca.CertPEM
}

func TestCertificateSigningRequestServed(t *testing.T) {
	s := newTestServer(t)
	const csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
	request, cert := csrAndCert(t)

	// The requester is whoever the server authenticated (allow-all: admin, a master), never
	// what the client wrote, and a new request is never pre-approved.
	created := s.must(s.do("POST", csrs, js, testCSR(t, "jane", request)), 201)
	if created.str("spec", "username") != "admin" || created.str("spec", "groups") != `["system:masters","system:authenticated"]` ||
		created.str("status", "conditions") != "" {
		t.Fatalf("create: %s", created.raw)
	}
	garbage := s.must(s.do("POST", csrs, js, testCSR(t, "junk", []byte("not a PEM block"))), 422)
	if garbage.str("details", "causes", "0", "field") != "spec.request" || !strings.Contains(garbage.str("message"), "no CERTIFICATE REQUEST block") {
		t.Fatalf("garbage request: %s", garbage.raw)
	}
	s.must(s.do("GET", csrs+"/junk", "", ""), 404)

	// What `kubectl certificate approve` does: read, append an Approved condition, PUT to
	// approval. A spec change riding along is dropped, and so is a certificate.
	cur := &certificatesv1.CertificateSigningRequest{}
	if err := json.Unmarshal(s.must(s.do("GET", csrs+"/jane", "", ""), 200).raw, cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.Conditions = append(cur.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved,
		Status: corev1.ConditionTrue, Reason: "KubectlApprove", Message: "This CSR was approved by kubectl certificate approve.", LastUpdateTime: metav1.Now()})
	cur.Spec.Usages = append(cur.Spec.Usages, certificatesv1.UsageServerAuth)
	cur.Status.Certificate = cert
	approved := s.must(s.do("PUT", csrs+"/jane/approval", js, jsonOf(t, cur)), 200)
	if st, reason := condition(approved, "Approved"); st != "True" || reason != "KubectlApprove" || approved.str("status", "conditions", "0", "lastTransitionTime") == "" {
		t.Fatalf("approval: %s", approved.raw)
	}
	if approved.str("spec", "usages") != `["client auth"]` || approved.str("spec", "username") != "admin" || approved.str("status", "certificate") != "" {
		t.Fatalf("approval changed more than conditions: %s", approved.raw)
	}
	// Approving again with the now stale resourceVersion is a conflict.
	s.must(s.do("PUT", csrs+"/jane/approval", js, jsonOf(t, cur)), 409)
	// Approved and Denied exclude each other.
	denied := s.must(s.do("PATCH", csrs+"/jane/approval", "application/json-patch+json",
		`[{"op":"add","path":"/status/conditions/-","value":{"type":"Denied","status":"True"}}]`), 422)
	if denied.str("details", "causes", "0", "field") != "status.conditions[1].type" {
		t.Fatalf("approve and deny: %s", denied.raw)
	}

	// The main resource changes neither spec nor status; the signer writes the certificate
	// through status.
	main := s.must(s.do("PATCH", csrs+"/jane", "application/merge-patch+json",
		`{"metadata":{"labels":{"team":"a"}},"spec":{"signerName":"example.com/other"},"status":{"conditions":null}}`), 200)
	if main.str("metadata", "labels", "team") != "a" || main.str("spec", "signerName") != "kubernetes.io/kube-apiserver-client" || main.str("status", "conditions", "0", "type") != "Approved" {
		t.Fatalf("main update: %s", main.raw)
	}
	issued := s.must(s.do("PATCH", csrs+"/jane/status", "application/merge-patch+json", jsonOf(t, map[string]any{"status": map[string]any{"certificate": cert}})), 200)
	if issued.str("status", "certificate") == "" {
		t.Fatalf("status: %s", issued.raw)
	}

	cols, rows := s.table(csrs)
	if want := []string{"Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"}; !reflect.DeepEqual(cols, want) ||
		len(rows) != 1 || rows[0][0] != "jane" || rows[0][3] != "admin" || rows[0][4] != "60m" || rows[0][5] != "Approved,Issued" {
		t.Fatalf("table %q %v", cols, rows)
	}
	if l := s.must(s.do("GET", csrs+"?fieldSelector=spec.signerName%3Dexample.com%2Fother", "", ""), 200); l.str("items", "0") != "" {
		t.Fatalf("field selector matched another signer: %s", l.raw)
	}

	// Discovery lists both subresources with the verbs they serve.
	d := s.must(s.do("GET", "/apis/certificates.k8s.io/v1", "", ""), 200)
	var rl metav1.APIResourceList
	if err := json.Unmarshal(d.raw, &rl); err != nil {
		t.Fatal(err)
	}
	verbs := map[string]string{}
	for _, r := range rl.APIResources {
		verbs[r.Name] = strings.Join(r.Verbs, ",")
	}
	if verbs["certificatesigningrequests/approval"] != "get,patch,update" || verbs["certificatesigningrequests/status"] != "get,patch,update" {
		t.Fatalf("discovery: %v", verbs)
	}
}
