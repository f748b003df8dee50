package node

import corev1 "k8s.io/api/core/v1"

// references says whether pod uses the object resource/name of its own namespace.
func references(pod *corev1.Pod, resource, name string) bool {
	switch resource {
	case "secrets":
		return SecretNames(pod)[name]
	case "configmaps":
		return ConfigMapNames(pod)[name]
	case "persistentvolumeclaims":
		return ClaimNames(pod)[name]
	case "serviceaccounts":
		return ServiceAccountName(pod) == name
	}
	return false
}

// ServiceAccountName is the pod's service account, "default" when unset (as the API server
// defaults it).
func ServiceAccountName(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

// containers visits every container of a pod: init, regular and ephemeral, since any of them
// may take secrets through its environment.
func containers(pod *corev1.Pod, visit func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource)) {
	for _, c := range pod.Spec.InitContainers {
		visit(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.Containers {
		visit(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		visit(c.Env, c.EnvFrom)
	}
}

// SecretNames are the secrets a pod references: image pull secrets, secret and projected
// volumes, CSI volume publish secrets, and container environments.
func SecretNames(pod *corev1.Pod) map[string]bool {
	names := map[string]bool{}
	for _, s := range pod.Spec.ImagePullSecrets {
		names[s.Name] = true
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			names[v.Secret.SecretName] = true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					names[src.Secret.Name] = true
				}
			}
		case v.CSI != nil && v.CSI.NodePublishSecretRef != nil:
			names[v.CSI.NodePublishSecretRef.Name] = true
		}
	}
	containers(pod, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				names[e.ValueFrom.SecretKeyRef.Name] = true
			}
		}
		for _, e := range envFrom {
			if e.SecretRef != nil {
				names[e.SecretRef.Name] = true
			}
		}
	})
	delete(names, "")
	return names
}

// ConfigMapNames are the configmaps a pod references: configMap and projected volumes and
// container environments.
func ConfigMapNames(pod *corev1.Pod) map[string]bool {
	names := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			names[v.ConfigMap.Name] = true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					names[src.ConfigMap.Name] = true
				}
			}
		}
	}
	containers(pod, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				names[e.ValueFrom.ConfigMapKeyRef.Name] = true
			}
		}
		for _, e := range envFrom {
			if e.ConfigMapRef != nil {
				names[e.ConfigMapRef.Name] = true
			}
		}
	})
	delete(names, "")
	return names
}

// ClaimNames are the persistent volume claims a pod uses: named claims, and the claims of its
// generic ephemeral volumes, which are named <pod>-<volume>.
func ClaimNames(pod *corev1.Pod) map[string]bool {
	names := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			names[v.PersistentVolumeClaim.ClaimName] = true
		case v.Ephemeral != nil:
			names[pod.Name+"-"+v.Name] = true
		}
	}
	delete(names, "")
	return names
}
