package csrsigner

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// The signers this package serves, by kube's names.
const (
	// KubeletClientSigner signs node client certificates.
	KubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet"
	// KubeletServingSigner signs the serving certificates of node agents' APIs.
	KubeletServingSigner = "kubernetes.io/kubelet-serving"
)

// Signer watches certificate requests and handles the node client and node serving ones.
type Signer struct {
	Client kubernetes.Interface
	// CA signs node client certificates: the cluster CA, which the API server trusts for
	// clients and clients trust for the API server.
	CA *pki.CA
	// ServingCA signs node serving certificates. It must not be CA: a node sets the
	// addresses in its own status, and a certificate the cluster CA signed for one of them
	// could be presented as the API server's.
	ServingCA *pki.CA
	Logger    *slog.Logger
}

// Decide says whether a request is one this signer approves: a node client certificate
// asked for by a join token's user (a joining node) or by that node itself (a renewal). The
// reason says why not, for the log.
func Decide(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, bool, string) {
	req, nodeName, why := nodeRequest(csr, KubeletClientSigner, pki.CheckNodeClientCSR)
	if req == nil {
		return nil, false, why
	}
	for _, u := range csr.Spec.Usages {
		if u != certificatesv1.UsageDigitalSignature && u != certificatesv1.UsageClientAuth && u != certificatesv1.UsageKeyEncipherment {
			return nil, false, fmt.Sprintf("usage %q is not a client certificate's", u)
		}
	}
	switch {
	case slices.Contains(csr.Spec.Groups, user.Bootstrappers):
		return req, true, ""
	case csr.Spec.Username == req.Subject.CommonName && slices.Contains(csr.Spec.Groups, user.NodesGroup):
		return req, true, ""
	}
	return nil, false, fmt.Sprintf("requested by %q, neither a joining node nor node %q itself", csr.Spec.Username, nodeName)
}

// nodeRequest parses a request to signer from a node and checks it with check; it returns
// nil and the reason when it is not one.
func nodeRequest(csr *certificatesv1.CertificateSigningRequest, signer string, check func(*x509.CertificateRequest, string) error) (*x509.CertificateRequest, string, string) {
	if csr.Spec.SignerName != signer {
		return nil, "", "another signer"
	}
	req, err := pki.ParseCSR(csr.Spec.Request)
	if err != nil {
		return nil, "", err.Error()
	}
	nodeName, ok := strings.CutPrefix(req.Subject.CommonName, user.NodeUserPrefix)
	if !ok {
		return nil, "", fmt.Sprintf("common name %q is not a node's", req.Subject.CommonName)
	}
	if err := check(req, nodeName); err != nil {
		return nil, "", err.Error()
	}
	return req, nodeName, ""
}

// DecideServing says whether a node serving certificate request is one this signer
// approves: kube's kubelet-serving rules (CN=system:node:<name>, O=system:nodes, DNS and IP
// names only; digital signature and server auth, key encipherment allowed), asked for by that
// node itself, for names that are the node's: its name, and the addresses its Node reports.
// kube leaves approving these to the cluster's operator or an approver that checks the names
// the same way; tug approves at once because the names are checked.
func DecideServing(csr *certificatesv1.CertificateSigningRequest, node *corev1.Node) (*x509.CertificateRequest, bool, string) {
	req, nodeName, why := nodeRequest(csr, KubeletServingSigner, pki.CheckNodeServingCSR)
	if req == nil {
		return nil, false, why
	}
	if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageServerAuth) || !slices.Contains(csr.Spec.Usages, certificatesv1.UsageDigitalSignature) {
		return nil, false, "a serving certificate needs the usages digital signature and server auth"
	}
	for _, u := range csr.Spec.Usages {
		if u != certificatesv1.UsageDigitalSignature && u != certificatesv1.UsageServerAuth && u != certificatesv1.UsageKeyEncipherment {
			return nil, false, fmt.Sprintf("usage %q is not a serving certificate's", u)
		}
	}
	if csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, user.NodesGroup) {
		return nil, false, fmt.Sprintf("requested by %q, not by node %q itself", csr.Spec.Username, nodeName)
	}
	if node == nil || node.Name != nodeName {
		return nil, false, fmt.Sprintf("node %q is not registered", nodeName)
	}
	names, ips := map[string]bool{strings.ToLower(node.Name): true}, map[string]bool{}
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names[strings.ToLower(a.Address)] = true
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				ips[ip.String()] = true
			}
		}
	}
	for _, n := range req.DNSNames {
		if slices.Contains(pki.DefaultDNSNames, strings.ToLower(n)) {
			// Whatever the node is called, the API server's names are not a node's.
			return nil, false, fmt.Sprintf("DNS name %q is the API server's", n)
		}
		if !names[strings.ToLower(n)] {
			return nil, false, fmt.Sprintf("DNS name %q is neither the node's name nor among its addresses", n)
		}
	}
	for _, ip := range req.IPAddresses {
		if !ips[ip.String()] {
			return nil, false, fmt.Sprintf("IP address %s is not among the node's addresses", ip)
		}
	}
	return req, true, ""
}

// Run handles requests until ctx ends.
func (s *Signer) Run(ctx context.Context) error {
	log := s.Logger.With("component", "csrsigner")
	factory := informers.NewSharedInformerFactory(s.Client, 10*time.Minute)
	inf := factory.Certificates().V1().CertificateSigningRequests()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok && len(csr.Status.Certificate) == 0 {
			q.Add(csr.Name)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return ctx.Err()
	}
	go func() { <-ctx.Done(); q.ShutDown() }()
	for {
		name, quit := q.Get()
		if quit {
			return nil
		}
		if err := s.handle(ctx, name); err != nil {
			log.Warn("certificate request", "csr", name, "err", err)
			q.AddRateLimited(name)
		} else {
			q.Forget(name)
		}
		q.Done(name)
	}
}

func (s *Signer) handle(ctx context.Context, name string) error {
	api := s.Client.CertificatesV1().CertificateSigningRequests()
	csr, err := api.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(csr.Status.Certificate) > 0 || hasCondition(csr, certificatesv1.CertificateDenied) || hasCondition(csr, certificatesv1.CertificateFailed) {
		return nil
	}
	var (
		req   *x509.CertificateRequest
		ok    bool
		why   string
		usage = x509.ExtKeyUsageClientAuth
		kind  = "node client certificate"
		ca    = s.CA
	)
	switch csr.Spec.SignerName {
	case KubeletClientSigner:
		req, ok, why = Decide(csr)
	case KubeletServingSigner:
		usage, kind, ca = x509.ExtKeyUsageServerAuth, "node serving certificate", s.ServingCA
		node, err := s.requestingNode(ctx, csr)
		if err != nil {
			return err
		}
		req, ok, why = DecideServing(csr, node)
	default:
		return nil
	}
	if ca == nil {
		// Checked before approving: an approved request nobody can sign would sit approved
		// and empty.
		return fmt.Errorf("no CA for %s", csr.Spec.SignerName)
	}
	if !ok {
		// Not ours: a request this signer would not approve it does not sign either, even
		// when a human approves it.
		s.Logger.Debug("certificate request left pending", "component", "csrsigner", "csr", name, "reason", why)
		return nil
	}
	if !hasCondition(csr, certificatesv1.CertificateApproved) {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved",
			Message:        kind + " approved by tug",
			LastUpdateTime: metav1.Now(),
		})
		if csr, err = api.UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
	}
	cert, err := ca.SignCSR(req, usage)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	csr.Status.Certificate = cert
	if _, err := api.UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	s.Logger.Info(kind+" issued", "component", "csrsigner", "csr", name, "for", req.Subject.CommonName, "requestor", csr.Spec.Username)
	return nil
}

// requestingNode reads the Node a serving certificate request is for (nil when the request
// names none, or it does not exist).
func (s *Signer) requestingNode(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (*corev1.Node, error) {
	req, name, _ := nodeRequest(csr, KubeletServingSigner, pki.CheckNodeServingCSR)
	if req == nil {
		return nil, nil // DecideServing says why
	}
	node, err := s.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return node, err
}

func hasCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
