package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Labels and annotations kube puts on its default RBAC objects; kept so tooling that looks for
// them (kubectl auth reconcile, audits) recognises tug's.
const (
	BootstrapLabel        = "kubernetes.io/bootstrapping"
	BootstrapLabelValue   = "rbac-defaults"
	AutoupdateAnnotation  = "rbac.authorization.kubernetes.io/autoupdate"
	AggregateToAdminLabel = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEditLabel  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToViewLabel  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// PluginsGroup is tug's own API group (wasm plugins, scheduler profiles, controllers).
const PluginsGroup = "plugins.tug.dev"

// Verb sets.
var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// rule builds a resource rule.
func rule(verbs []string, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

// urls builds a non-resource rule.
func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

func g(groups ...string) []string { return groups }

var core = g("")

// The kinds a namespace's users work with, by group; view reads them, edit writes them.
var (
	workloadsCore  = []string{"pods", "replicationcontrollers", "replicationcontrollers/scale", "services", "endpoints", "persistentvolumeclaims", "configmaps", "serviceaccounts"}
	workloadsApps  = []string{"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale", "daemonsets"}
	workloadsBatch = []string{"jobs", "cronjobs"}
)

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	l := map[string]string{BootstrapLabel: BootstrapLabelValue}
	for k, v := range labels {
		l[k] = v
	}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{AutoupdateAnnotation: "true"}},
		Rules:      rules,
	}
}

func aggregated(name string, labels map[string]string, selectLabel string) *rbacv1.ClusterRole {
	cr := clusterRole(name, labels)
	cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{selectLabel: "true"}}}}
	return cr
}

func binding(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: role, Labels: map[string]string{BootstrapLabel: BootstrapLabelValue}, Annotations: map[string]string{AutoupdateAnnotation: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// Bootstrap returns tug's default ClusterRoles and ClusterRoleBindings, modelled on kube's
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) and trimmed to the kinds tug serves. The
// server creates the missing ones at start; each call returns fresh objects.
func Bootstrap() ([]*rbacv1.ClusterRole, []*rbacv1.ClusterRoleBinding) {
	roles := []*rbacv1.ClusterRole{
		clusterRole("cluster-admin", nil,
			rule(g("*"), g("*"), "*"),
			urls(g("*"), "*")),

		// The user-facing roles are empty shells that aggregate, so extensions (and tug's own
		// kinds, below) add themselves by label, as with kube.
		aggregated("admin", nil, AggregateToAdminLabel),
		aggregated("edit", map[string]string{AggregateToAdminLabel: "true"}, AggregateToEditLabel),
		aggregated("view", map[string]string{AggregateToEditLabel: "true"}, AggregateToViewLabel),

		clusterRole("system:aggregate-to-admin", map[string]string{AggregateToAdminLabel: "true"},
			rule(readWrite, g("rbac.authorization.k8s.io"), "roles", "rolebindings"),
			rule(g("create"), g("authorization.k8s.io"), "localsubjectaccessreviews"),
			rule(g("get", "list", "watch", "update", "patch"), core, "resourcequotas", "limitranges")),
		clusterRole("system:aggregate-to-edit", map[string]string{AggregateToEditLabel: "true"},
			rule(readWrite, core, workloadsCore...),
			rule(readWrite, core, "secrets"),
			rule(g("get", "create"), core, "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "services/proxy"),
			rule(g("create"), core, "serviceaccounts/token"),
			rule(g("impersonate"), core, "serviceaccounts"),
			rule(g("create", "delete", "deletecollection", "patch", "update"), core, "pods/eviction"),
			rule(readWrite, g("apps"), workloadsApps...),
			rule(readWrite, g("batch"), workloadsBatch...),
			rule(readWrite, g("networking.k8s.io"), "ingresses"),
			rule(readWrite, g("discovery.k8s.io"), "endpointslices")),
		clusterRole("system:aggregate-to-view", map[string]string{AggregateToViewLabel: "true"},
			// Secrets are not readable by view, as in kube: reading one is often reading
			// credentials that let you act as someone else.
			rule(read, core, append(workloadsCore, "pods/log", "pods/status", "services/status",
				"replicationcontrollers/status", "persistentvolumeclaims/status", "bindings", "events",
				"limitranges", "resourcequotas", "resourcequotas/status", "namespaces", "namespaces/status")...),
			rule(read, g("apps"), append(workloadsApps, "deployments/status", "replicasets/status", "statefulsets/status", "daemonsets/status")...),
			rule(read, g("batch"), append(workloadsBatch, "jobs/status", "cronjobs/status")...),
			rule(read, g("networking.k8s.io"), "ingresses", "ingresses/status"),
			rule(read, g("discovery.k8s.io"), "endpointslices"),
			rule(read, g("events.k8s.io"), "events")),

		clusterRole("system:basic-user", nil,
			rule(g("create"), g("authorization.k8s.io"), "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule(g("create"), g("authentication.k8s.io"), "selfsubjectreviews")),
		clusterRole("system:discovery", nil,
			urls(g("get"), "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/")),
		clusterRole("system:public-info-viewer", nil,
			urls(g("get"), "/healthz", "/livez", "/readyz", "/version", "/version/")),

		clusterRole("system:kube-scheduler", nil,
			rule(g("create", "patch", "update"), g("", "events.k8s.io"), "events"),
			// Leader election: creating a lease needs no name; renewing only its own.
			rule(g("create"), g("coordination.k8s.io"), "leases"),
			named(rule(g("get", "update", "patch"), g("coordination.k8s.io"), "leases"), "kube-scheduler", "tug-scheduler"),
			rule(read, core, "nodes", "pods", "namespaces", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"),
			rule(g("delete"), core, "pods"), // preemption
			rule(g("create"), core, "pods/binding", "bindings"),
			rule(g("patch", "update"), core, "pods/status"),
			rule(read, g("apps"), "replicasets", "statefulsets"),
			rule(read, g("policy"), "poddisruptionbudgets"),
			rule(read, g("storage.k8s.io"), "storageclasses", "csinodes", "csidrivers", "csistoragecapacities"),
			// Scheduler profiles and the plugins they chain.
			rule(read, g(PluginsGroup), "*"),
			rule(g("patch", "update"), g(PluginsGroup), "schedulerprofiles/status", "wasmplugins/status"),
			rule(g("create"), g("authentication.k8s.io"), "tokenreviews"),
			rule(g("create"), g("authorization.k8s.io"), "subjectaccessreviews")),

		// tug runs every controller as one user, where kube gives each its own service
		// account: it reads everything it reconciles and writes the workload kinds.
		clusterRole("system:kube-controller-manager", nil,
			rule(g("create", "patch", "update"), g("", "events.k8s.io"), "events"),
			rule(g("create"), g("coordination.k8s.io"), "leases"),
			named(rule(g("get", "update", "patch"), g("coordination.k8s.io"), "leases"), "kube-controller-manager", "tug-controller-manager"),
			rule(read, g("*"), "*"),
			rule(readWrite, core, "pods", "services", "endpoints", "replicationcontrollers", "persistentvolumeclaims", "configmaps", "serviceaccounts", "secrets"),
			rule(g("create"), core, "serviceaccounts/token"),
			rule(g("update", "patch"), core, "pods/status", "services/status", "replicationcontrollers/status", "persistentvolumeclaims/status", "nodes", "nodes/status"),
			rule(g("delete"), core, "nodes"),
			rule(g("update", "patch", "delete"), core, "namespaces", "namespaces/status", "namespaces/finalize"),
			rule(g("create", "update", "patch", "delete", "deletecollection"), g("", "*"), "*/scale"),
			rule(readWrite, g("apps"), "*"),
			rule(readWrite, g("batch"), "*"),
			rule(readWrite, g("discovery.k8s.io"), "endpointslices"),
			rule(g("update", "patch"), g("networking.k8s.io"), "ingresses/status"),
			rule(g("update", "patch"), g(PluginsGroup), "*"),
			// The namespace controller empties a namespace of every kind before it goes.
			rule(g("delete", "deletecollection"), g("*"), "*"),
			rule(g("create"), g("authentication.k8s.io"), "tokenreviews"),
			rule(g("create"), g("authorization.k8s.io"), "subjectaccessreviews")),

		// The node agents' permissions come from the node authorizer, which scopes them to the
		// node's own objects; this role is what a node needs in general, as kube defines it,
		// and its binding has no subjects (kube's too) because granting it to system:nodes
		// through RBAC would undo that scoping.
		clusterRole("system:node", nil,
			rule(g("create", "get", "list", "watch", "update", "patch", "delete"), core, "nodes"),
			rule(g("patch", "update"), core, "nodes/status"),
			rule(read, core, "pods", "services", "endpoints"),
			rule(g("create", "delete"), core, "pods"),
			rule(g("update", "patch"), core, "pods/status"),
			rule(g("create"), core, "pods/eviction"),
			rule(g("create", "patch", "update"), g("", "events.k8s.io"), "events"),
			rule(g("get"), core, "secrets", "configmaps", "persistentvolumeclaims", "persistentvolumes"),
			rule(g("create"), core, "serviceaccounts/token"),
			rule(g("create", "get", "update", "patch", "delete"), g("coordination.k8s.io"), "leases"),
			rule(g("create", "get", "list", "watch"), g("certificates.k8s.io"), "certificatesigningrequests"),
			rule(read, g("discovery.k8s.io"), "endpointslices"),
			rule(read, g("node.k8s.io"), "runtimeclasses"),
			rule(g("create"), g("authentication.k8s.io"), "tokenreviews"),
			rule(g("create"), g("authorization.k8s.io"), "subjectaccessreviews")),
		clusterRole("system:node-proxier", nil,
			rule(read, core, "services", "endpoints"),
			rule(g("get", "list", "watch"), core, "nodes"),
			rule(read, g("discovery.k8s.io"), "endpointslices"),
			rule(g("create", "patch", "update"), g("", "events.k8s.io"), "events")),
		// Who may ask the API server to check credentials and permissions for it: a node
		// agent (through the node authorizer), and extensions that serve their own APIs.
		clusterRole("system:auth-delegator", nil,
			rule(g("create"), g("authentication.k8s.io"), "tokenreviews"),
			rule(g("create"), g("authorization.k8s.io"), "subjectaccessreviews")),
		// Full use of the node agents' API (logs, exec, …), which the agents authorize with a
		// SubjectAccessReview on nodes/<subresource>; the API server's kubelet client has it.
		clusterRole("system:kubelet-api-admin", nil,
			rule(read, core, "nodes"),
			rule(g("proxy"), core, "nodes"),
			rule(g("*"), core, "nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log", "nodes/pods", "nodes/healthz", "nodes/configz")),
		// A node joining with a join token may ask for its certificate and nothing else.
		clusterRole("system:node-bootstrapper", nil,
			rule(g("create", "get", "list", "watch"), g("certificates.k8s.io"), "certificatesigningrequests")),
	}

	bindings := []*rbacv1.ClusterRoleBinding{
		binding("cluster-admin", groupSubject(user.Masters)),
		binding("system:basic-user", groupSubject(user.AllAuthenticated)),
		binding("system:discovery", groupSubject(user.AllAuthenticated)),
		binding("system:public-info-viewer", groupSubject(user.AllAuthenticated), groupSubject(user.AllUnauthenticated)),
		binding("system:kube-scheduler", userSubject(user.KubeScheduler)),
		binding("system:kube-controller-manager", userSubject(user.KubeControllerManager)),
		binding("system:node"),
		binding("system:node-proxier", userSubject(user.KubeProxy)),
		binding("system:node-bootstrapper", groupSubject(user.Bootstrappers)),
		// kube leaves binding the kubelet client to the installer (kubeadm binds its
		// certificate's group); tug binds the user of the certificate it issues itself.
		binding("system:kubelet-api-admin", userSubject(user.APIServerKubeletClient)),
	}
	return roles, bindings
}

// named narrows a rule to named objects.
func named(r rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
	r.ResourceNames = names
	return r
}
