package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tugboat-io/tug/core/api"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// maxJSONPatchOps bounds a JSON patch so one request cannot make the server spin.
const maxJSONPatchOps = 10000

// applyPatch applies a patch body of media type pt to cur and decodes the result. cur's
// resourceVersion is taken out first, so a resourceVersion in the result is one the patch set:
// a precondition, as in kube-apiserver.
func (r *resource) applyPatch(cur runtime.Object, pt string, patch []byte, fv fieldValidation) (runtime.Object, []string, error) {
	accessor(cur).SetResourceVersion("")
	curJSON, err := encodeJSON(cur, r.kind.GVK)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	var out []byte
	switch pt {
	case mediaJSONPatch:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, nil, badRequest("invalid JSON patch: %v", err)
		}
		if len(p) > maxJSONPatchOps {
			return nil, nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the JSON patch has %d operations, more than the %d allowed", len(p), maxJSONPatchOps))
		}
		if out, err = p.Apply(curJSON); err != nil {
			return nil, nil, patchFailed(err)
		}
	case mediaMergePatch:
		if !json.Valid(patch) {
			return nil, nil, badRequest("invalid JSON merge patch: body is not JSON")
		}
		if out, err = jsonpatch.MergePatch(curJSON, patch); err != nil {
			return nil, nil, patchFailed(err)
		}
	case mediaSMPatch:
		if r.kind.Unstructured {
			// Strategic merge needs the patch tags of a Go type; kube refuses it for custom
			// resources too, and kubectl falls back to a JSON merge patch.
			return nil, nil, unsupportedPatch(r.kind)
		}
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, nil, badRequest("invalid strategic merge patch: %v", err)
		}
		if out, err = strategicpatch.StrategicMergePatch(curJSON, patch, r.kind.New()); err != nil {
			return nil, nil, patchFailed(err)
		}
	case mediaApplyPatch:
		// Server-side apply, as create-or-merge: the applied configuration is merged into the
		// live object with strategic-merge semantics (list items by merge key), owned by
		// fieldManager.
		applied, err := yaml.YAMLToJSON(patch)
		if err != nil {
			return nil, nil, badRequest("invalid apply configuration: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(applied, &m); err != nil || m == nil {
			return nil, nil, badRequest("invalid apply configuration: not an object")
		}
		gv := r.kind.GVK.GroupVersion().String()
		if m["apiVersion"] != gv || m["kind"] != r.kind.GVK.Kind {
			return nil, nil, badRequest("the apply configuration must have apiVersion %q and kind %q", gv, r.kind.GVK.Kind)
		}
		if r.kind.Unstructured {
			// Without a Go type there are no list merge keys: the applied configuration is
			// merged as a JSON merge patch, lists replaced whole.
			out, err = jsonpatch.MergePatch(curJSON, applied)
		} else {
			out, err = strategicpatch.StrategicMergePatch(curJSON, applied, r.kind.New())
		}
		if err != nil {
			return nil, nil, patchFailed(err)
		}
	default:
		return nil, nil, unsupportedPatch(r.kind)
	}
	next, warnings, err := decodeFor(r.kind, out, mediaJSON, fv)
	if err != nil {
		return nil, nil, err
	}
	return next, warnings, nil
}

func patchFailed(err error) error {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "patch", schema.GroupResource{}, "",
		fmt.Sprintf("the patch could not be applied: %v", err), 0, false)
}

// unsupportedPatch lists the patch types k accepts (all four unless it is a custom resource).
func unsupportedPatch(k *api.Kind) error {
	types := []string{mediaJSONPatch, mediaMergePatch, mediaSMPatch, mediaApplyPatch}
	if k != nil && k.Unstructured {
		types = []string{mediaJSONPatch, mediaMergePatch, mediaApplyPatch}
	}
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", schema.GroupResource{}, "",
		"the body of the request was in an unknown format - accepted media types include: "+strings.Join(types, ", "), 0, false)
}
