package api

import (
	"testing"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func wasmPlugin(mut func(*pluginsv1alpha1.WasmPlugin)) *pluginsv1alpha1.WasmPlugin {
	p := &pluginsv1alpha1.WasmPlugin{ObjectMeta: metav1.ObjectMeta{Name: "zone-filter"},
		Spec: pluginsv1alpha1.WasmPluginSpec{Kinds: []string{"scheduler-filter"},
			Module: pluginsv1alpha1.ModuleSource{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}
	if mut != nil {
		mut(p)
	}
	return p
}

func TestValidateWasmPlugin(t *testing.T) {
	m64 := int32(64)
	zero := int32(0)
	tests := []struct {
		name  string
		mut   func(*pluginsv1alpha1.WasmPlugin)
		field string
		typ   field.ErrorType
	}{
		{"valid", func(p *pluginsv1alpha1.WasmPlugin) {
			p.Spec.Config = &runtime.RawExtension{Raw: []byte(`{"label":"zone"}`)}
			p.Spec.Capabilities = []string{"clock"}
			p.Spec.MemoryLimitMiB = &m64
		}, "", ""},
		{"no kinds", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Kinds = nil }, "spec.kinds", field.ErrorTypeRequired},
		{"unknown kind", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Kinds = []string{"webhook"} }, "spec.kinds[0]", field.ErrorTypeNotSupported},
		{"duplicate kind", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Kinds = []string{"admission", "admission"} }, "spec.kinds[1]", field.ErrorTypeDuplicate},
		{"bad digest", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Module.Digest = "sha256:XYZ" }, "spec.module.digest", field.ErrorTypeInvalid},
		{"bad url", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Module.URL = "ftp://x/y.wasm" }, "spec.module.url", field.ErrorTypeInvalid},
		{"config not an object", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Config = &runtime.RawExtension{Raw: []byte(`[1]`)} }, "spec.config", field.ErrorTypeInvalid},
		{"bad failure policy", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.FailurePolicy = "Retry" }, "spec.failurePolicy", field.ErrorTypeNotSupported},
		{"bad capability", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.Capabilities = []string{"network"} }, "spec.capabilities[0]", field.ErrorTypeNotSupported},
		{"memory limit zero", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.MemoryLimitMiB = &zero }, "spec.memoryLimitMiB", field.ErrorTypeInvalid},
		{"timeout zero", func(p *pluginsv1alpha1.WasmPlugin) { p.Spec.TimeoutMilliseconds = &zero }, "spec.timeoutMilliseconds", field.ErrorTypeInvalid},
		{"bad name", func(p *pluginsv1alpha1.WasmPlugin) { p.Name = "Zone_Filter" }, "metadata.name", field.ErrorTypeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validators["wasmplugins"].create(wasmPlugin(tt.mut))
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("valid plugin refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.field || errs[0].Type != tt.typ {
				t.Fatalf("got %v, want one %s on %s", errs, tt.typ, tt.field)
			}
		})
	}
}

func TestWasmPluginDefaultsFailClosed(t *testing.T) {
	p := wasmPlugin(nil)
	defaulters["wasmplugins"](p)
	if p.Spec.FailurePolicy != pluginsv1alpha1.FailurePolicyFail {
		t.Fatalf("failure policy defaulted to %q, want Fail", p.Spec.FailurePolicy)
	}
}
