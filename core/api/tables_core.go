package api

import (
	"bytes"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

const (
	// labelNodeRolePrefix marks a node role: node-role.kubernetes.io/<role>="".
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	// nodeLabelRole names a node role by value: kubernetes.io/role=<role>.
	nodeLabelRole = "kubernetes.io/role"
	// betaStorageClassAnnotation predates spec.storageClassName and still wins over it.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

// --- nodes ---

var nodeTable = printer(columns(
	nameColumn(),
	column("Status", "string", "The status of the node"),
	column("Roles", "string", "The roles of the node"),
	ageColumn(),
	column("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
	wideColumn("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
	wideColumn("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
	wideColumn("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
	wideColumn("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
	wideColumn("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
), nodeRow)

func nodeRow(n *corev1.Node) []any {
	var status []string
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		// The last Ready condition wins, as with the real printer's condition map.
		if c.Status == corev1.ConditionTrue {
			status = []string{string(c.Type)}
		} else {
			status = []string{"Not" + string(c.Type)}
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	roles := strings.Join(findNodeRoles(n), ",")
	if roles == "" {
		roles = "<none>"
	}
	osImage, kernel, crVersion := n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion, n.Status.NodeInfo.ContainerRuntimeVersion
	if osImage == "" {
		osImage = "<unknown>"
	}
	if kernel == "" {
		kernel = "<unknown>"
	}
	if crVersion == "" {
		crVersion = "<unknown>"
	}
	return []any{
		n.Name, strings.Join(status, ","), roles, translateAge(n.CreationTimestamp), n.Status.NodeInfo.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP), osImage, kernel, crVersion,
	}
}

// findNodeRoles returns the sorted roles named by node-role.kubernetes.io/<role> and
// kubernetes.io/role labels.
func findNodeRoles(n *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); role != "" {
				roles.Insert(role)
			}
		case k == nodeLabelRole && v != "":
			roles.Insert(v)
		}
	}
	return sets.List(roles)
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// --- namespaces, configmaps, secrets, serviceaccounts ---

var namespaceTable = printer(columns(
	nameColumn(),
	column("Status", "string", "The status of the namespace"),
	ageColumn(),
), func(ns *corev1.Namespace) []any {
	return []any{ns.Name, string(ns.Status.Phase), translateAge(ns.CreationTimestamp)}
})

var configMapTable = printer(columns(
	nameColumn(),
	column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
	ageColumn(),
), func(cm *corev1.ConfigMap) []any {
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), translateAge(cm.CreationTimestamp)}
})

var secretTable = printer(columns(
	nameColumn(),
	column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
	column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
	ageColumn(),
), func(s *corev1.Secret) []any {
	// The real server counts its internal data, into which stringData is folded.
	n := len(s.Data)
	for k := range s.StringData {
		if _, ok := s.Data[k]; !ok {
			n++
		}
	}
	return []any{s.Name, string(s.Type), int64(n), translateAge(s.CreationTimestamp)}
})

var serviceAccountTable = printer(columns(
	nameColumn(),
	column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
	ageColumn(),
), func(sa *corev1.ServiceAccount) []any {
	return []any{sa.Name, int64(len(sa.Secrets)), translateAge(sa.CreationTimestamp)}
})

// --- services, endpoints ---

var serviceTable = printer(columns(
	nameColumn(),
	column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
	column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
	column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
	column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
	ageColumn(),
	wideColumn("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
), serviceRow)

func serviceRow(svc *corev1.Service) []any {
	// The internal clusterIPs the real printer reads mirror clusterIP first.
	clusterIP := svc.Spec.ClusterIP
	if clusterIP == "" && len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	if clusterIP == "" {
		clusterIP = "<none>"
	}
	ports := makePortString(svc.Spec.Ports)
	if ports == "" {
		ports = "<none>"
	}
	return []any{
		svc.Name, string(svc.Spec.Type), clusterIP, serviceExternalIP(svc), ports, translateAge(svc.CreationTimestamp),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lbIPs := loadBalancerIngress(svc.Status.LoadBalancer.Ingress)
		if len(svc.Spec.ExternalIPs) > 0 {
			var results []string
			if lbIPs != "" {
				results = append(results, strings.Split(lbIPs, ",")...)
			}
			results = append(results, svc.Spec.ExternalIPs...)
			return strings.Join(results, ",")
		}
		if lbIPs != "" {
			return lbIPs
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerIngress lists the sorted, distinct IPs (or else hostnames) of a load
// balancer. The server prints wide, so nothing is clipped.
func loadBalancerIngress(ingress []corev1.LoadBalancerIngress) string {
	result := sets.New[string]()
	for _, in := range ingress {
		if in.IP != "" {
			result.Insert(in.IP)
		} else if in.Hostname != "" {
			result.Insert(in.Hostname)
		}
	}
	return strings.Join(sets.List(result), ",")
}

func makePortString(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

var endpointsTable = printer(columns(
	nameColumn(),
	column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
	ageColumn(),
), func(ep *corev1.Endpoints) []any {
	return []any{ep.Name, formatEndpoints(ep), translateAge(ep.CreationTimestamp)}
})

// formatEndpoints lists up to three address:port pairs (bare addresses for subsets without
// ports) and how many more there are.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	const max = 3
	more := false
	count := 0
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		if len(ss.Ports) == 0 {
			// headless services may have no ports
			count += len(ss.Addresses)
			for j := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, ss.Addresses[j].IP)
			}
			continue
		}
		for p := range ss.Ports {
			count += len(ss.Addresses)
			for j := range ss.Addresses {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, net.JoinHostPort(ss.Addresses[j].IP, strconv.Itoa(int(ss.Ports[p].Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

// --- events ---

var eventTable = printer(columns(
	column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
	column("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
	column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
	column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
	wideColumn("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
	wideColumn("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
	column("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
	wideColumn("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
	wideColumn("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
	eventNameColumn(),
), eventRow)

// eventNameColumn is the events table's Name column: last and wide-only, as upstream.
func eventNameColumn() metav1.TableColumnDefinition {
	c := nameColumn()
	c.Priority = 1
	return c
}

func eventRow(e *corev1.Event) []any {
	firstSeen := translateAge(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		firstSeen = translateMicroAge(e.EventTime)
	}
	lastSeen := translateAge(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		lastSeen = firstSeen
	}
	count := e.Count
	if e.Series != nil {
		lastSeen = translateMicroAge(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		// singleton events of the new API carry no count
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	return []any{
		lastSeen, e.Type, e.Reason, target, e.InvolvedObject.FieldPath,
		formatEventSource(e.Source, e.ReportingController, e.ReportingInstance),
		strings.TrimSpace(e.Message), firstSeen, int64(count), e.Name,
	}
}

// formatEventSource prints "component, host", falling back to the reporting controller and
// instance, and leaving the host off when there is none.
func formatEventSource(es corev1.EventSource, reportingController, reportingInstance string) string {
	component, instance := es.Component, es.Host
	if component == "" {
		component = reportingController
	}
	if instance == "" {
		instance = reportingInstance
	}
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

// --- resourcequotas ---

var resourceQuotaTable = printer(columns(
	nameColumn(),
	column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
	column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
	ageColumn(),
), func(q *corev1.ResourceQuota) []any {
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var request, limit bytes.Buffer
	for _, n := range names {
		w := &request
		if pieces := strings.Split(n, "."); len(pieces) > 1 && pieces[0] == "limits" {
			w = &limit
		}
		used := q.Status.Used[corev1.ResourceName(n)]
		hard := q.Status.Hard[corev1.ResourceName(n)]
		fmt.Fprintf(w, "%s: %s/%s, ", n, used.String(), hard.String())
	}
	return []any{
		q.Name, strings.TrimSuffix(request.String(), ", "), strings.TrimSuffix(limit.String(), ", "),
		translateAge(q.CreationTimestamp),
	}
})

// --- replicationcontrollers ---

var replicationControllerTable = printer(columns(
	nameColumn(),
	column("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
	column("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
	column("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	containerColumns(),
	wideColumn("Selector", "string", corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
), func(rc *corev1.ReplicationController) []any {
	var containers []corev1.Container
	if rc.Spec.Template != nil {
		containers = rc.Spec.Template.Spec.Containers
	}
	names, images := layoutContainerCells(containers)
	return []any{
		rc.Name, int64(int32Value(rc.Spec.Replicas)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
		translateAge(rc.CreationTimestamp), names, images, labels.FormatLabels(rc.Spec.Selector),
	}
})

// --- persistentvolumes, persistentvolumeclaims ---

var persistentVolumeTable = printer(columns(
	nameColumn(),
	column("Capacity", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
	column("Access Modes", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
	column("Reclaim Policy", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
	column("Status", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
	column("Claim", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
	column("StorageClass", "string", "StorageClass of the pv"),
	column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
	column("Reason", "string", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
	ageColumn(),
	wideColumn("VolumeMode", "string", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]),
), func(pv *corev1.PersistentVolume) []any {
	claim := ""
	if pv.Spec.ClaimRef != nil {
		claim = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class := pv.Spec.StorageClassName
	if a, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
		class = a
	}
	return []any{
		pv.Name, capacity.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, class, stringOrUnset(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
		translateAge(pv.CreationTimestamp), volumeModeString(pv.Spec.VolumeMode),
	}
})

var persistentVolumeClaimTable = printer(columns(
	nameColumn(),
	column("Status", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
	column("Volume", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
	column("Capacity", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
	column("Access Modes", "string", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
	column("StorageClass", "string", "StorageClass of the pvc"),
	column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
	ageColumn(),
	wideColumn("VolumeMode", "string", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]),
), func(pvc *corev1.PersistentVolumeClaim) []any {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, accessModes := "", ""
	if pvc.Spec.VolumeName != "" {
		accessModes = accessModesString(pvc.Status.AccessModes)
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	class := ""
	if a, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		class = a
	} else if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	return []any{
		pvc.Name, phase, pvc.Spec.VolumeName, capacity, accessModes, class,
		stringOrUnset(pvc.Spec.VolumeAttributesClassName), translateAge(pvc.CreationTimestamp),
		volumeModeString(pvc.Spec.VolumeMode),
	}
})

// accessModesString abbreviates access modes in a fixed order: RWO, ROX, RWX, RWOP.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func stringOrUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
