package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RequestInfo is what a request path and method name, as in kube-apiserver.
type RequestInfo struct {
	IsResourceRequest bool
	Path              string
	Verb              string
	APIPrefix         string // "api" or "apis"
	APIGroup          string
	APIVersion        string
	Namespace         string
	Resource          string
	Subresource       string
	Name              string
	Parts             []string
}

// namespaceSubresources are the subresources of a namespace itself, which the path parser must
// not mistake for a resource inside the namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequestInfo splits /api/v1/namespaces/ns/pods/name/status style paths. A path that is not
// a resource path (discovery, /version, /healthz) comes back with IsResourceRequest false.
func parseRequestInfo(r *http.Request) *RequestInfo {
	ri := &RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 1 || (parts[0] != "api" && parts[0] != "apis") {
		return ri
	}
	ri.APIPrefix = parts[0]
	parts = parts[1:]
	if ri.APIPrefix == "apis" {
		if len(parts) < 1 {
			return ri
		}
		ri.APIGroup = parts[0]
		parts = parts[1:]
	}
	if len(parts) < 1 {
		return ri
	}
	ri.APIVersion = parts[0]
	parts = parts[1:]
	if len(parts) < 1 {
		return ri // discovery of a group version
	}
	ri.IsResourceRequest = true

	watchPath := false
	if parts[0] == "watch" {
		watchPath = true
		parts = parts[1:]
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		ri.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	ri.Parts = parts
	if len(parts) > 0 {
		ri.Resource = parts[0]
	}
	if len(parts) > 1 {
		ri.Name = parts[1]
	}
	if len(parts) > 2 {
		ri.Subresource = parts[2]
	}
	// A namespace addressed as /api/v1/namespaces/NAME is the namespace object itself.
	if ri.Resource == "namespaces" && ri.Name != "" {
		ri.Namespace = ""
	}

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watchPath || isTrue(r.URL.Query().Get("watch")):
			ri.Verb = "watch"
		case ri.Name == "":
			ri.Verb = "list"
		default:
			ri.Verb = "get"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		if ri.Name == "" {
			ri.Verb = "deletecollection"
		} else {
			ri.Verb = "delete"
		}
	}
	return ri
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isTrue(s string) bool { return s == "true" || s == "1" }

func (ri *RequestInfo) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: ri.APIGroup, Resource: ri.Resource}
}
