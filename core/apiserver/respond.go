package apiserver

import (
	"bytes"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/tugboat-io/tug/core/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// reqCtx is one resource request on its way through the handlers.
type reqCtx struct {
	c    echo.Context
	r    *http.Request
	w    *echo.Response
	ri   *RequestInfo
	user *UserInfo
	res  *resource
	kind *api.Kind
	s    *Server

	warnings []string
}

// output is the representation a client asked for in Accept.
type output int

const (
	outObject output = iota
	outTable
	outMetadata // PartialObjectMetadata(List)
	outProtobuf // the object itself in Kubernetes protobuf, for typed clients that prefer it
)

// negotiate reads Accept the way kube-apiserver does for the representations tug serves:
// JSON objects, meta.k8s.io Tables (kubectl get) and PartialObjectMetadata (metadata clients).
// Objects and lists are also served as protobuf to clients that put it first (client-go typed
// clients, kubectl); watches and errors stay JSON, which those clients also accept.
func negotiate(r *http.Request) (output, bool) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return outObject, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == mediaProtobuf && params["as"] == "" {
			return outProtobuf, true
		}
		if mt != "application/json" && mt != "*/*" && mt != "application/*" && mt != "application/yaml" {
			continue
		}
		switch params["as"] {
		case "":
			return outObject, true
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return outTable, true
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return outMetadata, true
			}
		}
	}
	return outObject, false
}

func writeStatus(w http.ResponseWriter, st *metav1.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	b, err := encodeJSON(st, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	if err != nil {
		b = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`)
	}
	writeJSON(w, int(st.Code), b)
}

func writeJSON(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (rc *reqCtx) flushWarnings() {
	for _, w := range rc.warnings {
		rc.w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(w, `"`, `'`)+`"`)
	}
}

// respond writes one object in the representation the client negotiated.
func (rc *reqCtx) respond(code int, obj runtime.Object) error {
	rc.flushWarnings()
	out, ok := negotiate(rc.r)
	if !ok {
		return notAcceptable()
	}
	var body runtime.Object = obj
	gvk := rc.kind.GVK
	if out == outProtobuf && !rc.res.protobuf {
		out = outObject // clients that ask for protobuf accept JSON too
	}
	switch out {
	case outTable:
		t := rc.res.table([]runtime.Object{obj}, includeObject(rc.r, "Metadata"))
		t.ResourceVersion = accessor(obj).GetResourceVersion()
		body, gvk = t, tableGVK
	case outMetadata:
		body, gvk = partialMeta(obj, rc.kind.GVK), partialGVK
	case outProtobuf:
		return writeProtobuf(rc.w, code, obj, gvk)
	}
	b, err := encodeJSON(body, gvk)
	if err != nil {
		return err
	}
	writeJSON(rc.w, code, b)
	return nil
}

var (
	tableGVK       = metav1.SchemeGroupVersion.WithKind("Table")
	partialGVK     = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")
	partialListGVK = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadataList")
)

func partialMeta(obj runtime.Object, _ schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{}
	p.APIVersion, p.Kind = partialGVK.GroupVersion().String(), partialGVK.Kind
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if raw, ok := u.Object["metadata"].(map[string]any); ok {
			// Stored metadata passed validation, so it converts; a failure leaves it empty.
			_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &p.ObjectMeta)
		}
		return p
	}
	if om, ok := structOf(obj).FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta); ok {
		p.ObjectMeta = *om.DeepCopy()
	}
	return p
}

func includeObject(r *http.Request, def string) string {
	if v := r.URL.Query().Get("includeObject"); v != "" {
		return v
	}
	return def
}

func notAcceptable() error {
	return &statusErr{metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotAcceptable, Reason: metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io"}}
}

type statusErr struct{ st metav1.Status }

func (e *statusErr) Error() string         { return e.st.Message }
func (e *statusErr) Status() metav1.Status { return e.st }

// hasProtobuf says whether a kind's objects have a protobuf encoding: Kubernetes' own kinds
// do; custom resources and tug's own kinds (plugins.tug.dev) are JSON only, as custom
// resources are in kube.
func hasProtobuf(k *api.Kind) bool {
	if k.Unstructured {
		return false
	}
	switch k.New().(type) {
	case runtime.ProtobufMarshaller, interface{ Marshal() ([]byte, error) }:
		return true // what the protobuf serializer can encode
	}
	return false
}

// writeProtobuf writes obj in the Kubernetes protobuf envelope. The object's kind is set on a
// copy when it differs, since cached objects are shared.
func writeProtobuf(w http.ResponseWriter, code int, obj runtime.Object, gvk schema.GroupVersionKind) error {
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	var buf bytes.Buffer
	if err := protoSerializer.Encode(obj, &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", mediaProtobuf)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
	return nil
}
