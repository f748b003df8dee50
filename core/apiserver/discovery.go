package apiserver

import (
	"net/http"
	"runtime"
	"sort"

	"github.com/labstack/echo/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiversion "k8s.io/apimachinery/pkg/version"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/internal/version"
)

// Discovery is the legacy (unaggregated) form: kubectl and client-go ask for the aggregated
// form first and fall back to this when the response is plain JSON.

func (s *Server) writeObj(c echo.Context, obj any) error {
	return c.JSON(http.StatusOK, obj)
}

func (s *Server) version(c echo.Context) error {
	major, minor, gitVersion, commit := version.Info()
	return s.writeObj(c, apiversion.Info{
		Major: major, Minor: minor, GitVersion: gitVersion, GitCommit: commit, GitTreeState: "clean",
		BuildDate: s.started.UTC().Format("2006-01-02T15:04:05Z"), GoVersion: runtime.Version(),
		Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	})
}

func (s *Server) discoveryCore(c echo.Context) error {
	return s.writeObj(c, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: s.registry.Versions(""),
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: s.cfg.Listen}},
	})
}

func (s *Server) apiGroup(group string) metav1.APIGroup {
	g := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: group}
	for _, v := range s.registry.Versions(group) {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
	}
	if len(g.Versions) > 0 {
		g.PreferredVersion = g.Versions[0]
	}
	return g
}

func (s *Server) discoveryGroups(c echo.Context) error {
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	for _, g := range s.registry.Groups() {
		if g == "" {
			continue
		}
		list.Groups = append(list.Groups, s.apiGroup(g))
	}
	return s.writeObj(c, list)
}

// discoveryVersion serves /api/v1, /apis/GROUP and /apis/GROUP/VERSION.
func (s *Server) discoveryVersion(c echo.Context, ri *RequestInfo) error {
	if ri.Verb != "get" {
		return methodNotAllowed(ri.Verb, schema.GroupResource{})
	}
	if ri.APIPrefix == "apis" && ri.APIVersion == "" {
		if ri.APIGroup == "" || len(s.registry.Versions(ri.APIGroup)) == 0 {
			return notFoundPath(ri.Path)
		}
		return s.writeObj(c, s.apiGroup(ri.APIGroup))
	}
	if ri.APIPrefix == "api" && ri.APIVersion == "" {
		return s.discoveryCore(c)
	}
	gv := schema.GroupVersion{Group: ri.APIGroup, Version: ri.APIVersion}
	kinds := s.registry.KindsOf(gv)
	if len(kinds) == 0 {
		return notFoundPath(ri.Path)
	}
	return s.writeObj(c, resourceList(gv, kinds))
}

func resourceList(gv schema.GroupVersion, kinds []*api.Kind) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, k := range kinds {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.GVK.Kind,
			Verbs:      metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
			ShortNames: k.ShortNames, Categories: k.Categories,
		})
		for _, sub := range k.Subresources {
			r := metav1.APIResource{Name: k.Resource + "/" + sub, Namespaced: k.Namespaced, Kind: k.GVK.Kind}
			switch sub {
			case api.SubStatus, api.SubApproval:
				r.Verbs = metav1.Verbs{"get", "patch", "update"}
			case api.SubScale:
				r.Group, r.Version, r.Kind = "autoscaling", "v1", "Scale"
				r.Verbs = metav1.Verbs{"get", "patch", "update"}
			case api.SubBinding:
				r.Kind = "Binding"
				r.Verbs = metav1.Verbs{"create"}
			case api.SubLog:
				r.Kind = "Pod"
				r.Verbs = metav1.Verbs{"get"}
			case api.SubExec:
				r.Kind = "PodExecOptions"
				r.Verbs = metav1.Verbs{"create", "get"}
			case api.SubFinalize:
				r.Verbs = metav1.Verbs{"update"}
			case api.SubModule:
				r.Verbs = metav1.Verbs{"get", "update"}
			case api.SubToken:
				r.Group, r.Version, r.Kind = "authentication.k8s.io", "v1", "TokenRequest"
				r.Verbs = metav1.Verbs{"create"}
			}
			list.APIResources = append(list.APIResources, r)
		}
	}
	sort.SliceStable(list.APIResources, func(i, j int) bool { return list.APIResources[i].Name < list.APIResources[j].Name })
	return list
}
