package api

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkloadSelector checks a controller's label selector: present, not empty, valid, and
// matching the labels of the pods it creates. kind names the workload in kube's message.
func validateWorkloadSelector(sel *metav1.LabelSelector, tmplLabels map[string]string, p *field.Path, kind string) field.ErrorList {
	sp := p.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(sp, "")}
	}
	errs := validateLabelSelector(sel, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, sel, "empty selector is invalid for "+kind))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(sp, sel, "invalid label selector"))
	}
	if !selector.Empty() && !selector.Matches(labels.Set(tmplLabels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), tmplLabels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateAlwaysRestartingTemplate is the pod template of a controller whose pods run forever:
// the template is valid, restarts Always (the default) and has no deadline.
func validateAlwaysRestartingTemplate(t *corev1.PodTemplateSpec, p *field.Path, kind string, opts podSpecOptions) field.ErrorList {
	errs := validatePodTemplateSpec(t, p, opts)
	if rp := t.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

func validateSelectorUnchanged(sel, old *metav1.LabelSelector) field.ErrorList {
	return immutable(sel, old, specPath.Child("selector"))
}

// --- int-or-percent (rolling updates) ---

func validatePositiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return msgsToErrs(p, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), p)
	}
	return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')")}
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// --- deployments ---

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := validateMeta(&d.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	s, p := &d.Spec, specPath
	errs = append(errs, nonNegative32(s.Replicas, p.Child("replicas"))...)
	errs = append(errs, validateWorkloadSelector(s.Selector, s.Template.Labels, p, "deployment")...)
	errs = append(errs, validateAlwaysRestartingTemplate(&s.Template, p.Child("template"), "ReplicaSet", podSpecOptions{})...)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if pds := s.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), p.Child("progressDeadlineSeconds"))...)
		if *pds <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType, "":
		if ru := st.RollingUpdate; ru != nil {
			return validateRollingUpdateDeployment(ru, p.Child("rollingUpdate"))
		}
	default:
		return field.ErrorList{field.NotSupported(p, st.Type, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

// validateRollingUpdateDeployment: unset values are the 25% defaults.
func validateRollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if mu := ru.MaxUnavailable; mu != nil {
		errs = append(errs, validatePositiveIntOrPercent(*mu, p.Child("maxUnavailable"))...)
	}
	if ms := ru.MaxSurge; ms != nil {
		errs = append(errs, validatePositiveIntOrPercent(*ms, p.Child("maxSurge"))...)
	}
	if ru.MaxUnavailable != nil && ru.MaxSurge != nil && intOrPercentValue(*ru.MaxUnavailable) == 0 && intOrPercentValue(*ru.MaxSurge) == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), *ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if mu := ru.MaxUnavailable; mu != nil {
		errs = append(errs, notMoreThan100Percent(*mu, p.Child("maxUnavailable"))...)
	}
	return errs
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return append(validateDeployment(d), validateSelectorUnchanged(d.Spec.Selector, old.Spec.Selector)...)
}

// --- replicasets ---

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := validateMeta(&rs.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	s, p := &rs.Spec, specPath
	errs = append(errs, nonNegative32(s.Replicas, p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	// kube-apiserver words the empty-selector error for ReplicaSets as for Deployments.
	errs = append(errs, validateWorkloadSelector(s.Selector, s.Template.Labels, p, "deployment")...)
	errs = append(errs, validateAlwaysRestartingTemplate(&s.Template, p.Child("template"), "ReplicaSet", podSpecOptions{})...)
	return errs
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return append(validateReplicaSet(rs), validateSelectorUnchanged(rs.Spec.Selector, old.Spec.Selector)...)
}

// --- statefulsets ---

// validateStatefulSet follows kube, whose StatefulSet names are DNS labels (they become pod
// hostnames). Unlike kube it also validates the pod template, counting the claim templates as
// volumes the containers may mount.
func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := validateMeta(&ss.ObjectMeta, true, apivalidation.NameIsDNSLabel)
	s, p := &ss.Spec, specPath
	switch s.PodManagementPolicy {
	case "", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p.Child("podManagementPolicy"), s.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType, "":
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			errs = append(errs, nonNegative32(ru.Partition, rp.Child("partition"))...)
			if mu := ru.MaxUnavailable; mu != nil {
				errs = append(errs, validatePositiveIntOrPercent(*mu, rp.Child("maxUnavailable"))...)
				if intOrPercentValue(*mu) == 0 {
					errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), *mu, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(*mu, rp.Child("maxUnavailable"))...)
			}
		}
	default:
		errs = append(errs, field.Invalid(up, s.UpdateStrategy, fmt.Sprintf("must be '%s' or '%s'",
			appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if pol := s.PersistentVolumeClaimRetentionPolicy; pol != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		allowed := []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
		for _, f := range []struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", pol.WhenDeleted}, {"whenScaled", pol.WhenScaled}} {
			if f.v != "" && !oneOf(string(f.v), allowed...) {
				errs = append(errs, field.NotSupported(pp.Child(f.name), f.v, allowed))
			}
		}
	}
	errs = append(errs, nonNegative32(s.Replicas, p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	if s.Ordinals != nil {
		errs = append(errs, nonNegative(int64(s.Ordinals.Start), p.Child("ordinals", "start"))...)
	}
	errs = append(errs, validateWorkloadSelector(s.Selector, s.Template.Labels, p, "statefulset")...)
	var claims []string
	for i, t := range s.VolumeClaimTemplates {
		tp := p.Child("volumeClaimTemplates").Index(i)
		errs = append(errs, dns1123Label(t.Name, tp.Child("metadata", "name"))...)
		errs = append(errs, metavalidation.ValidateLabels(t.Labels, tp.Child("metadata", "labels"))...)
		claims = append(claims, t.Name)
	}
	errs = append(errs, validateAlwaysRestartingTemplate(&s.Template, p.Child("template"), "StatefulSet", podSpecOptions{claimVolumes: claims})...)
	return errs
}

const statefulSetUpdateForbidden = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := validateStatefulSet(ss)
	errs = append(errs, validateSelectorUnchanged(ss.Spec.Selector, old.Spec.Selector)...)
	c := ss.Spec.DeepCopy()
	c.Replicas = old.Spec.Replicas
	c.Template = old.Spec.Template
	c.UpdateStrategy = old.Spec.UpdateStrategy
	c.MinReadySeconds = old.Spec.MinReadySeconds
	c.Ordinals = old.Spec.Ordinals
	c.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	c.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !equality.Semantic.DeepEqual(*c, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, statefulSetUpdateForbidden))
	}
	return errs
}

// --- daemonsets ---

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := validateMeta(&ds.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	s, p := &ds.Spec, specPath
	errs = append(errs, validateWorkloadSelector(s.Selector, s.Template.Labels, p, "daemonset")...)
	errs = append(errs, validateAlwaysRestartingTemplate(&s.Template, p.Child("template"), "DaemonSet", podSpecOptions{})...)
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	up := p.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType, "":
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			errs = append(errs, validateRollingUpdateDaemonSet(ru, up.Child("rollingUpdate"))...)
		}
	default:
		errs = append(errs, field.NotSupported(up, s.UpdateStrategy.Type,
			[]string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	return errs
}

// validateRollingUpdateDaemonSet: exactly one of maxSurge (default 0) and maxUnavailable
// (default 1) is non-zero.
func validateRollingUpdateDaemonSet(ru *appsv1.RollingUpdateDaemonSet, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	unavailable, surge := intstr.FromInt32(1), intstr.FromInt32(0)
	if ru.MaxUnavailable != nil {
		unavailable = *ru.MaxUnavailable
		errs = append(errs, validatePositiveIntOrPercent(unavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
	}
	if ru.MaxSurge != nil {
		surge = *ru.MaxSurge
		errs = append(errs, validatePositiveIntOrPercent(surge, p.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(surge, p.Child("maxSurge"))...)
	}
	hasUnavailable, hasSurge := intOrPercentValue(unavailable) != 0, intOrPercentValue(surge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, field.Invalid(p.Child("maxSurge"), surge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
	}
	return errs
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	return append(validateDaemonSet(ds), validateSelectorUnchanged(ds.Spec.Selector, old.Spec.Selector)...)
}

// --- replicationcontrollers ---

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := validateMeta(&rc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	s, p := &rc.Spec, specPath
	errs = append(errs, nonNegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if labels.Set(s.Selector).AsSelector().Empty() {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metavalidation.ValidateLabels(s.Selector, p.Child("selector"))...)
	}
	errs = append(errs, nonNegative32(s.Replicas, p.Child("replicas"))...)
	tp := p.Child("template")
	if s.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if sel := labels.Set(s.Selector).AsSelector(); !sel.Empty() && !sel.Matches(labels.Set(s.Template.Labels)) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validateAlwaysRestartingTemplate(s.Template, tp, "ReplicationController", podSpecOptions{})...)
	return errs
}
