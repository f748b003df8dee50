package namespacelifecycle

import (
	"fmt"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Immortal are the namespaces that may not be deleted, as kube's defaults.
var Immortal = []string{"default", "kube-system", "kube-public"}

// accessReviews are the virtual resources a user may create in a namespace that does not
// exist: they store nothing, and asking "could I?" must not need the namespace.
var accessReviews = map[string]bool{"localsubjectaccessreviews": true}

// Admit applies the policy.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	isNamespace := req.Resource.Group == "" && req.Resource.Resource == "namespaces"
	if req.Operation == "DELETE" && isNamespace {
		for _, n := range Immortal {
			if req.Name == n {
				return policy.Forbidden(req, "this namespace may not be deleted")
			}
		}
		return tug.Allow()
	}
	// Cluster-scoped objects and namespaces themselves live in no namespace; only creates
	// can add content (an update of an object in a terminating namespace is how its
	// finalizers get removed).
	if req.Namespace == "" || isNamespace || req.Operation != "CREATE" {
		return tug.Allow()
	}
	if req.Resource.Group == "authorization.k8s.io" && accessReviews[req.Resource.Resource] {
		return tug.Allow()
	}
	ns, err := policy.RequestNamespace(req)
	if err != nil {
		return tug.DenyStatus(500, "InternalError", err.Error())
	}
	if ns == nil {
		return tug.DenyStatus(404, "NotFound", fmt.Sprintf("namespaces %q not found", req.Namespace))
	}
	if ns.Phase == "Terminating" {
		return policy.Forbidden(req, fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", req.Namespace))
	}
	return tug.Allow()
}
