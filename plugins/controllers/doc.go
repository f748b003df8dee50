// Package controllers holds tug's default controllers' reconcile logic, written with the Go
// SDK and run as wasm: each subpackage decides, from a parent object and what the host
// observed, which children should exist and what the parent's status is — with the
// semantics of kube-controller-manager's controller of the same name. The core
// (core/controller) watches, queues and applies; these packages do no I/O. cmd/defaults
// hosts them all in one module, which tug embeds and loads once per controller with the
// configuration {"controller": "<name>"}.
//
//	replicaset  ReplicaSet and ReplicationController: keep replicas, delete the least
//	            useful pods first on scale-down, report ready and available replicas
//	deployment  Deployment: ReplicaSets per pod template, RollingUpdate within maxSurge
//	            and maxUnavailable, Recreate, revisions and history, pause, progress
//	            deadline, the status kubectl rollout status reads
//
// Their table tests run every case twice: natively, and through the wasm module
// (internal/testutil).
package controllers
