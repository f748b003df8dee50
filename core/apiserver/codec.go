package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tugboat-io/tug/core/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// Media types the server reads.
const (
	mediaJSON       = "application/json"
	mediaYAML       = "application/yaml"
	mediaProtobuf   = "application/vnd.kubernetes.protobuf"
	mediaMergePatch = "application/merge-patch+json"
	mediaJSONPatch  = "application/json-patch+json"
	mediaSMPatch    = "application/strategic-merge-patch+json"
	mediaApplyPatch = "application/apply-patch+yaml"
)

var (
	// strictJSON and strictYAML report unknown and duplicate fields as a strict decoding error
	// while still decoding the object, so fieldValidation Warn and Ignore can carry on.
	strictJSON = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme,
		jsonserializer.SerializerOptions{Strict: true})
	strictYAML = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme,
		jsonserializer.SerializerOptions{Yaml: true, Strict: true})
	plainJSON = jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, api.Scheme, api.Scheme,
		jsonserializer.SerializerOptions{})
	protoSerializer = protobuf.NewSerializer(api.Scheme, api.Scheme)
)

// fieldValidation is the fieldValidation query parameter: what to do with unknown or duplicate
// fields in a body.
type fieldValidation string

const (
	fvIgnore fieldValidation = "Ignore"
	fvWarn   fieldValidation = "Warn"
	fvStrict fieldValidation = "Strict"
)

func parseFieldValidation(r *http.Request) (fieldValidation, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", "Warn":
		return fvWarn, nil
	case "Ignore":
		return fvIgnore, nil
	case "Strict":
		return fvStrict, nil
	default:
		return "", badRequest("fieldValidation parameter unsupported: %q (use Ignore, Warn or Strict)", v)
	}
}

func mediaTypeOf(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// readBody reads at most limit bytes; a larger body is RequestEntityTooLarge and nothing is kept.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest("reading request body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
	}
	return b, nil
}

// decodeBody decodes a request body of the given media type into into. It returns warnings for
// unknown fields under fieldValidation=Warn, and BadRequest under Strict.
func decodeBody(body []byte, media string, into runtime.Object, gvk schema.GroupVersionKind, fv fieldValidation) ([]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("request body is empty")
	}
	var dec runtime.Decoder
	switch media {
	case mediaJSON:
		dec = strictJSON
	case mediaYAML, mediaApplyPatch:
		dec = strictYAML
	case mediaProtobuf:
		dec = protoSerializer
	default:
		return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf), 0, false)
	}
	got, gotGVK, err := dec.Decode(body, &gvk, into)
	var warnings []string
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			var sde interface{ Errors() []error }
			if errors.As(err, &sde) {
				for _, e := range sde.Errors() {
					warnings = append(warnings, e.Error())
				}
			} else {
				warnings = append(warnings, err.Error())
			}
			if fv == fvStrict {
				return nil, badRequest("%s", strings.Join(append([]string{"strict decoding error:"}, warnings...), " "))
			}
			if fv == fvIgnore {
				warnings = nil
			}
		} else {
			return nil, badRequest("the object provided is unrecognized or malformed: %v", cleanDecodeErr(err))
		}
	}
	if got != into {
		return nil, badRequest("the body of the request holds %s, not %s", gotGVK, gvk)
	}
	if gotGVK != nil && (gotGVK.Group != gvk.Group || gotGVK.Version != gvk.Version) && gotGVK.Version != "" {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", gotGVK.GroupVersion(), gvk.GroupVersion())
	}
	if gotGVK != nil && gotGVK.Kind != "" && gotGVK.Kind != gvk.Kind {
		return nil, badRequest("the kind in the data (%s) does not match the expected kind (%s)", gotGVK.Kind, gvk.Kind)
	}
	return warnings, nil
}

// decodeFor decodes a request body as an object of kind k. Custom resources are read from JSON
// or YAML only, as kube-apiserver reads them; the fields their schema does not declare are
// pruned and treated like unknown fields of a typed kind: warned about, or refused under
// fieldValidation=Strict.
func decodeFor(k *api.Kind, body []byte, media string, fv fieldValidation) (runtime.Object, []string, error) {
	if k.Unstructured && media == mediaProtobuf {
		return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s", mediaJSON, mediaYAML), 0, false)
	}
	obj := k.New()
	warnings, err := decodeBody(body, media, obj, k.GVK, fv)
	if err != nil {
		return nil, nil, err
	}
	if k.Prune == nil {
		return obj, warnings, nil
	}
	var unknown []string
	for _, p := range k.Prune(obj) {
		unknown = append(unknown, fmt.Sprintf("unknown field %q", p))
	}
	switch {
	case len(unknown) == 0 || fv == fvIgnore:
	case fv == fvStrict:
		return nil, nil, badRequest("%s", strings.Join(append([]string{"strict decoding error:"}, unknown...), " "))
	default:
		warnings = append(warnings, unknown...)
	}
	return obj, warnings, nil
}

func cleanDecodeErr(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// encodeJSON writes obj as JSON with its apiVersion and kind.
//
// Objects from the watch cache are shared between goroutines, so the kind is written only when
// it is not already the right one.
func encodeJSON(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	var buf bytes.Buffer
	if err := plainJSON.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
