package v1alpha1

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestDeepCopyIsDeep(t *testing.T) {
	mem := int32(32)
	in := &WasmPlugin{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}},
		Spec: WasmPluginSpec{Kinds: []string{"admission"}, Module: ModuleSource{Digest: "sha256:00"},
			Config: &runtime.RawExtension{Raw: []byte(`{"x":1}`)}, Capabilities: []string{"clock"}, MemoryLimitMiB: &mem},
		Status: WasmPluginStatus{Conditions: []metav1.Condition{{Type: ConditionLoaded, Status: metav1.ConditionTrue}}},
	}
	out := in.DeepCopy()
	if !reflect.DeepEqual(in, out) {
		t.Fatal("copy differs from the original")
	}
	out.Labels["a"] = "changed"
	out.Spec.Kinds[0] = "changed"
	out.Spec.Config.Raw[2] = 'y'
	out.Spec.Capabilities[0] = "changed"
	*out.Spec.MemoryLimitMiB = 1
	out.Status.Conditions[0].Type = "changed"
	if in.Labels["a"] != "b" || in.Spec.Kinds[0] != "admission" || string(in.Spec.Config.Raw) != `{"x":1}` ||
		in.Spec.Capabilities[0] != "clock" || *in.Spec.MemoryLimitMiB != 32 || in.Status.Conditions[0].Type != ConditionLoaded {
		t.Fatalf("changing the copy changed the original: %+v", in)
	}
}
