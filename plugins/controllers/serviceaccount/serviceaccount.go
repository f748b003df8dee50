// Package serviceaccount is the ServiceAccount controller's decision: every active
// namespace has a ServiceAccount named "default", as kube-controller-manager's
// serviceaccount controller ensures — pods that name no service account run as it.
//
// It creates the account when it is missing (a create action), rather than declaring it:
// a declared child is updated back to what the controller declares, which would undo what
// users add to the default account (image pull secrets, labels, annotations), and a
// declared set deletes the kind's other children. The account is never deleted or
// updated here; the namespace's deletion takes it away.
package serviceaccount

import (
	"encoding/json"
	"fmt"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// ServiceAccountKey keys the namespace's owned service accounts (children) and, when the
// host hands them over, every service account (related): the one to find may have been
// made by a user, owned by no namespace.
var ServiceAccountKey = tug.ObjectKey("v1", "ServiceAccount")

// DefaultName is the name of the account every namespace gets.
const DefaultName = "default"

type namespace struct {
	Metadata workload.Meta `json:"metadata"`
	Status   struct {
		Phase string `json:"phase,omitempty"`
	} `json:"status"`
}

type account struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"metadata"`
}

// Reconcile decides one Namespace's default ServiceAccount.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var ns namespace
	if err := req.DecodeParent(&ns); err != nil {
		return nil, err
	}
	res := &tug.ReconcileResult{}
	// A namespace being deleted accepts no new objects; making one would only fail.
	if ns.Metadata.DeletionTimestamp != nil || ns.Status.Phase == "Terminating" {
		return res, nil
	}
	found, err := hasDefault(ns.Metadata.Name, req.Children[ServiceAccountKey], req.Related[ServiceAccountKey])
	if err != nil || found {
		return res, err
	}
	var sa account
	sa.APIVersion, sa.Kind = "v1", "ServiceAccount"
	// The parent is cluster-scoped, so the host cannot default the child's namespace from it.
	sa.Metadata.Name, sa.Metadata.Namespace = DefaultName, ns.Metadata.Name
	if err := res.Create(sa); err != nil {
		return nil, err
	}
	return res, nil
}

// hasDefault reports whether the namespace's default account is among the accounts.
func hasDefault(ns string, lists ...[]json.RawMessage) (bool, error) {
	for _, list := range lists {
		for _, raw := range list {
			var a account
			if err := json.Unmarshal(raw, &a); err != nil {
				return false, fmt.Errorf("decode service account: %w", err)
			}
			// A related list holds every namespace's accounts: the parent is cluster-scoped.
			if a.Metadata.Name == DefaultName && a.Metadata.Namespace == ns {
				return true, nil
			}
		}
	}
	return false, nil
}
