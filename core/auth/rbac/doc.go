// Package rbac authorizes requests with Kubernetes RBAC (rbac.authorization.k8s.io/v1): Roles
// and ClusterRoles hold rules, RoleBindings and ClusterRoleBindings grant them to users, groups
// and service accounts.
//
// RuleAllows is the pure decision core: one request against one rule, with kube's matching of
// verbs, API groups, resources and subresources ("pods/log", "*/scale"), resource names, "*"
// wildcards and non-resource URLs with a trailing "*". Authorizer walks the bindings that
// apply to the request's user through a small Lister, resolves ClusterRole aggregation itself
// (kube does it in a controller that rewrites the role; here the role's rules are computed
// when read, so there is no controller to wait for), and answers Allow or NoOpinion: RBAC only
// ever adds permissions, denial is what is left when nobody allows.
//
// Bootstrap returns tug's default ClusterRoles and ClusterRoleBindings, modelled on kube's, for
// the server to create at start.
package rbac
