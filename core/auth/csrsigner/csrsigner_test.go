package csrsigner

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tugboat-io/tug/core/auth/pki"
)

func request(t *testing.T, subject pkix.Name, username string, groups ...string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	pemReq, _, err := pki.NewCSR(subject)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Request: pemReq, SignerName: KubeletClientSigner, Username: username, Groups: groups,
		Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
	}}
}

func TestDecide(t *testing.T) {
	nodeA := pkix.Name{CommonName: "system:node:a", Organization: []string{"system:nodes"}}
	tests := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want bool
	}{
		{"joining node", request(t, nodeA, "system:bootstrap:abcdef", "system:bootstrappers", "system:authenticated"), true},
		{"renewal by the node itself", request(t, nodeA, "system:node:a", "system:nodes", "system:authenticated"), true},
		{"another node", request(t, nodeA, "system:node:b", "system:nodes", "system:authenticated"), false},
		{"a user", request(t, nodeA, "alice", "system:authenticated"), false},
		{"not a node's name", request(t, pkix.Name{CommonName: "admin", Organization: []string{"system:nodes"}}, "system:bootstrap:abcdef", "system:bootstrappers"), false},
		{"masters group", request(t, pkix.Name{CommonName: "system:node:a", Organization: []string{"system:masters"}}, "system:bootstrap:abcdef", "system:bootstrappers"), false},
		{"another signer", func() *certificatesv1.CertificateSigningRequest {
			c := request(t, nodeA, "system:bootstrap:abcdef", "system:bootstrappers")
			c.Spec.SignerName = "kubernetes.io/kube-apiserver-client"
			return c
		}(), false},
		{"server usage", func() *certificatesv1.CertificateSigningRequest {
			c := request(t, nodeA, "system:bootstrap:abcdef", "system:bootstrappers")
			c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageServerAuth)
			return c
		}(), false},
		{"garbage request", func() *certificatesv1.CertificateSigningRequest {
			c := request(t, nodeA, "system:bootstrap:abcdef", "system:bootstrappers")
			c.Spec.Request = []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
			return c
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, why := Decide(tt.csr)
			if ok != tt.want {
				t.Fatalf("Decide = %v (%s), want %v", ok, why, tt.want)
			}
			if !ok && why == "" {
				t.Error("a refusal without a reason")
			}
		})
	}
}

func servingRequest(t *testing.T, subject pkix.Name, dns []string, ips []string, username string, groups ...string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var addrs []net.IP
	for _, ip := range ips {
		addrs = append(addrs, net.ParseIP(ip))
	}
	pemReq, _, err := pki.NewServingCSR(subject, dns, addrs)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Request: pemReq, SignerName: KubeletServingSigner, Username: username, Groups: groups,
		Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
	}}
}

func TestDecideServing(t *testing.T) {
	nodeA := pkix.Name{CommonName: "system:node:a", Organization: []string{"system:nodes"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "a.example"},
	}}}
	byA := []string{"system:node:a", "system:nodes", "system:authenticated"}
	with := func(c *certificatesv1.CertificateSigningRequest, f func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		f(c)
		return c
	}
	tests := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		node *corev1.Node
		want bool
	}{
		{"its name and address", servingRequest(t, nodeA, []string{"a", "a.example"}, []string{"10.0.0.5"}, byA[0], byA[1:]...), node, true},
		{"an address only", servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), node, true},
		{"an address it does not have", servingRequest(t, nodeA, nil, []string{"10.96.0.1"}, byA[0], byA[1:]...), node, false},
		{"the API server's name", servingRequest(t, nodeA, []string{"kubernetes.default.svc"}, nil, byA[0], byA[1:]...), node, false},
		{"a node named like the API server", servingRequest(t, pkix.Name{CommonName: "system:node:kubernetes", Organization: []string{"system:nodes"}}, []string{"kubernetes"}, nil, "system:node:kubernetes", "system:nodes"),
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"}}, false},
		{"no names", servingRequest(t, nodeA, nil, nil, byA[0], byA[1:]...), node, false},
		{"asked by a joining node", servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, "system:bootstrap:abcdef", "system:bootstrappers"), node, false},
		{"asked by another node", servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, "system:node:b", "system:nodes"), node, false},
		{"a node not registered", servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), nil, false},
		{"masters group", servingRequest(t, pkix.Name{CommonName: "system:node:a", Organization: []string{"system:masters"}}, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), node, false},
		{"client usage", with(servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageClientAuth)
		}), node, false},
		{"no server usage", with(servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
		}), node, false},
		{"the client signer", with(servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...), func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.SignerName = KubeletClientSigner
		}), node, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, why := DecideServing(tt.csr, tt.node)
			if ok != tt.want {
				t.Fatalf("DecideServing = %v (%s), want %v", ok, why, tt.want)
			}
			if !ok && why == "" {
				t.Error("a refusal without a reason")
			}
		})
	}
	// The client signer's rules refuse a serving request too.
	if _, ok, _ := Decide(servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, byA[0], byA[1:]...)); ok {
		t.Error("Decide approved a serving certificate request")
	}
}

// Node serving certificates come from the serving CA and node client certificates from the
// cluster CA; a serving certificate does not verify against the cluster CA, which clients
// trust for the API server, so no node can pass one off as the API server's.
func TestSignerSignsEachKindWithItsCA(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	servingCA, err := pki.NewKubeletServingCA(now)
	if err != nil {
		t.Fatal(err)
	}
	nodeA := pkix.Name{CommonName: "system:node:a", Organization: []string{"system:nodes"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}}}
	serving := servingRequest(t, nodeA, nil, []string{"10.0.0.5"}, "system:node:a", "system:nodes")
	serving.Name = "serving"
	client := request(t, nodeA, "system:node:a", "system:nodes")
	client.Name = "client"
	cs := fake.NewSimpleClientset(node, serving, client)
	s := &Signer{Client: cs, CA: ca, ServingCA: servingCA, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		usage       x509.ExtKeyUsage
		signer, not *pki.CA
	}{{"serving", x509.ExtKeyUsageServerAuth, servingCA, ca}, {"client", x509.ExtKeyUsageClientAuth, ca, servingCA}} {
		if err := s.handle(ctx, tt.name); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, tt.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := pki.ParseCert(got.Status.Certificate)
		if err != nil {
			t.Fatalf("%s: no certificate issued: %v", tt.name, err)
		}
		opts := x509.VerifyOptions{Roots: tt.signer.Pool(), KeyUsages: []x509.ExtKeyUsage{tt.usage}}
		if _, err := cert.Verify(opts); err != nil {
			t.Errorf("%s certificate does not verify against its CA: %v", tt.name, err)
		}
		opts.Roots = tt.not.Pool()
		if _, err := cert.Verify(opts); err == nil {
			t.Errorf("%s certificate verifies against the other CA", tt.name)
		}
	}
}
