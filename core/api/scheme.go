package api

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

// Scheme knows every Go type the server reads or writes: the served kinds plus the meta types
// (Status, DeleteOptions, Table, WatchEvent) and autoscaling/v1 Scale. Custom resources have no
// Go type and are not in it: they are served as unstructured objects.
var Scheme = runtime.NewScheme()

// Codecs decodes request bodies (JSON, YAML, protobuf) and encodes responses.
var Codecs serializer.CodecFactory

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme,
		discoveryv1.AddToScheme, networkingv1.AddToScheme, autoscalingv1.AddToScheme,
		policyv1.AddToScheme, rbacv1.AddToScheme, certificatesv1.AddToScheme, pluginsv1alpha1.AddToScheme,
		apiextensionsv1.AddToScheme,
	} {
		utilruntime.Must(add(Scheme))
	}
	// Clients send DeleteOptions and other option kinds as v1 or meta.k8s.io/v1.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	metav1.AddToGroupVersion(Scheme, metav1.SchemeGroupVersion)
	utilruntime.Must(metav1.AddMetaToScheme(Scheme))
	Codecs = serializer.NewCodecFactory(Scheme, serializer.EnableStrict)
}
