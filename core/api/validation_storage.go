package api

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

var volumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}

// persistentVolumeSourceOrder is the order kube-apiserver considers PV types in.
var persistentVolumeSourceOrder = []string{"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs",
	"flocker", "nfs", "rbd", "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume",
	"photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi"}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path, requiredMsg string) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, requiredMsg)}
	}
	var errs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		if !oneOf(m, accessModes...) {
			errs = append(errs, field.NotSupported(p, m, accessModes))
			continue
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

// --- persistent volumes ---

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	errs := validateMeta(&pv.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	s, p := &pv.Spec, specPath
	errs = append(errs, validateAccessModes(s.AccessModes, p.Child("accessModes"), "")...)

	cp := p.Child("capacity")
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(cp, ""))
	}
	if _, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, field.NotSupported(cp, s.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for _, n := range sortedResourceNames(s.Capacity) {
		q := s.Capacity[n]
		if q.Value() < 0 {
			errs = append(errs, field.Invalid(cp.Key(string(n)), q.Value(), "must be a valid resource quantity"))
		}
		errs = append(errs, validatePositiveQuantity(q, cp.Key(string(n)))...)
	}
	errs = append(errs, notSupported(s.PersistentVolumeReclaimPolicy, p.Child("persistentVolumeReclaimPolicy"),
		corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain)...)

	hasAffinity := false
	if na := s.NodeAffinity; na != nil {
		hasAffinity = true
		if na.Required == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			errs = append(errs, validateNodeSelector(na.Required, false, p.Child("nodeAffinity", "required"))...)
		}
	}

	chosen, srcErrs := countSources(&s.PersistentVolumeSource, persistentVolumeSourceOrder, p)
	errs = append(errs, srcErrs...)
	sp := p.Child(chosen)
	switch chosen {
	case "hostPath":
		errs = append(errs, validateHostPath(s.HostPath, sp)...)
	case "nfs":
		errs = append(errs, validateNFS(s.NFS, sp)...)
	case "local":
		if s.Local.Path == "" {
			errs = append(errs, field.Required(sp.Child("path"), ""))
		} else {
			errs = append(errs, validatePathNoBacksteps(s.Local.Path, sp.Child("path"))...)
		}
		if !hasAffinity {
			errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	case "csi":
		errs = append(errs, validateCSIDriverName(s.CSI.Driver, sp.Child("driver"))...)
		if s.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(sp.Child("volumeHandle"), ""))
		}
	}
	if s.HostPath != nil && path.Clean(s.HostPath.Path) == "/" && s.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(p.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if s.StorageClassName != "" {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, s.StorageClassName, p.Child("storageClassName"))...)
	}
	if vm := s.VolumeMode; vm != nil && !oneOf(*vm, volumeModes...) {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *vm, volumeModes))
	}
	return errs
}

// validatePersistentVolumeUpdate: the volume source, volume mode and node affinity are fixed
// (a CSI expand secret may be added). As in kube, the last two are reported at the top level.
func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := validatePersistentVolume(pv)
	src := pv.Spec.PersistentVolumeSource.DeepCopy()
	if src.CSI != nil && old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil {
		src.CSI.ControllerExpandSecretRef = nil
	}
	if !equality.Semantic.DeepEqual(*src, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"),
			"spec.persistentvolumesource is immutable after creation\n"+changedFields(old.Spec.PersistentVolumeSource, *src, "spec")))
	}
	if pv.Spec.VolumeMode != nil || old.Spec.VolumeMode != nil {
		errs = append(errs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	}
	if old.Spec.NodeAffinity != nil && !equality.Semantic.DeepEqual(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(field.NewPath("nodeAffinity"), pv.Spec.NodeAffinity, fieldImmutableMsg+", except for updating from beta label to GA"))
	}
	return errs
}

// --- persistent volume claims ---

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validateMeta(&pvc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	return append(errs, validatePVCSpec(&pvc.Spec, specPath)...)
}

func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	errs := validateAccessModes(s.AccessModes, p.Child("accessModes"), "at least 1 access mode is required")
	if s.Selector != nil {
		errs = append(errs, validateLabelSelector(s.Selector, p.Child("selector"))...)
	}
	sp := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp, ""))
	} else if e := validatePositiveQuantity(q, sp); len(e) > 0 {
		errs = append(errs, e...)
	}
	if sc := s.StorageClassName; sc != nil && *sc != "" {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, *sc, p.Child("storageClassName"))...)
	}
	if vm := s.VolumeMode; vm != nil && !oneOf(*vm, volumeModes...) {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *vm, volumeModes))
	}
	if ds := s.DataSource; ds != nil {
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, p.Child("dataSource"))...)
	}
	if ds := s.DataSourceRef; ds != nil {
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, p.Child("dataSourceRef"))...)
		if ds.Namespace != nil && *ds.Namespace != "" {
			errs = append(errs, nameIs(apivalidation.ValidateNamespaceName, *ds.Namespace, p.Child("dataSourceRef", "namespace"))...)
		}
	}
	if vac := s.VolumeAttributesClassName; vac != nil && *vac != "" {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, *vac, p.Child("volumeAttributesClassName"))...)
	}
	return errs
}

func validateDataSource(name, kind string, group *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	g := ""
	if group != nil {
		g = *group
	}
	if g == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if g != "" {
		errs = append(errs, msgsToErrs(p.Child("apiGroup"), g, validation.IsDNS1123Subdomain(g))...)
	}
	return errs
}

// validatePersistentVolumeClaimUpdate: a claim's spec is fixed once created, except that the
// requested storage may grow, the volume name may be set once, a storage class may be set
// where there was none, and the volume attributes class may change.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validatePersistentVolumeClaim(pvc)
	n, o := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if o.VolumeName == "" {
		o.VolumeName = n.VolumeName
	}
	if o.StorageClassName == nil && n.StorageClassName != nil {
		o.StorageClassName = n.StorageClassName
	}
	o.VolumeAttributesClassName = n.VolumeAttributesClassName
	newSize, hasNew := n.Resources.Requests[corev1.ResourceStorage]
	oldSize, hasOld := o.Resources.Requests[corev1.ResourceStorage]
	if hasNew && hasOld {
		n.Resources.Requests[corev1.ResourceStorage] = oldSize
	}
	if !equality.Semantic.DeepEqual(*n, *o) {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%s",
			changedFields(*o, *n, "spec"))))
	}
	if hasNew && hasOld && newSize.Cmp(oldSize) < 0 {
		errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than previous value"))
	}
	return errs
}
