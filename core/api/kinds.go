package api

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// EventTTL is how long an Event outlives its last update, like kube-apiserver's --event-ttl.
const EventTTL = time.Hour

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// Builtin returns the Kubernetes kinds tug serves, each with its strategy. A fresh slice of fresh
// Kind values is returned so callers may adjust entries before registering them.
func Builtin() []*Kind {
	ks := []*Kind{
		{GVK: gvk("", "v1", "Namespace"), Resource: "namespaces", Singular: "namespace", ShortNames: []string{"ns"},
			Subresources: []string{SubStatus, SubFinalize}, HasStatus: true,
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		{GVK: gvk("", "v1", "Pod"), Resource: "pods", Singular: "pod", ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus, SubBinding, SubLog, SubExec}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		{GVK: gvk("", "v1", "Node"), Resource: "nodes", Singular: "node", ShortNames: []string{"no"},
			Subresources: []string{SubStatus}, HasStatus: true,
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} }},
		{GVK: gvk("", "v1", "Service"), Resource: "services", Singular: "service", ShortNames: []string{"svc"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true,
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} }},
		{GVK: gvk("", "v1", "Endpoints"), Resource: "endpoints", Singular: "endpoints", ShortNames: []string{"ep"}, Namespaced: true,
			AllowCreateOnUpdate: true,
			New:                 func() runtime.Object { return &corev1.Endpoints{} }, NewList: func() runtime.Object { return &corev1.EndpointsList{} }},
		{GVK: gvk("", "v1", "ConfigMap"), Resource: "configmaps", Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{GVK: gvk("", "v1", "Secret"), Resource: "secrets", Singular: "secret", Namespaced: true,
			New: func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} }},
		{GVK: gvk("", "v1", "ServiceAccount"), Resource: "serviceaccounts", Singular: "serviceaccount", ShortNames: []string{"sa"}, Namespaced: true,
			Subresources: []string{SubToken},
			New:          func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} }},
		{GVK: gvk("", "v1", "Event"), Resource: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true, TTL: EventTTL,
			New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} }},
		{GVK: gvk("", "v1", "ResourceQuota"), Resource: "resourcequotas", Singular: "resourcequota", ShortNames: []string{"quota"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true,
			New: func() runtime.Object { return &corev1.ResourceQuota{} }, NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} }},
		{GVK: gvk("", "v1", "LimitRange"), Resource: "limitranges", Singular: "limitrange", ShortNames: []string{"limits"}, Namespaced: true,
			New: func() runtime.Object { return &corev1.LimitRange{} }, NewList: func() runtime.Object { return &corev1.LimitRangeList{} }},
		{GVK: gvk("", "v1", "ReplicationController"), Resource: "replicationcontrollers", Singular: "replicationcontroller", ShortNames: []string{"rc"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus, SubScale}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &corev1.ReplicationController{} }, NewList: func() runtime.Object { return &corev1.ReplicationControllerList{} }},
		{GVK: gvk("", "v1", "PersistentVolume"), Resource: "persistentvolumes", Singular: "persistentvolume", ShortNames: []string{"pv"},
			Subresources: []string{SubStatus}, HasStatus: true,
			New: func() runtime.Object { return &corev1.PersistentVolume{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeList{} }},
		{GVK: gvk("", "v1", "PersistentVolumeClaim"), Resource: "persistentvolumeclaims", Singular: "persistentvolumeclaim", ShortNames: []string{"pvc"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true,
			New: func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }},

		{GVK: gvk("apps", "v1", "Deployment"), Resource: "deployments", Singular: "deployment", ShortNames: []string{"deploy"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus, SubScale}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{GVK: gvk("apps", "v1", "ReplicaSet"), Resource: "replicasets", Singular: "replicaset", ShortNames: []string{"rs"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus, SubScale}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} }},
		{GVK: gvk("apps", "v1", "StatefulSet"), Resource: "statefulsets", Singular: "statefulset", ShortNames: []string{"sts"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus, SubScale}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &appsv1.StatefulSet{} }, NewList: func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{GVK: gvk("apps", "v1", "DaemonSet"), Resource: "daemonsets", Singular: "daemonset", ShortNames: []string{"ds"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &appsv1.DaemonSet{} }, NewList: func() runtime.Object { return &appsv1.DaemonSetList{} }},

		{GVK: gvk("batch", "v1", "Job"), Resource: "jobs", Singular: "job", Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }},
		{GVK: gvk("batch", "v1", "CronJob"), Resource: "cronjobs", Singular: "cronjob", ShortNames: []string{"cj"}, Categories: []string{"all"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} }},

		{GVK: gvk("coordination.k8s.io", "v1", "Lease"), Resource: "leases", Singular: "lease", Namespaced: true,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} }},
		{GVK: gvk("discovery.k8s.io", "v1", "EndpointSlice"), Resource: "endpointslices", Singular: "endpointslice", Namespaced: true,
			New: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "ClusterRole"), Resource: "clusterroles", Singular: "clusterrole",
			New: func() runtime.Object { return &rbacv1.ClusterRole{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} }},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"), Resource: "clusterrolebindings", Singular: "clusterrolebinding",
			New: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} }},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "Role"), Resource: "roles", Singular: "role", Namespaced: true,
			New: func() runtime.Object { return &rbacv1.Role{} }, NewList: func() runtime.Object { return &rbacv1.RoleList{} }},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "RoleBinding"), Resource: "rolebindings", Singular: "rolebinding", Namespaced: true,
			New: func() runtime.Object { return &rbacv1.RoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} }},
		{GVK: gvk("certificates.k8s.io", "v1", "CertificateSigningRequest"), Resource: "certificatesigningrequests", Singular: "certificatesigningrequest",
			ShortNames: []string{"csr"}, Subresources: []string{SubStatus, SubApproval}, HasStatus: true,
			New: func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} }, NewList: func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} }},
		{GVK: gvk("networking.k8s.io", "v1", "Ingress"), Resource: "ingresses", Singular: "ingress", ShortNames: []string{"ing"}, Namespaced: true,
			Subresources: []string{SubStatus}, HasStatus: true, BumpsGeneration: true,
			New: func() runtime.Object { return &networkingv1.Ingress{} }, NewList: func() runtime.Object { return &networkingv1.IngressList{} }},
		{GVK: gvk("node.k8s.io", "v1", "RuntimeClass"), Resource: "runtimeclasses", Singular: "runtimeclass",
			New: func() runtime.Object { return &nodev1.RuntimeClass{} }, NewList: func() runtime.Object { return &nodev1.RuntimeClassList{} }},
		wasmPluginKind(),
		schedulerProfileKind(),
		controllerKind(),
		admissionPolicyKind(),
		crdKind(),
	}
	for _, k := range ks {
		applyStrategy(k)
	}
	return ks
}

// applyStrategy fills a kind's defaults, validation, table and field-selector funcs from the
// per-kind strategy files.
func applyStrategy(k *Kind) {
	k.Default = defaulters[k.Resource]
	k.PrepareForCreate = prepareForCreate(k)
	if v, ok := validators[k.Resource]; ok {
		k.Validate, k.ValidateUpdate = v.create, v.update
	}
	if t, ok := tables[k.Resource]; ok {
		k.Columns, k.Row = t.columns, t.row
	} else {
		k.Columns, k.Row = defaultTableColumns, defaultTableRow
	}
	k.Fields = fieldSets[k.Resource]
	k.Scale = scalers[k.Resource]
	k.SetRequester = requesters[k.Resource]
	k.Updates = updateStrategies[k.Resource]
}
