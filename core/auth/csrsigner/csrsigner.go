package csrsigner

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
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

// KubeletClientSigner is the signer name of node client certificates.
const KubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet"

// Signer watches certificate requests and handles the node client ones.
type Signer struct {
	Client kubernetes.Interface
	CA     *pki.CA
	Logger *slog.Logger
}

// Decide says whether a request is one this signer approves: a node client certificate
// asked for by a join token's user (a joining node) or by that node itself (a renewal). The
// reason says why not, for the log.
func Decide(csr *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, bool, string) {
	if csr.Spec.SignerName != KubeletClientSigner {
		return nil, false, "another signer"
	}
	req, err := pki.ParseCSR(csr.Spec.Request)
	if err != nil {
		return nil, false, err.Error()
	}
	nodeName, ok := strings.CutPrefix(req.Subject.CommonName, user.NodeUserPrefix)
	if !ok {
		return nil, false, fmt.Sprintf("common name %q is not a node's", req.Subject.CommonName)
	}
	if err := pki.CheckNodeClientCSR(req, nodeName); err != nil {
		return nil, false, err.Error()
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
	req, ok, why := Decide(csr)
	if !ok {
		// Not ours: a request this signer would not approve it does not sign either, even
		// when a human approves it.
		s.Logger.Debug("certificate request left pending", "component", "csrsigner", "csr", name, "reason", why)
		return nil
	}
	if !hasCondition(csr, certificatesv1.CertificateApproved) {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved",
			Message:        "node client certificate approved by tug",
			LastUpdateTime: metav1.Now(),
		})
		if csr, err = api.UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
	}
	cert, err := s.CA.SignCSR(req, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	csr.Status.Certificate = cert
	if _, err := api.UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	s.Logger.Info("node client certificate issued", "component", "csrsigner", "csr", name, "for", req.Subject.CommonName, "requestor", csr.Spec.Username)
	return nil
}

func hasCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
