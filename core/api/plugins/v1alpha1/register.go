package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// AddToScheme registers the kinds of this package.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &WasmPlugin{}, &WasmPluginList{}, &SchedulerProfile{}, &SchedulerProfileList{}, &Controller{}, &ControllerList{}, &AdmissionPolicy{}, &AdmissionPolicyList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
