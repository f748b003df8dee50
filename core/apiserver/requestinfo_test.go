package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		method, path                        string
		verb, group, version, ns, res, name string
		sub                                 string
		resource                            bool
	}{
		{"GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/a/pods/p", "get", "", "v1", "a", "pods", "p", "", true},
		{"GET", "/api/v1/namespaces/a/pods?watch=true", "watch", "", "v1", "a", "pods", "", "", true},
		{"GET", "/api/v1/watch/namespaces/a/pods", "watch", "", "v1", "a", "pods", "", "", true},
		{"PUT", "/api/v1/namespaces/a/pods/p/status", "update", "", "v1", "a", "pods", "p", "status", true},
		{"POST", "/api/v1/namespaces/a/pods/p/binding", "create", "", "v1", "a", "pods", "p", "binding", true},
		{"GET", "/api/v1/namespaces/a", "get", "", "v1", "", "namespaces", "a", "", true},
		{"PUT", "/api/v1/namespaces/a/finalize", "update", "", "v1", "", "namespaces", "a", "finalize", true},
		{"PATCH", "/api/v1/namespaces/a/status", "patch", "", "v1", "", "namespaces", "a", "status", true},
		{"DELETE", "/apis/apps/v1/namespaces/a/deployments", "deletecollection", "apps", "v1", "a", "deployments", "", "", true},
		{"DELETE", "/apis/apps/v1/namespaces/a/deployments/d", "delete", "apps", "v1", "a", "deployments", "d", "", true},
		{"PATCH", "/apis/apps/v1/namespaces/a/deployments/d/scale", "patch", "apps", "v1", "a", "deployments", "d", "scale", true},
		{"GET", "/api/v1/nodes/n1", "get", "", "v1", "", "nodes", "n1", "", true},
		{"GET", "/apis/apps/v1", "get", "apps", "v1", "", "", "", "", false},
		{"GET", "/apis/apps", "get", "apps", "", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			ri := parseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil))
			if ri.Verb != tt.verb || ri.APIGroup != tt.group || ri.APIVersion != tt.version || ri.Namespace != tt.ns ||
				ri.Resource != tt.res || ri.Name != tt.name || ri.Subresource != tt.sub || ri.IsResourceRequest != tt.resource {
				t.Fatalf("got %+v", ri)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   output
		ok     bool
	}{
		{"", outObject, true},
		{"application/json", outObject, true},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", outTable, true},
		{"application/json;as=Table;v=v1beta1;g=meta.k8s.io", outTable, true},
		{"application/json;as=Table;v=v9;g=meta.k8s.io,application/json", outObject, true},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", outMetadata, true},
		{"application/vnd.kubernetes.protobuf,application/json", outProtobuf, true},
		{"application/vnd.kubernetes.protobuf", outProtobuf, true},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/vnd.kubernetes.protobuf", outTable, true},
		{"text/html", outObject, false},
		{"*/*", outObject, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", tt.accept)
		if got, ok := negotiate(r); got != tt.want || ok != tt.ok {
			t.Errorf("Accept %q: got %v %v, want %v %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}
