package csrsigner

import (
	"crypto/x509/pkix"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

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
