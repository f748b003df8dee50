package apiserver

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/labstack/echo/v4"
	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/internal/version"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The OpenAPI v3 documents say, per kind, which operations exist and that they take the
// fieldValidation parameter: that is what kubectl reads to hand validation (--validate=strict)
// to the server. Patch operations list the patch media types the server accepts except
// strategic merge, so `kubectl apply` computes strategic merge patches from its built-in types
// rather than from schemas, which these documents do not carry yet.

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func (s *Server) groupVersions() []schema.GroupVersion {
	var gvs []schema.GroupVersion
	for _, g := range s.registry.Groups() {
		for _, v := range s.registry.Versions(g) {
			gvs = append(gvs, schema.GroupVersion{Group: g, Version: v})
		}
	}
	return gvs
}

func (s *Server) openAPIRoot(c echo.Context) error {
	paths := map[string]map[string]string{}
	for _, gv := range s.groupVersions() {
		doc, err := json.Marshal(s.openAPIDoc(gv))
		if err != nil {
			return err
		}
		sum := sha512.Sum512(doc)
		paths[gvPath(gv)] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gvPath(gv) + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:]))}
	}
	return c.JSON(http.StatusOK, map[string]any{"paths": paths})
}

func (s *Server) openAPIGroupVersion(c echo.Context) error {
	p := strings.Trim(strings.TrimPrefix(c.Request().URL.Path, "/openapi/v3"), "/")
	for _, gv := range s.groupVersions() {
		if gvPath(gv) == p {
			return c.JSON(http.StatusOK, s.openAPIDoc(gv))
		}
	}
	return notFoundPath(c.Request().URL.Path)
}

// openAPIv2 serves a Swagger 2.0 document with the same operations, as JSON or, when asked, as
// the gnostic protobuf kubectl 1.27 requests before it will validate or apply anything.
func (s *Server) openAPIv2(c echo.Context) error {
	paths := map[string]any{}
	for _, gv := range s.groupVersions() {
		for _, k := range s.registry.KindsOf(gv) {
			addKindPathsV2(paths, gv, k)
		}
	}
	doc := map[string]any{
		"swagger": "2.0",
		"info":    map[string]any{"title": "Kubernetes", "version": version.KubeGitVersion},
		"paths":   paths,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if strings.Contains(c.Request().Header.Get("Accept"), "protobuf") {
		d, err := openapiv2.ParseDocument(b)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		pb, err := proto.Marshal(d)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		return c.Blob(http.StatusOK, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", pb)
	}
	return c.JSONBlob(http.StatusOK, b)
}

func addKindPathsV2(paths map[string]any, gv schema.GroupVersion, k *api.Kind) {
	base := "/" + gvPath(gv) + "/"
	if k.Namespaced {
		base += "namespaces/{namespace}/"
	}
	qp := func(name string) map[string]any {
		return map[string]any{"name": name, "in": "query", "type": "string", "uniqueItems": true}
	}
	opv2 := func(action string, consumes []string, params ...string) map[string]any {
		o := map[string]any{
			"operationId":                     action + k.GVK.Kind,
			"x-kubernetes-action":             action,
			"x-kubernetes-group-version-kind": map[string]string{"group": k.GVK.Group, "version": k.GVK.Version, "kind": k.GVK.Kind},
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
		}
		if len(consumes) > 0 {
			o["consumes"] = consumes
		}
		var ps []map[string]any
		for _, p := range params {
			ps = append(ps, qp(p))
		}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		return o
	}
	paths[base+k.Resource] = map[string]any{
		"get":  opv2("list", nil, "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"),
		"post": opv2("post", []string{"*/*"}, "dryRun", "fieldManager", "fieldValidation"),
	}
	paths[base+k.Resource+"/{name}"] = map[string]any{
		"get":    opv2("get", nil),
		"put":    opv2("put", []string{"*/*"}, "dryRun", "fieldManager", "fieldValidation"),
		"patch":  opv2("patch", []string{mediaJSONPatch, mediaMergePatch, mediaApplyPatch}, "dryRun", "fieldManager", "fieldValidation", "force"),
		"delete": opv2("delete", nil),
	}
}

func (s *Server) openAPIDoc(gv schema.GroupVersion) map[string]any {
	paths := map[string]any{}
	for _, k := range s.registry.KindsOf(gv) {
		addKindPaths(paths, gv, k)
	}
	return map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]any{"title": "Kubernetes", "version": version.KubeGitVersion},
		"paths":   paths,
	}
}

func op(k *api.Kind, action string, params []map[string]any, body []string) map[string]any {
	o := map[string]any{
		"operationId":                     action + k.GVK.Kind,
		"x-kubernetes-action":             action,
		"x-kubernetes-group-version-kind": map[string]string{"group": k.GVK.Group, "version": k.GVK.Version, "kind": k.GVK.Kind},
		"parameters":                      params,
		"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
	}
	if len(body) > 0 {
		content := map[string]any{}
		for _, b := range body {
			content[b] = map[string]any{"schema": map[string]any{"type": "object"}}
		}
		o["requestBody"] = map[string]any{"content": content, "required": true}
	}
	return o
}

func queryParam(name string) map[string]any {
	return map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": "string"}, "uniqueItems": true}
}

func addKindPaths(paths map[string]any, gv schema.GroupVersion, k *api.Kind) {
	base := "/" + gvPath(gv) + "/"
	if k.Namespaced {
		base += "namespaces/{namespace}/"
	}
	writeParams := []map[string]any{queryParam("dryRun"), queryParam("fieldManager"), queryParam("fieldValidation")}
	patchParams := append(append([]map[string]any{}, writeParams...), queryParam("force"))
	paths[base+k.Resource] = map[string]any{
		"get":    op(k, "list", []map[string]any{queryParam("labelSelector"), queryParam("fieldSelector"), queryParam("limit"), queryParam("continue"), queryParam("resourceVersion"), queryParam("watch")}, nil),
		"post":   op(k, "post", writeParams, []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}),
		"delete": op(k, "deletecollection", nil, nil),
	}
	paths[base+k.Resource+"/{name}"] = map[string]any{
		"get":    op(k, "get", nil, nil),
		"put":    op(k, "put", writeParams, []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}),
		"patch":  op(k, "patch", patchParams, []string{mediaJSONPatch, mediaMergePatch, mediaApplyPatch}),
		"delete": op(k, "delete", nil, nil),
	}
}
