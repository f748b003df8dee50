// Package quota is what ResourceQuota charges, shared by the controller that recalculates
// a quota's usage (plugins/controllers/resourcequota) and the admission policy that
// charges each create against it (plugins/admission/resourcequota): the two must agree to
// the byte, or the policy would admit what the controller then reports as over the limit.
//
// Pods are charged as kube charges them: compute resources for pods that are neither
// finished nor past their deletion grace period, the larger of the containers' sum and
// the largest init container (with the sidecars started before it), plus the pod's
// overhead; count/pods counts every pod. Scopes (spec.scopes and spec.scopeSelector)
// choose the pods charged; other objects are counted only by quotas without scopes.
package quota
