package api

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tugboat-io/tug/core/auth/user"
)

// A CertificateSigningRequest moves through three hands, each with its own write path, as in
// kube: the requester creates it (the server records who that was), an approver adds Approved
// or Denied through the approval subresource, and a signer writes the certificate through the
// status subresource. The spec never changes after create: every update path silently keeps
// the stored one, so approving a request cannot alter what was requested.

// requesters holds the kinds that record their requester on create.
var requesters = map[string]func(runtime.Object, *user.Info){
	"certificatesigningrequests": func(obj runtime.Object, u *user.Info) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			setCSRRequester(csr, u)
		}
	},
}

// setCSRRequester replaces whatever identity the client wrote with the one the server
// authenticated: signers and approvers decide on it.
func setCSRRequester(csr *certificatesv1.CertificateSigningRequest, u *user.Info) {
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	if u == nil {
		return
	}
	csr.Spec.Username, csr.Spec.UID = u.Name, u.UID
	csr.Spec.Groups = append([]string(nil), u.Groups...)
	if len(u.Extra) > 0 {
		csr.Spec.Extra = make(map[string]certificatesv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
		}
	}
}

// updateStrategies holds the kinds whose write paths differ from the generic rules.
var updateStrategies = map[string]map[string]UpdateStrategy{
	"certificatesigningrequests": {
		// The main resource changes metadata only; the generic rules already keep status.
		"": {Prepare: csrPrepare(func(csr, old *certificatesv1.CertificateSigningRequest) {
			csr.Spec = old.Spec
		})},
		SubStatus: {
			Prepare:  csrPrepare(prepareCSRStatus),
			Validate: typed(validateCertificateSigningRequest, validateCSRStatusUpdate).update,
		},
		SubApproval: {
			Prepare:  csrPrepare(prepareCSRApproval),
			Validate: typed(validateCertificateSigningRequest, validateCSRApprovalUpdate).update,
		},
	},
}

func csrPrepare(f func(csr, old *certificatesv1.CertificateSigningRequest)) func(obj, old runtime.Object) {
	return func(obj, old runtime.Object) {
		csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
		prev, okOld := old.(*certificatesv1.CertificateSigningRequest)
		if ok && okOld {
			f(csr, prev)
		}
	}
}

// prepareCSRStatus: a signer writes the certificate and its own conditions (Failed, say) but
// cannot touch the approval. Approved and Denied conditions it passes through unchanged in
// number are restored from the stored object; adding or removing one is left for validation
// to refuse.
func prepareCSRStatus(csr, old *certificatesv1.CertificateSigningRequest) {
	csr.Spec = old.Spec
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
		was, is := csrConditionIndices(old, t), csrConditionIndices(csr, t)
		if len(was) != len(is) {
			continue
		}
		for i, j := range was {
			csr.Status.Conditions[is[i]] = old.Status.Conditions[j]
		}
	}
	stampCSRConditions(csr, old)
}

// prepareCSRApproval: the approval path changes the conditions and nothing else.
func prepareCSRApproval(csr, old *certificatesv1.CertificateSigningRequest) {
	stampCSRConditions(csr, old)
	conds := csr.Status.Conditions
	csr.Spec = old.Spec
	csr.Status = old.Status
	csr.Status.Conditions = conds
}

func csrConditionIndices(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []int {
	var out []int
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, i)
		}
	}
	return out
}

// stampCSRConditions fills the times a client left out: lastUpdateTime is now, and
// lastTransitionTime is kept from a stored condition of the same type and status, else now.
func stampCSRConditions(csr, old *certificatesv1.CertificateSigningRequest) {
	now := nowFunc().Rfc3339Copy()
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = now
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
				break
			}
		}
	}
}
