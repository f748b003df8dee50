package api

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// fieldSets holds, per resource, the attributes its field selectors match beyond
// metadata.name and metadata.namespace — the same sets kube-apiserver exposes, so selectors
// written for Kubernetes work unchanged.
var fieldSets = map[string]func(runtime.Object) fields.Set{
	"pods": func(o runtime.Object) fields.Set {
		p := o.(*corev1.Pod)
		return fields.Set{
			"spec.nodeName": p.Spec.NodeName, "spec.restartPolicy": string(p.Spec.RestartPolicy),
			"spec.schedulerName": p.Spec.SchedulerName, "spec.serviceAccountName": p.Spec.ServiceAccountName,
			"spec.hostNetwork": strconv.FormatBool(p.Spec.HostNetwork), "status.phase": string(p.Status.Phase),
			"status.podIP": p.Status.PodIP, "status.nominatedNodeName": p.Status.NominatedNodeName,
		}
	},
	"events": func(o runtime.Object) fields.Set {
		e := o.(*corev1.Event)
		return fields.Set{
			"involvedObject.kind": e.InvolvedObject.Kind, "involvedObject.namespace": e.InvolvedObject.Namespace,
			"involvedObject.name": e.InvolvedObject.Name, "involvedObject.uid": string(e.InvolvedObject.UID),
			"involvedObject.apiVersion": e.InvolvedObject.APIVersion, "involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath": e.InvolvedObject.FieldPath, "reason": e.Reason,
			"reportingComponent": e.ReportingController, "source": e.Source.Component, "type": e.Type,
		}
	},
	"secrets": func(o runtime.Object) fields.Set {
		return fields.Set{"type": string(o.(*corev1.Secret).Type)}
	},
	"namespaces": func(o runtime.Object) fields.Set {
		return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
	},
	"nodes": func(o runtime.Object) fields.Set {
		return fields.Set{"spec.unschedulable": strconv.FormatBool(o.(*corev1.Node).Spec.Unschedulable)}
	},
	"replicasets": func(o runtime.Object) fields.Set {
		return fields.Set{"status.replicas": strconv.Itoa(int(o.(*appsv1.ReplicaSet).Status.Replicas))}
	},
	"replicationcontrollers": func(o runtime.Object) fields.Set {
		return fields.Set{"status.replicas": strconv.Itoa(int(o.(*corev1.ReplicationController).Status.Replicas))}
	},
	"certificatesigningrequests": func(o runtime.Object) fields.Set {
		return fields.Set{"spec.signerName": o.(*certificatesv1.CertificateSigningRequest).Spec.SignerName}
	},
	"jobs": func(o runtime.Object) fields.Set {
		return fields.Set{"status.successful": strconv.Itoa(int(o.(*batchv1.Job).Status.Succeeded))}
	},
}

// FieldSet returns every field-selector attribute of obj: metadata.name, metadata.namespace
// for namespaced kinds, and the kind's own.
func FieldSet(k *Kind, obj runtime.Object) fields.Set {
	set := fields.Set{}
	if k.Fields != nil {
		set = k.Fields(obj)
	}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if k.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// ValidFieldLabel reports whether field selectors on the kind may use label, so an unknown one
// gets "field label not supported" like kube-apiserver instead of silently matching nothing.
func ValidFieldLabel(k *Kind, label string) bool {
	if label == "metadata.name" || (k.Namespaced && label == "metadata.namespace") {
		return true
	}
	if k.Fields == nil {
		return false
	}
	_, ok := k.Fields(k.New())[label]
	return ok
}
