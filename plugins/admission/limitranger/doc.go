// Package limitranger is kube-apiserver's LimitRanger admission plugin: a namespace's
// LimitRanges give containers that set no requests or limits the namespace's defaults, and
// refuse pods and claims outside the minimum, maximum and limit-to-request ratio they set —
// so that a namespace shared by teams gets predictable per-container sizes without every
// manifest spelling them out.
//
// kube defaults in its mutating pass and checks in its validating pass; tug runs the policy
// as a mutating one, so it does both in one call and checks the pod as defaulted. Pod
// updates are left alone, as kube leaves them (a pod's containers' resources cannot be
// changed by an update that validation would accept); claims are checked on update too.
//
// The LimitRange defaults kube's API applies when storing one (a default limit from max, a
// default request from the default limit, else from min) are applied here again, so that a
// LimitRange stored without them behaves as in kube.
package limitranger
