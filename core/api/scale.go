package api

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// scalers adapt the replicated kinds to autoscaling/v1 Scale, which `kubectl scale` and
// autoscalers use so they need not know each kind's shape.
var scalers = map[string]*ScaleFuncs{
	"deployments": {
		Get: func(o runtime.Object) (int32, int32, string) {
			d := o.(*appsv1.Deployment)
			return replicas(d.Spec.Replicas), d.Status.Replicas, selectorString(d.Spec.Selector)
		},
		Set: func(o runtime.Object, n int32) { o.(*appsv1.Deployment).Spec.Replicas = &n },
	},
	"replicasets": {
		Get: func(o runtime.Object) (int32, int32, string) {
			rs := o.(*appsv1.ReplicaSet)
			return replicas(rs.Spec.Replicas), rs.Status.Replicas, selectorString(rs.Spec.Selector)
		},
		Set: func(o runtime.Object, n int32) { o.(*appsv1.ReplicaSet).Spec.Replicas = &n },
	},
	"statefulsets": {
		Get: func(o runtime.Object) (int32, int32, string) {
			s := o.(*appsv1.StatefulSet)
			return replicas(s.Spec.Replicas), s.Status.Replicas, selectorString(s.Spec.Selector)
		},
		Set: func(o runtime.Object, n int32) { o.(*appsv1.StatefulSet).Spec.Replicas = &n },
	},
	"replicationcontrollers": {
		Get: func(o runtime.Object) (int32, int32, string) {
			rc := o.(*corev1.ReplicationController)
			return replicas(rc.Spec.Replicas), rc.Status.Replicas, labels.SelectorFromSet(rc.Spec.Selector).String()
		},
		Set: func(o runtime.Object, n int32) { o.(*corev1.ReplicationController).Spec.Replicas = &n },
	},
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
