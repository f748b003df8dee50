package api

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
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

func TestValidateSchedulerProfile(t *testing.T) {
	pct := func(v int32) *int32 { return &v }
	for _, tt := range []struct {
		name  string
		mut   func(*pluginsv1alpha1.SchedulerProfileSpec)
		field string
		typ   field.ErrorType
	}{
		{"valid", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{
				Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "zone-filter"}}},
				Score: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "NodeResourcesFit", Weight: 5}},
					Disabled: []pluginsv1alpha1.Plugin{{Name: "*"}}}}
			s.PluginConfig = []pluginsv1alpha1.PluginConfig{{Name: "NodeResourcesFit",
				Args: runtime.RawExtension{Raw: []byte(`{"scoringStrategy":{"type":"MostAllocated"}}`)}}}
		}, "", ""},
		{"no scheduler name", func(s *pluginsv1alpha1.SchedulerProfileSpec) { s.SchedulerName = "" }, "spec.schedulerName", field.ErrorTypeRequired},
		{"bad scheduler name", func(s *pluginsv1alpha1.SchedulerProfileSpec) { s.SchedulerName = "Bin Packing" }, "spec.schedulerName", field.ErrorTypeInvalid},
		{"percentage over 100", func(s *pluginsv1alpha1.SchedulerProfileSpec) { s.PercentageOfNodesToScore = pct(101) }, "spec.percentageOfNodesToScore", field.ErrorTypeInvalid},
		{"plugin without a name", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{}}}}
		}, "spec.plugins.filter.enabled[0].name", field.ErrorTypeRequired},
		{"plugin twice", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Score: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "a"}, {Name: "a"}}}}
		}, "spec.plugins.score.enabled[1].name", field.ErrorTypeDuplicate},
		{"enabling *", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "*"}}}}
		}, "spec.plugins.filter.enabled[0].name", field.ErrorTypeInvalid},
		{"weight on a filter", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "a", Weight: 2}}}}
		}, "spec.plugins.filter.enabled[0].weight", field.ErrorTypeInvalid},
		{"weight over 100", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Score: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "a", Weight: 101}}}}
		}, "spec.plugins.score.enabled[0].weight", field.ErrorTypeInvalid},
		{"binding points valid", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{
				Reserve:  pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gpu-claim"}}},
				Permit:   pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gang"}}, Disabled: []pluginsv1alpha1.Plugin{{Name: "*"}}},
				PreBind:  pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gpu-claim"}}},
				PostBind: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gpu-claim"}}}}
		}, "", ""},
		{"weight on a permit", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Permit: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gang", Weight: 2}}}}
		}, "spec.plugins.permit.enabled[0].weight", field.ErrorTypeInvalid},
		{"reserve twice", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{Reserve: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "a"}, {Name: "a"}}}}
		}, "spec.plugins.reserve.enabled[1].name", field.ErrorTypeDuplicate},
		{"pre-bind without a name", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{PreBind: pluginsv1alpha1.PluginSet{Disabled: []pluginsv1alpha1.Plugin{{}}}}
		}, "spec.plugins.preBind.disabled[0].name", field.ErrorTypeRequired},
		{"enabling * at post-bind", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.Plugins = &pluginsv1alpha1.Plugins{PostBind: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "*"}}}}
		}, "spec.plugins.postBind.enabled[0].name", field.ErrorTypeInvalid},
		{"config twice", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.PluginConfig = []pluginsv1alpha1.PluginConfig{{Name: "a"}, {Name: "a"}}
		}, "spec.pluginConfig[1].name", field.ErrorTypeDuplicate},
		{"args not an object", func(s *pluginsv1alpha1.SchedulerProfileSpec) {
			s.PluginConfig = []pluginsv1alpha1.PluginConfig{{Name: "a", Args: runtime.RawExtension{Raw: []byte(`"x"`)}}}
		}, "spec.pluginConfig[0].args", field.ErrorTypeInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &pluginsv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "bin-packing"}}
			defaulters["schedulerprofiles"](p)
			tt.mut(&p.Spec)
			errs := validators["schedulerprofiles"].create(p)
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.field || errs[0].Type != tt.typ {
				t.Fatalf("got %v, want one %s at %s", errs, tt.typ, tt.field)
			}
		})
	}
}

func TestValidateController(t *testing.T) {
	ref := func(apiVersion, kind string) pluginsv1alpha1.KindReference {
		return pluginsv1alpha1.KindReference{APIVersion: apiVersion, Kind: kind}
	}
	for _, tt := range []struct {
		name  string
		mut   func(*pluginsv1alpha1.ControllerSpec)
		field string
		typ   field.ErrorType
	}{
		{"valid", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod")}}
		}, "", ""},
		{"node scope on nodes", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Parent = ref("v1", "Node")
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Scope: pluginsv1alpha1.ScopeNode, Deletable: true},
				{KindReference: ref("coordination.k8s.io/v1", "Lease"), Scope: pluginsv1alpha1.ScopeSameName, Namespace: "kube-node-lease"}}
		}, "", ""},
		{"no parent kind", func(s *pluginsv1alpha1.ControllerSpec) { s.Parent.Kind = "" }, "spec.parent.kind", field.ErrorTypeRequired},
		{"bad apiVersion", func(s *pluginsv1alpha1.ControllerSpec) { s.Parent.APIVersion = "a/b/c" }, "spec.parent.apiVersion", field.ErrorTypeInvalid},
		{"bad plugin name", func(s *pluginsv1alpha1.ControllerSpec) { s.Plugin = "My Plugin" }, "spec.plugin", field.ErrorTypeInvalid},
		{"child twice", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Children = append(s.Children, s.Children[0])
		}, "spec.children[1]", field.ErrorTypeDuplicate},
		{"unknown scope", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Scope: "Cluster"}}
		}, "spec.related[0].scope", field.ErrorTypeNotSupported},
		{"node scope elsewhere", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Scope: pluginsv1alpha1.ScopeNode}}
		}, "spec.related[0].scope", field.ErrorTypeInvalid},
		{"same name without a namespace", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "ConfigMap"), Scope: pluginsv1alpha1.ScopeSameName}}
		}, "spec.related[0].namespace", field.ErrorTypeRequired},
		{"inside a non-namespace", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "ConfigMap"), Scope: pluginsv1alpha1.ScopeInside}}
		}, "spec.related[0].scope", field.ErrorTypeInvalid},
		{"selected by labels", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Selector: "spec.selector", IgnoreStatus: true}}
		}, "", ""},
		{"selector not a path", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Selector: "spec..selector"}}
		}, "spec.related[0].selector", field.ErrorTypeInvalid},
		{"selector on node scope", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Parent = ref("v1", "Node")
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Scope: pluginsv1alpha1.ScopeNode, Selector: "spec.selector"}}
		}, "spec.related[0].selector", field.ErrorTypeInvalid},
		{"coalesced a second", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Coalesce: &metav1.Duration{Duration: time.Second}}}
		}, "", ""},
		{"coalesced an hour", func(s *pluginsv1alpha1.ControllerSpec) {
			s.Related = []pluginsv1alpha1.RelatedKind{{KindReference: ref("v1", "Pod"), Coalesce: &metav1.Duration{Duration: time.Hour}}}
		}, "spec.related[0].coalesce", field.ErrorTypeInvalid},
		{"too many workers", func(s *pluginsv1alpha1.ControllerSpec) { s.Workers = 65 }, "spec.workers", field.ErrorTypeInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &pluginsv1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Name: "websites"},
				Spec: pluginsv1alpha1.ControllerSpec{Plugin: "website", Parent: ref("website.example.tug.dev/v1", "Website"),
					Children: []pluginsv1alpha1.KindReference{ref("v1", "ConfigMap")}}}
			tt.mut(&c.Spec)
			defaulters["controllers"](c)
			errs := validators["controllers"].create(c)
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.field || errs[0].Type != tt.typ {
				t.Fatalf("got %v, want one %s at %s", errs, tt.typ, tt.field)
			}
		})
	}
}
