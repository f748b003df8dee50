package api

import (
	"encoding/json"
	"regexp"
	"strings"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// tug's own kinds: served from the same table as Kubernetes', with their strategy here.

func wasmPluginKind() *Kind {
	return &Kind{
		GVK: pluginsv1alpha1.SchemeGroupVersion.WithKind("WasmPlugin"), Resource: "wasmplugins", Singular: "wasmplugin",
		ShortNames: []string{"wp"}, Categories: []string{"tug"}, Subresources: []string{SubStatus, SubModule},
		HasStatus: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &pluginsv1alpha1.WasmPlugin{} },
		NewList: func() runtime.Object { return &pluginsv1alpha1.WasmPluginList{} },
	}
}

// Plugin kinds a WasmPlugin may declare (hostabi.Kind values; the API does not import the
// ABI module, the runtime checks the two agree).
var pluginKinds = []string{"scheduler-filter", "scheduler-score", "admission", "controller"}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func defaultWasmPlugin(p *pluginsv1alpha1.WasmPlugin) {
	if p.Spec.FailurePolicy == "" {
		p.Spec.FailurePolicy = pluginsv1alpha1.FailurePolicyFail
	}
}

func validateWasmPlugin(p *pluginsv1alpha1.WasmPlugin) field.ErrorList {
	errs := validateMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	spec := field.NewPath("spec")
	if len(p.Spec.Kinds) == 0 {
		errs = append(errs, field.Required(spec.Child("kinds"), "name at least one of "+strings.Join(pluginKinds, ", ")))
	}
	seen := map[string]bool{}
	for i, k := range p.Spec.Kinds {
		switch {
		case !oneOf(k, pluginKinds...):
			errs = append(errs, field.NotSupported(spec.Child("kinds").Index(i), k, pluginKinds))
		case seen[k]:
			errs = append(errs, field.Duplicate(spec.Child("kinds").Index(i), k))
		}
		seen[k] = true
	}
	if !digestRE.MatchString(p.Spec.Module.Digest) {
		errs = append(errs, field.Invalid(spec.Child("module", "digest"), p.Spec.Module.Digest,
			"must be sha256: followed by 64 lower-case hex digits"))
	}
	if u := p.Spec.Module.URL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		errs = append(errs, field.Invalid(spec.Child("module", "url"), u, "must be an http or https URL"))
	}
	if c := p.Spec.Config; c != nil && len(c.Raw) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(c.Raw, &obj); err != nil || obj == nil {
			errs = append(errs, field.Invalid(spec.Child("config"), string(c.Raw), "must be a JSON object"))
		}
	}
	policies := []string{pluginsv1alpha1.FailurePolicyFail, pluginsv1alpha1.FailurePolicyIgnore}
	if fp := p.Spec.FailurePolicy; fp != "" && !oneOf(fp, policies...) {
		errs = append(errs, field.NotSupported(spec.Child("failurePolicy"), fp, policies))
	}
	caps := []string{pluginsv1alpha1.CapabilityClock, pluginsv1alpha1.CapabilityRandom}
	for i, c := range p.Spec.Capabilities {
		if !oneOf(c, caps...) {
			errs = append(errs, field.NotSupported(spec.Child("capabilities").Index(i), c, caps))
		}
	}
	if m := p.Spec.MemoryLimitMiB; m != nil && (*m < 1 || *m > 4096) {
		errs = append(errs, field.Invalid(spec.Child("memoryLimitMiB"), *m, "must be between 1 and 4096"))
	}
	if t := p.Spec.TimeoutMilliseconds; t != nil && (*t < 1 || *t > 60000) {
		errs = append(errs, field.Invalid(spec.Child("timeoutMilliseconds"), *t, "must be between 1 and 60000"))
	}
	return errs
}

func validateWasmPluginUpdate(p, old *pluginsv1alpha1.WasmPlugin) field.ErrorList {
	return append(validateMetaUpdate(p, old), validateWasmPlugin(p)...)
}

var wasmPluginTable = printer(columns(
	nameColumn(),
	column("Kinds", "string", "Plugin kinds the module implements."),
	column("Digest", "string", "The module's sha256 digest, shortened."),
	column("Active", "string", "Whether the spec's module version is the one serving calls."),
	column("Failure Policy", "string", "What callers do when the plugin fails: Fail or Ignore."),
	ageColumn(),
), func(p *pluginsv1alpha1.WasmPlugin) []any {
	digest := strings.TrimPrefix(p.Spec.Module.Digest, "sha256:")
	if len(digest) > 12 {
		digest = digest[:12]
	}
	active := "Unknown"
	for _, c := range p.Status.Conditions {
		if c.Type == pluginsv1alpha1.ConditionActive {
			active = string(c.Status)
		}
	}
	return []any{p.Name, strings.Join(p.Spec.Kinds, ","), digest, active, p.Spec.FailurePolicy, translateAge(p.CreationTimestamp)}
})
