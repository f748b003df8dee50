package api

import (
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Roles and cluster roles have no printer upstream: kube-apiserver prints them with its
// default NAME, CREATED AT table.

// bindingColumns are a role binding's or cluster role binding's; kind names which, as in the
// descriptions kube takes from the v1beta1 docs.
func bindingColumns(roleRefDoc, kind string) []metav1.TableColumnDefinition {
	return columns(
		nameColumn(),
		column("Role", "string", roleRefDoc),
		ageColumn(),
		wideColumn("Users", "string", "Users in the "+kind),
		wideColumn("Groups", "string", "Groups in the "+kind),
		wideColumn("ServiceAccounts", "string", "ServiceAccounts in the "+kind),
	)
}

var roleBindingTable = printer(bindingColumns(rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
	func(b *rbacv1.RoleBinding) []any { return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects) })

var clusterRoleBindingTable = printer(bindingColumns(rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
	func(b *rbacv1.ClusterRoleBinding) []any { return bindingRow(b.ObjectMeta, b.RoleRef, b.Subjects) })

// bindingRow prints the role as Kind/name and the subjects by kind, service accounts as
// namespace/name; subjects of unknown kinds are left out, as upstream.
func bindingRow(m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{m.Name, fmt.Sprintf("%s/%s", ref.Kind, ref.Name), translateAge(m.CreationTimestamp),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

var csrTable = printer(columns(
	nameColumn(),
	ageColumn(),
	column("SignerName", "string", certificatesv1beta1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"]),
	column("Requestor", "string", certificatesv1beta1.CertificateSigningRequestSpec{}.SwaggerDoc()["request"]),
	column("RequestedDuration", "string", certificatesv1beta1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"]),
	column("Condition", "string", certificatesv1beta1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]),
), func(csr *certificatesv1.CertificateSigningRequest) []any {
	signer := "<none>"
	if csr.Spec.SignerName != "" {
		signer = csr.Spec.SignerName
	}
	requested := "<none>"
	if e := csr.Spec.ExpirationSeconds; e != nil {
		requested = duration.HumanDuration(time.Duration(*e) * time.Second)
	}
	return []any{csr.Name, translateAge(csr.CreationTimestamp), signer, csr.Spec.Username, requested, csrCondition(csr)}
})

// csrCondition summarises a request: Denied wins over Approved, else Pending; Failed and
// Issued (a certificate is there) are added after a comma.
func csrCondition(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	s := "Pending"
	if denied {
		s = "Denied"
	} else if approved {
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}
