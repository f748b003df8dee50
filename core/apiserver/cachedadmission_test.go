package apiserver_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
)

// countingAdmission counts the validations of updates, and refuses those that label an
// object deny=yes.
type countingAdmission struct{ updates atomic.Int32 }

func (*countingAdmission) Mutate(context.Context, *apiserver.AdmissionRequest) error { return nil }

func (a *countingAdmission) Validate(_ context.Context, req *apiserver.AdmissionRequest) error {
	if req.Operation != apiserver.OpUpdate {
		return nil
	}
	a.updates.Add(1)
	if m, err := meta.Accessor(req.Object); err == nil && m.GetLabels()["deny"] == "yes" {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "c", nil)
	}
	return nil
}

// An update that starts from the watch cache's copy, when that copy is current, is decided
// once: a refusal, or a write that changes nothing, does not run admission again from etcd.
func TestCachedUpdateAdmitsOnce(t *testing.T) {
	adm := &countingAdmission{}
	srv := apiservertest.Start(t, apiserver.Config{Admission: adm})
	c := http.DefaultClient
	base := srv.URL + "/api/v1/namespaces/default/configmaps"
	if code, body := do(t, c, "GET", base+"?watch=true&timeoutSeconds=1", "", nil); code != 200 {
		t.Fatalf("watch = %d %s", code, body)
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]string{"k": "v"}}
	if code, body := do(t, c, "POST", base, "", cm); code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	if code, body := do(t, c, "GET", base+"/c", "", nil); code != 200 {
		t.Fatalf("get = %d %s", code, body)
	}

	if code, body := do(t, c, "PUT", base+"/c", "", cm); code != 200 {
		t.Fatalf("a no-op update = %d %s", code, body)
	}
	if n := adm.updates.Swap(0); n != 1 {
		t.Errorf("a no-op update was validated %d times, want once", n)
	}
	cm["metadata"] = map[string]any{"name": "c", "labels": map[string]string{"deny": "yes"}}
	if code, body := do(t, c, "PUT", base+"/c", "", cm); code != 403 {
		t.Fatalf("a refused update = %d %s", code, body)
	}
	if n := adm.updates.Swap(0); n != 1 {
		t.Errorf("a refused update was validated %d times, want once", n)
	}
}
