package api

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validator checks a kind on create and on update.
type validator struct {
	create func(obj runtime.Object) field.ErrorList
	update func(obj, old runtime.Object) field.ErrorList
}

// validators holds each resource's validation, keyed by resource. The rules, messages and field
// paths are those of kube-apiserver (pkg/apis/*/validation and the registry strategies), applied
// to the v1 types after defaulting. Where a field is one the API defaults (a protocol, a policy,
// a pointer to a default), an empty value is let through rather than reported as required, so
// an object is judged the same whether or not it went through Default first.
var validators = map[string]validator{
	"pods":                       typed(validatePod, validatePodUpdate),
	"namespaces":                 typed(validateNamespace, validateNamespaceUpdate),
	"nodes":                      typed(validateNode, validateNodeUpdate),
	"services":                   typed(validateService, validateServiceUpdate),
	"endpoints":                  typed(validateEndpoints, nil),
	"configmaps":                 typed(validateConfigMap, validateConfigMapUpdate),
	"secrets":                    typed(validateSecret, validateSecretUpdate),
	"serviceaccounts":            typed(validateServiceAccount, nil),
	"events":                     typed(validateEvent, nil),
	"resourcequotas":             typed(validateResourceQuota, validateResourceQuotaUpdate),
	"limitranges":                typed(validateLimitRange, nil),
	"replicationcontrollers":     typed(validateReplicationController, nil),
	"persistentvolumes":          typed(validatePersistentVolume, validatePersistentVolumeUpdate),
	"persistentvolumeclaims":     typed(validatePersistentVolumeClaim, validatePersistentVolumeClaimUpdate),
	"deployments":                typed(validateDeployment, validateDeploymentUpdate),
	"replicasets":                typed(validateReplicaSet, validateReplicaSetUpdate),
	"statefulsets":               typed(validateStatefulSet, validateStatefulSetUpdate),
	"daemonsets":                 typed(validateDaemonSet, validateDaemonSetUpdate),
	"jobs":                       typed(validateJob, validateJobUpdate),
	"cronjobs":                   typed(validateCronJob, validateCronJobUpdate),
	"leases":                     typed(validateLease, nil),
	"endpointslices":             typed(validateEndpointSlice, validateEndpointSliceUpdate),
	"ingresses":                  typed(validateIngress, nil),
	"runtimeclasses":             typed(validateRuntimeClass, validateRuntimeClassUpdate),
	"roles":                      typed(validateRole, nil),
	"clusterroles":               typed(validateClusterRole, nil),
	"rolebindings":               typed(validateRoleBinding, validateRoleBindingUpdate),
	"clusterrolebindings":        typed(validateClusterRoleBinding, validateClusterRoleBindingUpdate),
	"certificatesigningrequests": typed(validateCertificateSigningRequest, validateCSRUpdate),
	"wasmplugins":                typed(validateWasmPlugin, validateWasmPluginUpdate),
	"schedulerprofiles":          typed(validateSchedulerProfile, nil),
	"controllers":                typed(validateController, nil),
	"admissionpolicies":          typed(validateAdmissionPolicy, validateAdmissionPolicyUpdate),
}

// metaObject is what every validated kind is: a typed object with ObjectMeta.
type metaObject interface {
	runtime.Object
	metav1.Object
}

// typed adapts typed validation funcs. On update the object metadata rules for updates run,
// then update (when given) which is responsible for the create rules on the new object, or
// create itself when update is nil. Errors reported twice (labels checked by both the create
// and the update metadata rules) are reported once.
func typed[T metaObject](create func(T) field.ErrorList, update func(obj, old T) field.ErrorList) validator {
	return validator{
		create: func(obj runtime.Object) field.ErrorList {
			o, ok := obj.(T)
			if !ok {
				return wrongType(obj)
			}
			return dedupe(create(o))
		},
		update: func(obj, old runtime.Object) field.ErrorList {
			o, ok := obj.(T)
			if !ok {
				return wrongType(obj)
			}
			p, ok := old.(T)
			if !ok {
				return wrongType(old)
			}
			errs := validateMetaUpdate(o, p)
			if update != nil {
				errs = append(errs, update(o, p)...)
			} else {
				errs = append(errs, create(o)...)
			}
			return dedupe(errs)
		},
	}
}

func wrongType(obj runtime.Object) field.ErrorList {
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("unexpected object type %T", obj))}
}

// dedupe drops errors identical to an earlier one, keeping order.
func dedupe(errs field.ErrorList) field.ErrorList {
	if len(errs) < 2 {
		return errs
	}
	seen := map[string]bool{}
	out := errs[:0:0]
	for _, e := range errs {
		k := fmt.Sprintf("%s\x00%s\x00%s\x00%#v", e.Type, e.Field, e.Detail, e.BadValue)
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// --- metadata ---

var metadataPath = field.NewPath("metadata")

// standardFinalizers are the finalizer names kube accepts without a domain prefix.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

// validateMeta is kube's ValidateObjectMeta: name (resolved from generateName before
// validation), namespace presence, labels, annotations (and their 256 KiB total), owner
// references and finalizers.
func validateMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(m, namespaced, nameFn, metadataPath)
	errs = append(errs, validateKubeFinalizers(m.Finalizers)...)
	return errs
}

func validateKubeFinalizers(finalizers []string) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		errs = append(errs, validateKubeFinalizerName(f, metadataPath.Child("finalizers").Index(i))...)
	}
	return errs
}

func validateKubeFinalizerName(name string, p *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		return field.ErrorList{field.Invalid(p, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// validateMetaUpdate is kube's ValidateObjectMetaUpdate. The resourceVersion requirement is
// left out: the API server always carries the stored resourceVersion into the new object
// before validating, so the check could only ever fail for callers outside the server.
func validateMetaUpdate(obj, old metav1.Object) field.ErrorList {
	var errs field.ErrorList
	for _, e := range apivalidation.ValidateObjectMetaAccessorUpdate(obj, old, metadataPath) {
		if e.Field == "metadata.resourceVersion" {
			continue
		}
		errs = append(errs, e)
	}
	return append(errs, validateKubeFinalizers(obj.GetFinalizers())...)
}

// --- common helpers ---

const (
	isNegativeErrorMsg    = apivalidation.IsNegativeErrorMsg // "must be greater than or equal to 0"
	isNotPositiveErrorMsg = "must be greater than zero"
	fieldImmutableMsg     = apivalidation.FieldImmutableErrorMsg // "field is immutable"
)

func nonNegative(v int64, p *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, v, isNegativeErrorMsg)}
	}
	return nil
}

func nonNegative32(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

func immutable(obj, old any, p *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(obj, old, p)
}

func msgsToErrs(p *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(p, value, m))
	}
	return errs
}

func dns1123Label(v string, p *field.Path) field.ErrorList {
	return msgsToErrs(p, v, validation.IsDNS1123Label(v))
}

func dns1123Subdomain(v string, p *field.Path) field.ErrorList {
	return msgsToErrs(p, v, validation.IsDNS1123Subdomain(v))
}

func qualifiedName(v string, p *field.Path) field.ErrorList {
	return msgsToErrs(p, v, validation.IsQualifiedName(v))
}

// nameIs checks a reference to another object's name with a ValidateNameFunc.
func nameIs(fn apivalidation.ValidateNameFunc, v string, p *field.Path) field.ErrorList {
	return msgsToErrs(p, v, fn(v, false))
}

func validatePortNum(port int32, p *field.Path) field.ErrorList {
	return msgsToErrs(p, port, validation.IsValidPortNum(int(port)))
}

// validatePortNumOrName checks an int-or-string port: 1..65535 or an IANA_SVC_NAME.
func validatePortNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return msgsToErrs(p, port.IntValue(), validation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return msgsToErrs(p, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(p, fmt.Errorf("unknown type: %v", port.Type))}
}

var supportedProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

// validateProtocol checks a port protocol; empty is the TCP default.
func validateProtocol(proto corev1.Protocol, p *field.Path) field.ErrorList {
	if proto == "" || oneOf(proto, supportedProtocols...) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, proto, supportedProtocols)}
}

func oneOf[T comparable](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// notSupported reports v unless it is empty (defaulted) or one of allowed.
func notSupported[T ~string](v T, p *field.Path, allowed ...T) field.ErrorList {
	if v == "" || oneOf(v, allowed...) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

func validateLabelSelector(sel *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, p)
}

// --- resources and quantities ---

func isNativeResource(n corev1.ResourceName) bool {
	return !strings.Contains(string(n), "/") || strings.Contains(string(n), corev1.ResourceDefaultNamespacePrefix)
}

func isHugePageResourceName(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix)
}

func isQuotaHugePageResourceName(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix) || strings.HasPrefix(string(n), corev1.ResourceRequestsHugePagesPrefix)
}

func isOvercommitAllowed(n corev1.ResourceName) bool {
	return isNativeResource(n) && !isHugePageResourceName(n)
}

func isExtendedResourceName(n corev1.ResourceName) bool {
	if isNativeResource(n) || strings.HasPrefix(string(n), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(n))) == 0
}

var standardResources = setOf(
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceStorage, corev1.ResourceRequestsStorage, corev1.ResourceServicesNodePorts,
	corev1.ResourceServicesLoadBalancers,
)

var standardQuotaResources = setOf(
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage,
	corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
	corev1.ResourceLimitsEphemeralStorage, corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices,
	corev1.ResourceReplicationControllers, corev1.ResourceSecrets, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceConfigMaps, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

var integerResources = setOf(
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

func setOf[T comparable](vs ...T) map[T]bool {
	m := make(map[T]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// validateResourceName: a qualified name, and a standard resource unless domain-prefixed.
func validateResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	if errs := msgsToErrs(p, n, validation.IsQualifiedName(string(n))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(n), "/") && !standardResources[n] && !isQuotaHugePageResourceName(n) {
		return field.ErrorList{field.Invalid(p, n, "must be a standard resource type or fully qualified")}
	}
	return nil
}

func validateContainerResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	errs := validateResourceName(n, p)
	if !strings.Contains(string(n), "/") {
		if !oneOf(n, corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage) && !isHugePageResourceName(n) {
			return append(errs, field.Invalid(p, n, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(n) && !isExtendedResourceName(n) {
		return append(errs, field.Invalid(p, n, "doesn't follow extended resource name standard"))
	}
	return errs
}

// validateQuantity: never negative, and whole for countable resources.
func validateQuantity(n corev1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(p, q.String(), isNegativeErrorMsg))
	}
	if (integerResources[n] || isExtendedResourceName(n)) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(p, q.String(), "must be an integer"))
	}
	return errs
}

func validatePositiveQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}

// validateResourceRequirements checks names and quantities of limits and requests, and that
// each request fits its limit (equals it for resources that cannot be overcommitted).
func validateResourceRequirements(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	for _, n := range sortedResourceNames(r.Limits) {
		q := r.Limits[n]
		errs = append(errs, validateContainerResourceName(n, limPath.Key(string(n)))...)
		errs = append(errs, validateQuantity(n, q, limPath.Key(string(n)))...)
	}
	for _, n := range sortedResourceNames(r.Requests) {
		q := r.Requests[n]
		errs = append(errs, validateContainerResourceName(n, reqPath.Key(string(n)))...)
		errs = append(errs, validateQuantity(n, q, reqPath.Key(string(n)))...)
		if lim, ok := r.Limits[n]; ok {
			if q.Cmp(lim) != 0 && !isOvercommitAllowed(n) {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", n, lim.String())))
			} else if q.Cmp(lim) > 0 {
				errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", n, lim.String())))
			}
		} else if !isOvercommitAllowed(n) {
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
	}
	return errs
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	return slices.Sorted(maps.Keys(l))
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// inRange reports v outside lo..hi as kube's InclusiveRangeError.
func inRange(v, lo, hi int64, p *field.Path) field.ErrorList {
	if v < lo || v > hi {
		return field.ErrorList{field.Invalid(p, v, validation.InclusiveRangeError(int(lo), int(hi)))}
	}
	return nil
}

const maxInt32 = math.MaxInt32
