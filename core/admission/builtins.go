package admission

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

// Builtins are tug's own admission policies, decided by its default admission module (no
// spec.plugin), in the order kube-apiserver runs the plugins of the same names. Each is an
// AdmissionPolicy object the API server creates when missing; an administrator may edit one
// (its config, its selectors, a plugin of their own) or delete it, as they would disable a
// kube-apiserver admission plugin.
//
// With tokenVolume, the ServiceAccount policy mounts kube's projected token volume (a token
// bound to the pod, the cluster CA, the namespace) into pods, as kube does: right for a
// server that authenticates service account tokens, and useless without one.
func Builtins(tokenVolume bool) []pluginsv1alpha1.AdmissionPolicy {
	ref := func(v, k string) pluginsv1alpha1.KindReference {
		return pluginsv1alpha1.KindReference{APIVersion: v, Kind: k}
	}
	rule := func(groups, resources []string, ops ...string) pluginsv1alpha1.RuleWithOperations {
		return pluginsv1alpha1.RuleWithOperations{Operations: ops, APIGroups: groups, APIVersions: []string{"*"}, Resources: resources, Scope: "*"}
	}
	core := []string{""}
	pods := []string{"pods"}
	nsRead := pluginsv1alpha1.AdmissionRead{KindReference: ref("v1", "Namespace"), Scope: pluginsv1alpha1.ReadRequestNamespace}
	policy := func(name, typ string, order int32, config string, reads []pluginsv1alpha1.AdmissionRead, rules ...pluginsv1alpha1.RuleWithOperations) pluginsv1alpha1.AdmissionPolicy {
		p := pluginsv1alpha1.AdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: pluginsv1alpha1.SchemeGroupVersion.String(), Kind: "AdmissionPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{BuiltinLabel: "true"}},
			Spec: pluginsv1alpha1.AdmissionPolicySpec{Type: typ, Rules: rules, FailurePolicy: pluginsv1alpha1.FailurePolicyFail,
				Order: &order, Reads: reads},
		}
		if config != "" {
			p.Spec.Config = &runtime.RawExtension{Raw: []byte(config)}
		}
		return p
	}
	saConfig := ""
	if tokenVolume {
		saConfig = `{"tokenVolume":true}`
	}
	return []pluginsv1alpha1.AdmissionPolicy{
		// Creates into a namespace that is missing or terminating; deletes of the system
		// namespaces.
		policy("namespacelifecycle", pluginsv1alpha1.PolicyValidating, 100, "",
			[]pluginsv1alpha1.AdmissionRead{nsRead},
			namespaced(rule([]string{"*"}, []string{"*"}, "CREATE")), rule(core, []string{"namespaces"}, "DELETE")),
		// What a node may write beyond what the node authorizer decides: its own Node,
		// Lease and DNS slice, mirror pods bound to itself. Only nodes' requests reach it.
		withGroups(policy("noderestriction", pluginsv1alpha1.PolicyValidating, 50, "", nil,
			rule(core, pods, "CREATE"), rule(core, []string{"nodes"}, "CREATE", "UPDATE"),
			rule([]string{"coordination.k8s.io"}, []string{"leases"}, "CREATE"),
			rule([]string{"discovery.k8s.io"}, []string{"endpointslices"}, "CREATE")), "system:nodes"),
		// Defaults and bounds from the namespace's LimitRanges.
		policy("limitranger", pluginsv1alpha1.PolicyMutating, 200, "",
			[]pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "LimitRange"), Required: true}},
			rule(core, []string{"pods", "persistentvolumeclaims"}, "CREATE", "UPDATE")),
		// The default service account, and that the pod's account exists.
		policy("serviceaccount", pluginsv1alpha1.PolicyMutating, 300, saConfig,
			[]pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "ServiceAccount")}},
			rule(core, pods, "CREATE")),
		// Five minutes of tolerating a not-ready or unreachable node before eviction.
		policy("defaulttolerationseconds", pluginsv1alpha1.PolicyMutating, 400, "", nil,
			rule(core, pods, "CREATE")),
		// Pod Security Standards by namespace label.
		policy("podsecurity", pluginsv1alpha1.PolicyValidating, 500, "",
			[]pluginsv1alpha1.AdmissionRead{nsRead},
			rule(core, pods, "CREATE", "UPDATE"),
			rule([]string{"apps"}, []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, "CREATE", "UPDATE"),
			rule([]string{"batch"}, []string{"jobs", "cronjobs"}, "CREATE", "UPDATE"),
			rule(core, []string{"replicationcontrollers", "podtemplates"}, "CREATE", "UPDATE")),
		// Usage charged against the namespace's quotas, atomically with the create.
		policy("resourcequota", pluginsv1alpha1.PolicyValidating, 600, "",
			[]pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "ResourceQuota"), Required: true, WriteStatus: true}},
			namespaced(rule([]string{"*"}, []string{"*"}, "CREATE"))),
	}
}

func withGroups(p pluginsv1alpha1.AdmissionPolicy, groups ...string) pluginsv1alpha1.AdmissionPolicy {
	p.Spec.MatchUserGroups = groups
	return p
}

func namespaced(r pluginsv1alpha1.RuleWithOperations) pluginsv1alpha1.RuleWithOperations {
	r.Scope = "Namespaced"
	return r
}

// BuiltinLabel marks the AdmissionPolicies tug creates.
const BuiltinLabel = "admission.tug.dev/builtin"

// builtinNames maps a built-in policy's object name to the name its logic goes by in the
// default module (the policy field of the request).
var builtinNames = map[string]string{
	"namespacelifecycle":       "NamespaceLifecycle",
	"noderestriction":          "NodeRestriction",
	"limitranger":              "LimitRanger",
	"serviceaccount":           "ServiceAccount",
	"defaulttolerationseconds": "DefaultTolerationSeconds",
	"podsecurity":              "PodSecurity",
	"resourcequota":            "ResourceQuota",
}
