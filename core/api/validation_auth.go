package api

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tugboat-io/tug/core/auth/pki"
)

// --- rbac.authorization.k8s.io ---

// validateRBACName is kube's rule for role and binding names: anything usable as one path
// segment, so the colons of "system:node" and the like are allowed.
func validateRBACName(name string, _ bool) []string {
	return path.IsValidPathSegmentName(name)
}

func validateRole(r *rbacv1.Role) field.ErrorList {
	errs := validateMeta(&r.ObjectMeta, true, validateRBACName)
	return append(errs, validatePolicyRules(r.Rules, true)...)
}

// validateClusterRole also checks the aggregation rule's selectors. Nothing rewrites an
// aggregated role's stored rules the way kube's clusterrole-aggregation controller does:
// core/auth/rbac computes them from the selected roles whenever it reads the role.
func validateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := validateMeta(&r.ObjectMeta, false, validateRBACName)
	errs = append(errs, validatePolicyRules(r.Rules, false)...)
	if r.AggregationRule == nil {
		return errs
	}
	p := field.NewPath("aggregationRule", "clusterRoleSelectors")
	if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
		errs = append(errs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
	}
	for i := range r.AggregationRule.ClusterRoleSelectors {
		sel := &r.AggregationRule.ClusterRoleSelectors[i]
		errs = append(errs, validateLabelSelector(sel, p.Index(i))...)
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(p.Index(i), sel, "invalid label selector."))
		}
	}
	return errs
}

// validatePolicyRules: every rule names verbs, and either non-resource URLs (cluster roles
// only) or API groups and resources, never both.
func validatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateRoleBinding(b *rbacv1.RoleBinding) field.ErrorList {
	errs := validateMeta(&b.ObjectMeta, true, validateRBACName)
	errs = append(errs, validateRoleRef(b.RoleRef, "Role", "ClusterRole")...)
	return append(errs, validateSubjects(b.Subjects, true)...)
}

func validateClusterRoleBinding(b *rbacv1.ClusterRoleBinding) field.ErrorList {
	errs := validateMeta(&b.ObjectMeta, false, validateRBACName)
	errs = append(errs, validateRoleRef(b.RoleRef, "ClusterRole")...)
	return append(errs, validateSubjects(b.Subjects, false)...)
}

// A binding's role cannot change: whoever may edit the binding's subjects might not be allowed
// to grant the other role, so a new role means a new binding.
func validateRoleBindingUpdate(b, old *rbacv1.RoleBinding) field.ErrorList {
	return append(validateRoleBinding(b), roleRefUnchanged(b.RoleRef, old.RoleRef)...)
}

func validateClusterRoleBindingUpdate(b, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	return append(validateClusterRoleBinding(b), roleRefUnchanged(b.RoleRef, old.RoleRef)...)
}

func roleRefUnchanged(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

func validateRoleRef(ref rbacv1.RoleRef, kinds ...string) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	if !oneOf(ref.Kind, kinds...) {
		errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, msgsToErrs(p.Child("name"), ref.Name, validateRBACName(ref.Name, false))...)
	}
	return errs
}

// validateSubjects: a user or group subject is in the RBAC API group, a service account in
// the core group; a service account bound cluster-wide must say which namespace it lives in
// (in a RoleBinding it defaults to the binding's when the authorizer reads it).
func validateSubjects(subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, s.Name, p.Child("name"))...)
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				errs = append(errs, field.Required(p.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind,
				[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// --- certificates.k8s.io ---

// knownKeyUsages are the usages a CSR may request, kube's list.
var knownKeyUsages = []certificatesv1.KeyUsage{
	certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
	certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
	certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly,
	certificatesv1.UsageDecipherOnly, certificatesv1.UsageAny, certificatesv1.UsageServerAuth,
	certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageEmailProtection,
	certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
	certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC, certificatesv1.UsageNetscapeSGC,
}

// legacyUnknownSigner is what v1beta1 defaulted signerName to; v1 refuses it.
const legacyUnknownSigner = "kubernetes.io/legacy-unknown"

// csrMinExpirationSeconds is the shortest certificate lifetime a CSR may ask for.
const csrMinExpirationSeconds = 600

var (
	csrConditionsPath  = field.NewPath("status", "conditions")
	csrCertificatePath = field.NewPath("status", "certificate")
)

// csrPath says which write path an update of a CSR came through; each may change different
// parts of status, as kube's per-subresource validation options do.
type csrPath int

const (
	csrMain     csrPath = iota
	csrStatus           // may set status.certificate
	csrApproval         // may add Approved and Denied conditions
)

// Kube tolerates on update what an old object already had wrong (the legacy signer, duplicate
// conditions, unknown usages …) because older versions stored such objects; tug has always
// validated CSRs by the v1 rules, so those tolerances are left out. It does skip re-checking a
// certificate an update leaves alone.

func validateCertificateSigningRequest(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRObject(csr, true)
}

// anyName: kube lets a CSR be called anything metadata allows.
func anyName(string, bool) []string { return nil }

func validateCSRObject(csr *certificatesv1.CertificateSigningRequest, checkCertificate bool) field.ErrorList {
	errs := validateMeta(&csr.ObjectMeta, false, anyName)
	sp := specPath
	// One PEM CERTIFICATE REQUEST block, signed by the key it carries, so nobody can ask for
	// a certificate on a key they do not hold: the check node joins use too.
	if _, err := pki.ParseCSR(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(sp.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(sp.Child("usages"), ""))
	}
	seen := map[certificatesv1.KeyUsage]bool{}
	for i, u := range csr.Spec.Usages {
		if !oneOf(u, knownKeyUsages...) {
			errs = append(errs, field.NotSupported(sp.Child("usages").Index(i), u, knownKeyUsages))
		}
		if seen[u] {
			errs = append(errs, field.Duplicate(sp.Child("usages").Index(i), u))
		}
		seen[u] = true
	}
	if csr.Spec.SignerName == legacyUnknownSigner {
		errs = append(errs, field.Invalid(sp.Child("signerName"), csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		errs = append(errs, validateSignerName(csr.Spec.SignerName, sp.Child("signerName"))...)
	}
	if e := csr.Spec.ExpirationSeconds; e != nil && *e < csrMinExpirationSeconds {
		errs = append(errs, field.Invalid(sp.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	errs = append(errs, validateCSRConditions(csr.Status.Conditions)...)
	if checkCertificate {
		if err := checkIssuedCertificate(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(csrCertificatePath, "<certificate data>", err.Error()))
		}
	}
	return errs
}

// checkIssuedCertificate: an issued certificate is one or more PEM CERTIFICATE blocks without
// headers, each parsing; empty means not issued yet.
func checkIssuedCertificate(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	blocks := 0
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) != 0 {
			return errors.New("no PEM block headers are permitted")
		}
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return errors.New("found CERTIFICATE PEM block containing 0 certificates")
		}
		blocks++
		b = rest
	}
	if blocks == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// validateSignerName is kube's: a domain of at least two DNS labels, a slash, and a path of
// dot-separated DNS subdomains ("example.com/signer", "kubernetes.io/kube-apiserver-client").
func validateSignerName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	segments := strings.Split(name, "/")
	if len(segments) != 2 {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	domain, rest := segments[0], segments[1]
	if len(domain) > validation.DNS1123SubdomainMaxLength {
		errs = append(errs, field.TooLong(p, "", validation.DNS1123SubdomainMaxLength))
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if msgs := validation.IsDNS1123Label(l); len(msgs) > 0 {
			// One label's errors say it all; the next would only repeat them.
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, domain, fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	if len(labels) < 2 {
		errs = append(errs, field.Invalid(p, domain, "should be a domain with at least two segments separated by dots"))
	}
	for _, l := range strings.Split(rest, ".") {
		if msgs := validation.IsDNS1123Subdomain(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, rest, fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	// Room for a namespace and a resource name after the domain: "<fqdn>/<ns>.<name>".
	maxLen := validation.DNS1123SubdomainMaxLength + 1 + validation.DNS1123SubdomainMaxLength + validation.DNS1123LabelMaxLength + 1
	if len(name) > maxLen {
		errs = append(errs, field.TooLong(p, "", maxLen))
	}
	return errs
}

// validateCSRConditions: Approved, Denied and Failed may only be True, and Approved and
// Denied exclude each other; no type appears twice.
func validateCSRConditions(conds []certificatesv1.CertificateSigningRequestCondition) field.ErrorList {
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	approved, denied := false, false
	for i, c := range conds {
		p := csrConditionsPath.Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(p.Child("type"), ""))
		}
		allowed := []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
		if oneOf(c.Type, certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed) {
			allowed = []corev1.ConditionStatus{corev1.ConditionTrue}
		}
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(p.Child("status"), ""))
		case !oneOf(c.Status, allowed...):
			errs = append(errs, field.NotSupported(p.Child("status"), c.Status, allowed))
		}
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
			if denied {
				errs = append(errs, field.Invalid(p.Child("type"), c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		case certificatesv1.CertificateDenied:
			denied = true
			if approved {
				errs = append(errs, field.Invalid(p.Child("type"), c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		}
		if seen[c.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), c.Type))
		}
		seen[c.Type] = true
	}
	return errs
}

func validateCSRUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRUpdateVia(csr, old, csrMain)
}

func validateCSRStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRUpdateVia(csr, old, csrStatus)
}

func validateCSRApprovalUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRUpdateVia(csr, old, csrApproval)
}

// validateCSRUpdateVia: no path removes an Approved, Denied or Failed condition; only the
// approval path adds or changes Approved and Denied; only the status path sets the
// certificate, and only once.
func validateCSRUpdateVia(csr, old *certificatesv1.CertificateSigningRequest, via csrPath) field.ErrorList {
	certChanged := !bytes.Equal(csr.Status.Certificate, old.Status.Certificate)
	errs := validateCSRObject(csr, certChanged)
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		was, is := csrConditionsOf(old, t), csrConditionsOf(csr, t)
		if len(is) < len(was) {
			errs = append(errs, field.Forbidden(csrConditionsPath, fmt.Sprintf("updates may not remove a condition of type %q", t)))
			continue
		}
		// Failed is the signer's to report on any path; approval and denial are the approval
		// path's alone.
		if t == certificatesv1.CertificateFailed || via == csrApproval {
			continue
		}
		if len(is) > len(was) {
			errs = append(errs, field.Forbidden(csrConditionsPath, fmt.Sprintf("updates may not add a condition of type %q", t)))
		} else if !equality.Semantic.DeepEqual(is, was) {
			errs = append(errs, field.Forbidden(csrConditionsPath, fmt.Sprintf("updates may not modify a condition of type %q", t)))
		}
	}
	if certChanged {
		if via != csrStatus {
			errs = append(errs, field.Forbidden(csrCertificatePath, "updates may not set certificate content"))
		} else if len(old.Status.Certificate) > 0 {
			errs = append(errs, field.Forbidden(csrCertificatePath, "updates may not modify existing certificate content"))
		}
	}
	return errs
}

func csrConditionsOf(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, i := range csrConditionIndices(csr, t) {
		out = append(out, csr.Status.Conditions[i])
	}
	return out
}
