package api

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
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

func schedulerProfileKind() *Kind {
	return &Kind{
		GVK: pluginsv1alpha1.SchemeGroupVersion.WithKind("SchedulerProfile"), Resource: "schedulerprofiles", Singular: "schedulerprofile",
		ShortNames: []string{"sp"}, Categories: []string{"tug"}, Subresources: []string{SubStatus},
		HasStatus: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &pluginsv1alpha1.SchedulerProfile{} },
		NewList: func() runtime.Object { return &pluginsv1alpha1.SchedulerProfileList{} },
	}
}

func defaultSchedulerProfile(p *pluginsv1alpha1.SchedulerProfile) {
	if p.Spec.SchedulerName == "" {
		p.Spec.SchedulerName = p.Name
	}
}

func validateSchedulerProfile(p *pluginsv1alpha1.SchedulerProfile) field.ErrorList {
	errs := validateMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	return append(errs, ValidateSchedulerProfileSpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidateSchedulerProfileSpec checks what can be checked without the plugins: names, weights,
// the percentage, configuration shapes. Whether a named plugin exists and accepts its
// configuration is the scheduler's to find out, in the profile's status.
func ValidateSchedulerProfileSpec(s *pluginsv1alpha1.SchedulerProfileSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.SchedulerName == "" {
		errs = append(errs, field.Required(path.Child("schedulerName"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(s.SchedulerName) {
			errs = append(errs, field.Invalid(path.Child("schedulerName"), s.SchedulerName, msg))
		}
	}
	if pc := s.PercentageOfNodesToScore; pc != nil && (*pc < 0 || *pc > 100) {
		errs = append(errs, field.Invalid(path.Child("percentageOfNodesToScore"), *pc, "must be between 0 and 100"))
	}
	if s.Plugins != nil {
		pp := path.Child("plugins")
		errs = append(errs, validatePluginSet(s.Plugins.Filter, pp.Child("filter"), false)...)
		errs = append(errs, validatePluginSet(s.Plugins.PostFilter, pp.Child("postFilter"), false)...)
		errs = append(errs, validatePluginSet(s.Plugins.Score, pp.Child("score"), true)...)
		errs = append(errs, validatePluginSet(s.Plugins.Reserve, pp.Child("reserve"), false)...)
		errs = append(errs, validatePluginSet(s.Plugins.Permit, pp.Child("permit"), false)...)
		errs = append(errs, validatePluginSet(s.Plugins.PreBind, pp.Child("preBind"), false)...)
		errs = append(errs, validatePluginSet(s.Plugins.PostBind, pp.Child("postBind"), false)...)
	}
	seen := map[string]bool{}
	for i, pc := range s.PluginConfig {
		at := path.Child("pluginConfig").Index(i)
		switch {
		case pc.Name == "":
			errs = append(errs, field.Required(at.Child("name"), ""))
		case seen[pc.Name]:
			errs = append(errs, field.Duplicate(at.Child("name"), pc.Name))
		}
		seen[pc.Name] = true
		if len(pc.Args.Raw) > 0 {
			var obj map[string]any
			if err := json.Unmarshal(pc.Args.Raw, &obj); err != nil || obj == nil {
				errs = append(errs, field.Invalid(at.Child("args"), string(pc.Args.Raw), "must be a JSON object"))
			}
		}
	}
	return errs
}

func validatePluginSet(ps pluginsv1alpha1.PluginSet, path *field.Path, weighted bool) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name    string
		plugins []pluginsv1alpha1.Plugin
	}{{"enabled", ps.Enabled}, {"disabled", ps.Disabled}} {
		seen := map[string]bool{}
		for i, p := range list.plugins {
			at := path.Child(list.name).Index(i)
			switch {
			case p.Name == "":
				errs = append(errs, field.Required(at.Child("name"), ""))
			case seen[p.Name]:
				errs = append(errs, field.Duplicate(at.Child("name"), p.Name))
			case p.Name == "*" && list.name == "enabled":
				errs = append(errs, field.Invalid(at.Child("name"), p.Name, `"*" can only disable`))
			}
			seen[p.Name] = true
			switch {
			case p.Weight != 0 && (!weighted || list.name == "disabled"):
				errs = append(errs, field.Invalid(at.Child("weight"), p.Weight, "a weight applies to enabled score plugins only"))
			case p.Weight < 0 || p.Weight > 100:
				errs = append(errs, field.Invalid(at.Child("weight"), p.Weight, "must be between 0 and 100"))
			}
		}
	}
	return errs
}

var schedulerProfileTable = printer(columns(
	nameColumn(),
	column("Scheduler Name", "string", "The spec.schedulerName of the pods the profile places."),
	column("Active", "string", "Whether the profile's current spec is the chain scheduling."),
	column("Reason", "string", "Why the chain is or is not active."),
	ageColumn(),
), func(p *pluginsv1alpha1.SchedulerProfile) []any {
	active, reason := "Unknown", ""
	for _, c := range p.Status.Conditions {
		if c.Type == pluginsv1alpha1.ConditionProfileActive {
			active, reason = string(c.Status), c.Reason
		}
	}
	return []any{p.Name, p.Spec.SchedulerName, active, reason, translateAge(p.CreationTimestamp)}
})

func controllerKind() *Kind {
	return &Kind{
		GVK: pluginsv1alpha1.SchemeGroupVersion.WithKind("Controller"), Resource: "controllers", Singular: "controller",
		ShortNames: []string{"ctrl"}, Categories: []string{"tug"}, Subresources: []string{SubStatus},
		HasStatus: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &pluginsv1alpha1.Controller{} },
		NewList: func() runtime.Object { return &pluginsv1alpha1.ControllerList{} },
	}
}

func defaultController(c *pluginsv1alpha1.Controller) {
	for i := range c.Spec.Related {
		if c.Spec.Related[i].Scope == "" {
			c.Spec.Related[i].Scope = pluginsv1alpha1.ScopeNamespace
		}
	}
}

func validateController(c *pluginsv1alpha1.Controller) field.ErrorList {
	errs := validateMeta(&c.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	spec := field.NewPath("spec")
	if p := c.Spec.Plugin; p != "" {
		for _, msg := range validation.IsDNS1123Subdomain(p) {
			errs = append(errs, field.Invalid(spec.Child("plugin"), p, msg))
		}
	}
	errs = append(errs, validateKindReference(c.Spec.Parent, spec.Child("parent"))...)
	seen := map[pluginsv1alpha1.KindReference]bool{}
	for i, k := range c.Spec.Children {
		at := spec.Child("children").Index(i)
		errs = append(errs, validateKindReference(k, at)...)
		if seen[k] {
			errs = append(errs, field.Duplicate(at, k.APIVersion+"/"+k.Kind))
		}
		seen[k] = true
	}
	scopes := []string{pluginsv1alpha1.ScopeNamespace, pluginsv1alpha1.ScopeNode, pluginsv1alpha1.ScopeSameName, pluginsv1alpha1.ScopeInside}
	related := map[pluginsv1alpha1.KindReference]bool{}
	for i, r := range c.Spec.Related {
		at := spec.Child("related").Index(i)
		errs = append(errs, validateKindReference(r.KindReference, at)...)
		if related[r.KindReference] {
			errs = append(errs, field.Duplicate(at, r.APIVersion+"/"+r.Kind))
		}
		related[r.KindReference] = true
		switch r.Scope {
		case pluginsv1alpha1.ScopeNamespace:
		case pluginsv1alpha1.ScopeNode:
			if c.Spec.Parent != (pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "Node"}) || r.KindReference != (pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "Pod"}) {
				errs = append(errs, field.Invalid(at.Child("scope"), r.Scope, "Node relates v1 Pods to a v1 Node parent only"))
			}
		case pluginsv1alpha1.ScopeInside:
			if c.Spec.Parent != (pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "Namespace"}) {
				errs = append(errs, field.Invalid(at.Child("scope"), r.Scope, "Inside relates objects to a v1 Namespace parent only"))
			}
		case pluginsv1alpha1.ScopeSameName:
			if r.Namespace == "" {
				errs = append(errs, field.Required(at.Child("namespace"), "SameName looks in a namespace"))
			}
		default:
			errs = append(errs, field.NotSupported(at.Child("scope"), r.Scope, scopes))
		}
		if r.Namespace != "" && r.Scope != pluginsv1alpha1.ScopeSameName {
			errs = append(errs, field.Invalid(at.Child("namespace"), r.Namespace, "only SameName looks in a namespace"))
		}
		if c := r.Coalesce; c != nil && (c.Duration < 0 || c.Duration > time.Minute) {
			errs = append(errs, field.Invalid(at.Child("coalesce"), c.Duration.String(), "must be between 0 and 1m"))
		}
		if r.Selector != "" {
			if r.Scope != pluginsv1alpha1.ScopeNamespace {
				errs = append(errs, field.Invalid(at.Child("selector"), r.Selector, "only Namespace scope selects by labels"))
			} else if slices.Contains(strings.Split(r.Selector, "."), "") {
				errs = append(errs, field.Invalid(at.Child("selector"), r.Selector, `must be a dotted field path such as "spec.selector"`))
			}
		}
	}
	if w := c.Spec.Workers; w < 0 || w > 64 {
		errs = append(errs, field.Invalid(spec.Child("workers"), w, "must be between 0 (the default, 2) and 64"))
	}
	return errs
}

func validateKindReference(k pluginsv1alpha1.KindReference, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if k.APIVersion == "" {
		errs = append(errs, field.Required(path.Child("apiVersion"), ""))
	} else if gv, err := schema.ParseGroupVersion(k.APIVersion); err != nil || gv.Version == "" {
		errs = append(errs, field.Invalid(path.Child("apiVersion"), k.APIVersion, "must be group/version or version"))
	}
	if k.Kind == "" {
		errs = append(errs, field.Required(path.Child("kind"), ""))
	}
	return errs
}

var controllerTable = printer(columns(
	nameColumn(),
	column("Parent", "string", "The kind the controller reconciles."),
	column("Plugin", "string", "The WasmPlugin deciding, or (built-in)."),
	column("Active", "string", "Whether the controller is reconciling with its spec's plugin."),
	column("Reason", "string", "Why it is or is not active."),
	ageColumn(),
), func(c *pluginsv1alpha1.Controller) []any {
	active, reason := "Unknown", ""
	for _, cond := range c.Status.Conditions {
		if cond.Type == pluginsv1alpha1.ConditionControllerActive {
			active, reason = string(cond.Status), cond.Reason
		}
	}
	plugin := c.Spec.Plugin
	if plugin == "" {
		plugin = "(built-in)"
	}
	return []any{c.Name, c.Spec.Parent.APIVersion + "/" + c.Spec.Parent.Kind, plugin, active, reason, translateAge(c.CreationTimestamp)}
})
