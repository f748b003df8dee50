package api

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxConfigSize is the size limit of a ConfigMap's or Secret's data (core.MaxSecretSize).
const maxConfigSize = 1 * 1024 * 1024

// maxClientIPServiceAffinitySeconds is the longest ClientIP session affinity, a day.
const maxClientIPServiceAffinitySeconds = 86400

// --- services ---

var serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName,
	corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}

// serviceType is the service's type with the ClusterIP default applied.
func serviceType(s *corev1.Service) corev1.ServiceType {
	if s.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return s.Spec.Type
}

// clusterIPsOf is spec.clusterIPs as kube-apiserver sees it: filled from spec.clusterIP when a
// client set only the singular field.
func clusterIPsOf(s *corev1.Service) []string {
	if len(s.Spec.ClusterIPs) == 0 && s.Spec.ClusterIP != "" {
		return []string{s.Spec.ClusterIP}
	}
	return s.Spec.ClusterIPs
}

func isHeadless(s *corev1.Service) bool {
	ips := clusterIPsOf(s)
	return len(ips) == 1 && ips[0] == corev1.ClusterIPNone
}

func svcNeedsNodePorts(s *corev1.Service) bool {
	t := serviceType(s)
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

func svcExternallyAccessible(s *corev1.Service) bool {
	return svcNeedsNodePorts(s) || (serviceType(s) == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

func svcNeedsHealthCheck(s *corev1.Service) bool {
	return serviceType(s) == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// validateService is kube's ValidateService. Cluster IPs and node ports are allocated after
// validation, so neither is required here; service names are DNS-1035 labels, as in kube.
func validateService(s *corev1.Service) field.ErrorList {
	errs := validateMeta(&s.ObjectMeta, true, apivalidation.NameIsDNS1035Label)
	p, typ := specPath, serviceType(s)
	ips := clusterIPsOf(s)
	if len(s.Spec.Ports) == 0 && !isHeadless(s) && typ != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(p.Child("ports"), ""))
	}
	switch typ {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(s) {
			errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(0), ips[0], fmt.Sprintf("may not be set to 'None' for %s services", typ)))
		}
	case corev1.ServiceTypeExternalName:
		if len(ips) > 0 {
			errs = append(errs, field.Forbidden(p.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(s.Spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(p.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if s.Spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(p.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// The value, a CNAME, may end in a dot to mark it fully qualified.
		if cname := strings.TrimSuffix(s.Spec.ExternalName, "."); cname != "" {
			errs = append(errs, dns1123Subdomain(cname, p.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(p.Child("externalName"), ""))
		}
	}

	portNames := map[string]bool{}
	for i := range s.Spec.Ports {
		errs = append(errs, validateServicePort(&s.Spec.Ports[i], len(s.Spec.Ports) > 1, portNames, p.Child("ports").Index(i))...)
	}
	errs = append(errs, metavalidation.ValidateLabels(s.Spec.Selector, p.Child("selector"))...)

	switch s.Spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPServiceAffinitySeconds {
				errs = append(errs, field.Invalid(p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
					fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPServiceAffinitySeconds)))
			}
		}
	case corev1.ServiceAffinityNone, "":
		if s.Spec.SessionAffinity != "" && s.Spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(p.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("sessionAffinity"), s.Spec.SessionAffinity,
			[]corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}))
	}

	if typ != corev1.ServiceTypeExternalName {
		errs = append(errs, validateClusterIPs(s)...)
	}
	for i, ip := range s.Spec.ExternalIPs {
		ipPath := p.Child("externalIPs").Index(i)
		if e := validation.IsValidIP(ipPath, ip); len(e) > 0 {
			errs = append(errs, e...)
		} else {
			errs = append(errs, validateNonSpecialIP(ip, ipPath)...)
		}
	}
	errs = append(errs, notSupported(s.Spec.Type, p.Child("type"), serviceTypes...)...)

	if !svcNeedsNodePorts(s) && oneOf(typ, serviceTypes...) {
		for i, port := range s.Spec.Ports {
			if port.NodePort != 0 {
				errs = append(errs, field.Forbidden(p.Child("ports").Index(i).Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", typ)))
			}
		}
	}
	nodePorts, ports := map[corev1.ServicePort]bool{}, map[corev1.ServicePort]bool{}
	for i, port := range s.Spec.Ports {
		proto := port.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if port.NodePort != 0 {
			key := corev1.ServicePort{Protocol: proto, NodePort: port.NodePort}
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(p.Child("ports").Index(i).Child("nodePort"), port.NodePort))
			}
			nodePorts[key] = true
		}
		key := corev1.ServicePort{Protocol: proto, Port: port.Port}
		if ports[key] {
			errs = append(errs, field.Duplicate(p.Child("ports").Index(i), key))
		}
		ports[key] = true
	}

	if len(s.Spec.LoadBalancerSourceRanges) > 0 {
		// kube-apiserver names this field with a capital L.
		rp := p.Child("LoadBalancerSourceRanges")
		if typ != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(rp, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, r := range s.Spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(rp.Index(i), strings.TrimSpace(r))...)
		}
	}
	if s.Spec.AllocateLoadBalancerNodePorts != nil && typ != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(p.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if c := s.Spec.LoadBalancerClass; c != nil {
		if typ == corev1.ServiceTypeLoadBalancer {
			errs = append(errs, qualifiedName(*c, p.Child("loadBalancerClass"))...)
		} else {
			errs = append(errs, field.Forbidden(p.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	}

	etp := s.Spec.ExternalTrafficPolicy
	if !svcExternallyAccessible(s) {
		if etp != "" {
			errs = append(errs, field.Invalid(p.Child("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"))
		}
	} else {
		errs = append(errs, notSupported(etp, p.Child("externalTrafficPolicy"),
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
	}
	if hc := s.Spec.HealthCheckNodePort; hc != 0 {
		if !svcNeedsHealthCheck(s) {
			errs = append(errs, field.Invalid(p.Child("healthCheckNodePort"), hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			errs = append(errs, validatePortNum(hc, p.Child("healthCheckNodePort"))...)
		}
	}
	if itp := s.Spec.InternalTrafficPolicy; itp != nil {
		errs = append(errs, notSupported(*itp, p.Child("internalTrafficPolicy"),
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if td := s.Spec.TrafficDistribution; td != nil {
		allowed := []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
		if !oneOf(*td, allowed...) {
			errs = append(errs, field.NotSupported(p.Child("trafficDistribution"), *td, allowed))
		}
	}
	return errs
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if sp.Name != "" {
		errs = append(errs, dns1123Label(sp.Name, p.Child("name"))...)
		if names[sp.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
		}
		names[sp.Name] = true
	}
	errs = append(errs, validatePortNum(sp.Port, p.Child("port"))...)
	errs = append(errs, validateProtocol(sp.Protocol, p.Child("protocol"))...)
	// An unset targetPort is the port itself.
	if sp.TargetPort.IntVal != 0 || sp.TargetPort.StrVal != "" {
		errs = append(errs, validatePortNumOrName(sp.TargetPort, p.Child("targetPort"))...)
	}
	if sp.AppProtocol != nil {
		errs = append(errs, qualifiedName(*sp.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// validateClusterIPs: "", "None" (alone) or IPs, at most one per family, agreeing with
// ipFamilies.
func validateClusterIPs(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	p := specPath
	ipsPath, famPath := p.Child("clusterIPs"), p.Child("ipFamilies")
	if s.Spec.ClusterIP != "" && len(s.Spec.ClusterIPs) > 0 && s.Spec.ClusterIPs[0] != s.Spec.ClusterIP {
		errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if s.Spec.ClusterIP == "" && len(s.Spec.ClusterIPs) > 0 {
		errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := map[corev1.IPFamily]bool{}
	families := []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	for i, f := range s.Spec.IPFamilies {
		if !oneOf(f, families...) {
			errs = append(errs, field.NotSupported(famPath.Index(i), f, families))
		}
		if seen[f] {
			errs = append(errs, field.Duplicate(famPath.Index(i), f))
		}
		seen[f] = true
	}
	if pol := s.Spec.IPFamilyPolicy; pol != nil {
		policies := []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
		if !oneOf(*pol, policies...) {
			errs = append(errs, field.NotSupported(p.Child("ipFamilyPolicy"), *pol, policies))
		}
	}
	ips := clusterIPsOf(s)
	invalid := false
	for i, ip := range ips {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(ips) > 1 {
				invalid = true
				errs = append(errs, field.Invalid(ipsPath, ips, "'None' must be the first and only value"))
			}
			continue
		}
		if e := validation.IsValidIP(ipsPath.Index(i), ip); len(e) > 0 {
			invalid = true
			errs = append(errs, e...)
		}
	}
	if len(ips) > 2 {
		errs = append(errs, field.Invalid(ipsPath, ips, "may only hold up to 2 values"))
	}
	if invalid {
		return errs
	}
	if len(ips) == 2 && isIPv6(ips[0]) == isIPv6(ips[1]) {
		errs = append(errs, field.Invalid(ipsPath, ips, "may specify no more than one IP for each IP family"))
	}
	if !isHeadless(s) {
		for i, ip := range ips {
			if i >= len(s.Spec.IPFamilies) {
				break
			}
			switch {
			case s.Spec.IPFamilies[i] == corev1.IPv4Protocol && isIPv6(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			case s.Spec.IPFamilies[i] == corev1.IPv6Protocol && !isIPv6(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

func isIPv6(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() == nil
}

// NodeLocalPodIPs is where the wasm runtime's pods get their addresses: loopback addresses
// of the node they run on, which only that node reaches. Kubernetes refuses loopback
// endpoints, so that nobody points a Service at a node's own daemons; tug accepts these, and
// only for an endpoint that names its node, whose proxy alone uses it (core/proxy).
// The range leaves out 127.0.0.0/10, where the node's own daemons listen (127.0.0.1,
// systemd-resolved's 127.0.0.53).
var NodeLocalPodIPs = netip.MustParsePrefix("127.64.0.0/10")

// IsNodeLocalPodIP says whether s is in NodeLocalPodIPs.
func IsNodeLocalPodIP(s string) bool {
	ip, err := netip.ParseAddr(s)
	return err == nil && NodeLocalPodIPs.Contains(ip)
}

// validateNonSpecialIP rejects the unspecified, loopback and link-local addresses, which make
// no sense as endpoints or external IPs.
func validateNonSpecialIP(s string, p *field.Path) field.ErrorList {
	ip := net.ParseIP(s)
	switch {
	case ip == nil:
		return field.ErrorList{field.Invalid(p, s, "must be a valid IP address")}
	case ip.IsUnspecified():
		return field.ErrorList{field.Invalid(p, s, fmt.Sprintf("may not be unspecified (%v)", s))}
	case ip.IsLoopback():
		return field.ErrorList{field.Invalid(p, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case ip.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(p, s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case ip.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(p, s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

// validateServiceUpdate first does what kube-apiserver's strategy does before validating an
// update: values the server allocated are carried over when the client left them out, and
// fields the new type no longer uses are dropped when the client did not change them. Then a
// cluster IP, once set, may only change by leaving it to the server (type ExternalName).
func validateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	n := s.DeepCopy()
	patchAllocatedServiceValues(n, old)
	dropTypeDependentServiceFields(n, old)
	errs := validateService(n)
	if serviceType(old) != corev1.ServiceTypeExternalName && serviceType(n) != corev1.ServiceTypeExternalName &&
		old.Spec.ClusterIP != "" && n.Spec.ClusterIP != old.Spec.ClusterIP {
		errs = append(errs, field.Invalid(specPath.Child("clusterIP"), n.Spec.ClusterIP, fieldImmutableMsg))
	}
	if serviceType(old) == corev1.ServiceTypeLoadBalancer && serviceType(n) == corev1.ServiceTypeLoadBalancer &&
		!equalStringPtr(old.Spec.LoadBalancerClass, n.Spec.LoadBalancerClass) {
		errs = append(errs, field.Invalid(specPath.Child("loadBalancerClass"), n.Spec.LoadBalancerClass, "may not change once set"))
	}
	if svcNeedsHealthCheck(old) && svcNeedsHealthCheck(n) && old.Spec.HealthCheckNodePort != n.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(specPath.Child("healthCheckNodePort"), fieldImmutableMsg))
	}
	return errs
}

func patchAllocatedServiceValues(n, old *corev1.Service) {
	if serviceType(old) != corev1.ServiceTypeExternalName && serviceType(n) != corev1.ServiceTypeExternalName {
		if n.Spec.ClusterIP == "" {
			n.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(n.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 && n.Spec.ClusterIP == old.Spec.ClusterIPs[0] {
			n.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
	}
	// A client that changed only the singular field changed both.
	if n.Spec.ClusterIP != old.Spec.ClusterIP && reflect.DeepEqual(n.Spec.ClusterIPs, old.Spec.ClusterIPs) {
		n.Spec.ClusterIPs = nil
		if n.Spec.ClusterIP != "" {
			n.Spec.ClusterIPs = []string{n.Spec.ClusterIP}
		}
	}
	if svcNeedsNodePorts(old) && svcNeedsNodePorts(n) {
		for i := range n.Spec.Ports {
			np := &n.Spec.Ports[i]
			if np.NodePort != 0 {
				continue
			}
			for _, op := range old.Spec.Ports {
				if op.Port == np.Port && op.Protocol == np.Protocol {
					np.NodePort = op.NodePort
				}
			}
		}
	}
	if svcNeedsHealthCheck(old) && svcNeedsHealthCheck(n) && n.Spec.HealthCheckNodePort == 0 {
		n.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

func dropTypeDependentServiceFields(n, old *corev1.Service) {
	if serviceType(old) != corev1.ServiceTypeExternalName && serviceType(n) == corev1.ServiceTypeExternalName {
		if n.Spec.ClusterIP == old.Spec.ClusterIP && reflect.DeepEqual(n.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			n.Spec.ClusterIP, n.Spec.ClusterIPs = "", nil
		}
		if reflect.DeepEqual(n.Spec.IPFamilies, old.Spec.IPFamilies) {
			n.Spec.IPFamilies = nil
		}
		if reflect.DeepEqual(n.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			n.Spec.IPFamilyPolicy = nil
		}
	}
	if svcNeedsNodePorts(old) && !svcNeedsNodePorts(n) && sameNodePorts(n, old) {
		for i := range n.Spec.Ports {
			n.Spec.Ports[i].NodePort = 0
		}
	}
	if svcNeedsHealthCheck(old) && !svcNeedsHealthCheck(n) && old.Spec.HealthCheckNodePort == n.Spec.HealthCheckNodePort {
		n.Spec.HealthCheckNodePort = 0
	}
	if serviceType(old) == corev1.ServiceTypeLoadBalancer && serviceType(n) != corev1.ServiceTypeLoadBalancer {
		if reflect.DeepEqual(n.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
			n.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if equalStringPtr(n.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
			n.Spec.LoadBalancerClass = nil
		}
	}
	if svcExternallyAccessible(old) && !svcExternallyAccessible(n) && n.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		n.Spec.ExternalTrafficPolicy = ""
	}
}

// sameNodePorts: every node port the new service names is one the old service had.
func sameNodePorts(n, old *corev1.Service) bool {
	had := map[int32]bool{}
	for _, p := range old.Spec.Ports {
		had[p.NodePort] = true
	}
	for _, p := range n.Spec.Ports {
		if p.NodePort != 0 && !had[p.NodePort] {
			return false
		}
	}
	return true
}

// --- endpoints ---

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	errs := validateMeta(&e.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("subsets")
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		ip := sp.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(ip, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], ip.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], ip.Child("notReadyAddresses").Index(j))...)
		}
		names := map[string]bool{}
		for j, port := range ss.Ports {
			pp := ip.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			if len(ss.Ports) > 1 && port.Name != "" {
				if names[port.Name] {
					errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
				}
				names[port.Name] = true
			}
			errs = append(errs, validatePortNum(port.Port, pp.Child("port"))...)
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				errs = append(errs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if len(errs) == 0 && !(a.NodeName != nil && IsNodeLocalPodIP(a.IP)) {
		errs = append(errs, validateNonSpecialIP(a.IP, p.Child("ip"))...)
	}
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, *a.NodeName, p.Child("nodeName"))...)
	}
	return errs
}

// --- configmaps and secrets ---

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := validateMeta(&cm.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	size := 0
	for _, k := range sortedKeys(cm.Data) {
		kp := field.NewPath("data").Key(k)
		errs = append(errs, msgsToErrs(kp, k, validation.IsConfigMapKey(k))...)
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(kp, k, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		errs = append(errs, msgsToErrs(field.NewPath("binaryData").Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(cm.BinaryData[k])
	}
	if size > maxConfigSize {
		// The empty path means the whole object.
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxConfigSize))
	}
	return errs
}

const immutableWhenSet = "field is immutable when `immutable` is set"

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := validateConfigMap(cm)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !reflect.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
		if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSet))
		}
	}
	return errs
}

// secretData is the data the API stores: stringData written over data.
func secretData(s *corev1.Secret) map[string][]byte {
	if len(s.StringData) == 0 {
		return s.Data
	}
	d := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		d[k] = v
	}
	for k, v := range s.StringData {
		d[k] = []byte(v)
	}
	return d
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	errs := validateMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	dp := field.NewPath("data")
	data := secretData(s)
	size := 0
	for _, k := range sortedKeys(data) {
		errs = append(errs, msgsToErrs(dp.Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(data[k])
	}
	if size > maxConfigSize {
		errs = append(errs, field.TooLong(dp, "", maxConfigSize))
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metadataPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		errs = append(errs, validateJSONKey(data, corev1.DockerConfigKey, dp)...)
	case corev1.SecretTypeDockerConfigJson:
		errs = append(errs, validateJSONKey(data, corev1.DockerConfigJsonKey, dp)...)
	case corev1.SecretTypeBasicAuth:
		_, user := data[corev1.BasicAuthUsernameKey]
		_, pass := data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dp.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

func validateJSONKey(data map[string][]byte, key string, dp *field.Path) field.ErrorList {
	b, ok := data[key]
	if !ok {
		return field.ErrorList{field.Required(dp.Key(key), "")}
	}
	if err := json.Unmarshal(b, &map[string]any{}); err != nil {
		return field.ErrorList{field.Invalid(dp.Key(key), "<secret contents redacted>", err.Error())}
	}
	return nil
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := validateSecret(s)
	oldType, newType := old.Type, s.Type
	if oldType == "" {
		oldType = corev1.SecretTypeOpaque
	}
	if newType == "" {
		newType = corev1.SecretTypeOpaque
	}
	errs = append(errs, immutable(newType, oldType, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !reflect.DeepEqual(secretData(s), old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
	}
	return errs
}

func validateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return validateMeta(&sa.ObjectMeta, true, apivalidation.ValidateServiceAccountName)
}

// --- namespaces ---

// validateNamespace: spec.finalizers are reported on the list on create and per entry on
// update (the finalize subresource), as kube-apiserver does.
func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := validateMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName)
	for _, f := range ns.Spec.Finalizers {
		errs = append(errs, validateFinalizerName(string(f), specPath.Child("finalizers"))...)
	}
	return errs
}

func validateNamespaceUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := validateMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName)
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, validateFinalizerName(string(f), specPath.Child("finalizers").Index(i))...)
	}
	return errs
}

func validateFinalizerName(name string, p *field.Path) field.ErrorList {
	return append(apivalidation.ValidateFinalizerName(name, p), validateKubeFinalizerName(name, p)...)
}

// --- nodes ---

// validateNode follows kube-apiserver, which reports spec.taints under metadata.taints.
func validateNode(n *corev1.Node) field.ErrorList {
	errs := validateMeta(&n.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateNodeTaints(n.Spec.Taints, metadataPath.Child("taints"))...)
	for _, name := range sortedResourceNames(n.Status.Capacity) {
		errs = append(errs, validateQuantity(name, n.Status.Capacity[name], field.NewPath("status", "capacity", string(name)))...)
	}
	for _, name := range sortedResourceNames(n.Status.Allocatable) {
		errs = append(errs, validateQuantity(name, n.Status.Allocatable[name], field.NewPath("status", "allocatable", string(name)))...)
	}
	cidrs := n.Spec.PodCIDRs
	cidrPath := specPath.Child("podCIDRs")
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		return append(errs, validation.IsValidCIDR(specPath.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	invalid := false
	for i, c := range cidrs {
		if e := validation.IsValidCIDR(cidrPath.Index(i), c); len(e) > 0 {
			invalid = true
			errs = append(errs, e...)
		}
	}
	if len(cidrs) > 1 && !invalid {
		if len(cidrs) > 2 || cidrIsIPv6(cidrs[0]) == cidrIsIPv6(cidrs[1]) {
			errs = append(errs, field.Invalid(cidrPath, cidrs, "may specify no more than one CIDR for each IP family"))
		}
		seen := map[string]bool{}
		for i, c := range cidrs {
			if seen[c] {
				errs = append(errs, field.Duplicate(cidrPath.Index(i), c))
			}
			seen[c] = true
		}
	}
	return errs
}

func cidrIsIPv6(c string) bool {
	ip, _, err := net.ParseCIDR(c)
	return err == nil && ip.To4() == nil
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

func validateNodeTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	unique := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range taints {
		ip := p.Index(i)
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, ip.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(ip.Child("effect"), ""))
		} else if !oneOf(t.Effect, taintEffects...) {
			errs = append(errs, field.NotSupported(ip.Child("effect"), t.Effect, taintEffects))
		}
		if unique[t.Effect][t.Key] {
			e := field.Duplicate(ip, t)
			e.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, e)
			continue
		}
		if unique[t.Effect] == nil {
			unique[t.Effect] = map[string]bool{}
		}
		unique[t.Effect][t.Key] = true
	}
	return errs
}

func nodeCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return n.Spec.PodCIDRs
}

// validateNodeUpdate: pod CIDRs and the provider ID are set once.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := validateNode(n)
	if oc := nodeCIDRs(old); len(oc) > 0 && !reflect.DeepEqual(oc, nodeCIDRs(n)) {
		errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(specPath.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(specPath.Child("externalID"), "may not be updated"))
	}
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	return errs
}

// --- events ---

const (
	eventReasonLengthLimit   = 128
	eventActionLengthLimit   = 128
	eventInstanceLengthLimit = 128
	eventNoteLengthLimit     = 1024
)

// validateEvent is kube's validation of core/v1 events. Events in the old style (no
// eventTime) belong with their involved object: in its namespace, or in "default" for a
// cluster-scoped one. New-style events also need their reporting fields. Beyond kube, the type
// must be Normal or Warning and the reason at most 128 characters in either style.
func validateEvent(e *corev1.Event) field.ErrorList {
	errs := validateMeta(&e.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	nsPath := field.NewPath("involvedObject", "namespace")
	const mismatch = "does not match event.namespace"
	if e.EventTime.Time.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, mismatch))
		}
		// In core/v1 the reporting controller is reported as "source".
		if e.ReportingController == "" {
			errs = append(errs, field.Required(field.NewPath("source"), ""))
		}
		errs = append(errs, qualifiedName(e.ReportingController, field.NewPath("source"))...)
		if e.ReportingInstance == "" {
			errs = append(errs, field.Required(field.NewPath("reportingInstance"), ""))
		}
		if len(e.ReportingInstance) > eventInstanceLengthLimit {
			errs = append(errs, field.Invalid(field.NewPath("reportingInstance"), "", fmt.Sprintf("can have at most %v characters", eventInstanceLengthLimit)))
		}
		if e.Action == "" {
			errs = append(errs, field.Required(field.NewPath("action"), ""))
		}
		if len(e.Action) > eventActionLengthLimit {
			errs = append(errs, field.Invalid(field.NewPath("action"), "", fmt.Sprintf("can have at most %v characters", eventActionLengthLimit)))
		}
		if e.Reason == "" {
			errs = append(errs, field.Required(field.NewPath("reason"), ""))
		}
		if len(e.Message) > eventNoteLengthLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLengthLimit)))
		}
	}
	if len(e.Reason) > eventReasonLengthLimit {
		errs = append(errs, field.Invalid(field.NewPath("reason"), "", fmt.Sprintf("can have at most %v characters", eventReasonLengthLimit)))
	}
	errs = append(errs, notSupported(e.Type, field.NewPath("type"), corev1.EventTypeNormal, corev1.EventTypeWarning)...)
	return errs
}

// --- resource quotas and limit ranges ---

var podCountAndComputeQuotaResources = setOf(corev1.ResourcePods, corev1.ResourceCPU, corev1.ResourceMemory,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory)

var quotaScopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass,
	corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeVolumeAttributesClass}

func quotaScopeValidForResource(scope corev1.ResourceQuotaScope, n corev1.ResourceName) bool {
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return podCountAndComputeQuotaResources[n]
	case corev1.ResourceQuotaScopeBestEffort:
		return n == corev1.ResourcePods
	}
	return true
}

func validateQuotaResourceList(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, n := range sortedResourceNames(l) {
		rp := p.Key(string(n))
		errs = append(errs, validateResourceName(n, rp)...)
		if !strings.Contains(string(n), "/") && !standardQuotaResources[n] && !isQuotaHugePageResourceName(n) {
			errs = append(errs, field.Invalid(rp, n, "must be a standard resource for quota"))
		}
		errs = append(errs, validateQuantity(n, l[n], rp)...)
	}
	return errs
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	errs := validateMeta(&q.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateQuotaResourceList(q.Spec.Hard, specPath.Child("hard"))...)
	errs = append(errs, validateQuotaResourceList(q.Status.Hard, field.NewPath("status", "hard"))...)
	errs = append(errs, validateQuotaResourceList(q.Status.Used, field.NewPath("status", "used"))...)

	scopePath := specPath.Child("scopes")
	scopes := map[corev1.ResourceQuotaScope]bool{}
	check := func(scope corev1.ResourceQuotaScope, p *field.Path, bad any) {
		if !oneOf(scope, quotaScopes...) {
			errs = append(errs, field.Invalid(p, bad, "unsupported scope"))
		}
		for _, n := range sortedResourceNames(q.Spec.Hard) {
			if (standardQuotaResources[n] || isQuotaHugePageResourceName(n)) && !quotaScopeValidForResource(scope, n) {
				errs = append(errs, field.Invalid(p, bad, "unsupported scope applied to resource"))
				break
			}
		}
		scopes[scope] = true
	}
	for _, s := range q.Spec.Scopes {
		check(s, scopePath, q.Spec.Scopes)
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		mp := specPath.Child("scopeSelector", "matchExpressions")
		for _, r := range sel.MatchExpressions {
			check(r.ScopeName, mp.Child("scopeName"), r.ScopeName)
			switch r.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(r.Values) == 0 {
					errs = append(errs, field.Required(mp.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(r.Values) != 0 {
					errs = append(errs, field.Invalid(mp.Child("values"), r.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				errs = append(errs, field.Invalid(mp.Child("operator"), r.Operator, "not a valid selector operator"))
			}
		}
	}
	if (scopes[corev1.ResourceQuotaScopeBestEffort] && scopes[corev1.ResourceQuotaScopeNotBestEffort]) ||
		(scopes[corev1.ResourceQuotaScopeTerminating] && scopes[corev1.ResourceQuotaScopeNotTerminating]) {
		errs = append(errs, field.Invalid(scopePath, q.Spec.Scopes, "conflicting scopes"))
	}
	return errs
}

func validateResourceQuotaUpdate(q, old *corev1.ResourceQuota) field.ErrorList {
	errs := validateResourceQuota(q)
	oldScopes, newScopes := map[corev1.ResourceQuotaScope]bool{}, map[corev1.ResourceQuotaScope]bool{}
	for _, s := range old.Spec.Scopes {
		oldScopes[s] = true
	}
	for _, s := range q.Spec.Scopes {
		newScopes[s] = true
	}
	if !reflect.DeepEqual(oldScopes, newScopes) {
		errs = append(errs, field.Invalid(specPath.Child("scopes"), q.Spec.Scopes, fieldImmutableMsg))
	}
	return errs
}

var limitTypes = []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}

func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	errs := validateMeta(&lr.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	lp := specPath.Child("limits")
	seenTypes := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		l := &lr.Spec.Limits[i]
		ip := lp.Index(i)
		if msgs := validation.IsQualifiedName(string(l.Type)); len(msgs) > 0 {
			errs = append(errs, msgsToErrs(ip.Child("type"), l.Type, msgs)...)
		} else if !strings.Contains(string(l.Type), "/") && !oneOf(l.Type, limitTypes...) {
			errs = append(errs, field.Invalid(ip.Child("type"), l.Type, "must be a standard limit type or fully qualified"))
		}
		if seenTypes[l.Type] {
			errs = append(errs, field.Duplicate(ip.Child("type"), l.Type))
		}
		seenTypes[l.Type] = true

		nameFn := validateResourceName
		if l.Type == corev1.LimitTypePod || l.Type == corev1.LimitTypeContainer {
			nameFn = validateContainerResourceName
		}
		keys := map[corev1.ResourceName]bool{}
		lists := []struct {
			name string
			l    corev1.ResourceList
		}{{"max", l.Max}, {"min", l.Min}, {"default", l.Default}, {"defaultRequest", l.DefaultRequest}, {"maxLimitRequestRatio", l.MaxLimitRequestRatio}}
		for _, rl := range lists {
			if l.Type == corev1.LimitTypePod && (rl.name == "default" || rl.name == "defaultRequest") {
				if len(rl.l) > 0 {
					errs = append(errs, field.Forbidden(ip.Child(rl.name), "may not be specified when `type` is 'Pod'"))
				}
				continue
			}
			for _, n := range sortedResourceNames(rl.l) {
				errs = append(errs, nameFn(n, ip.Child(rl.name).Key(string(n)))...)
				keys[n] = true
			}
		}
		if l.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := l.Min[corev1.ResourceStorage]
			_, hasMax := l.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(ip.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		for _, n := range sortedResourceNames(boolsToResourceList(keys)) {
			errs = append(errs, validateLimitRangeItemValues(l, n, ip)...)
		}
	}
	return errs
}

func boolsToResourceList(m map[corev1.ResourceName]bool) corev1.ResourceList {
	l := corev1.ResourceList{}
	for n := range m {
		l[n] = l[n]
	}
	return l
}

// validateLimitRangeItemValues: min ≤ defaultRequest ≤ default ≤ max for one resource, and a
// limit/request ratio of at least 1.
func validateLimitRangeItemValues(l *corev1.LimitRangeItem, n corev1.ResourceName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	k := string(n)
	minQ, hasMin := l.Min[n]
	maxQ, hasMax := l.Max[n]
	def, hasDef := l.Default[n]
	defReq, hasDefReq := l.DefaultRequest[n]
	ratio, hasRatio := l.MaxLimitRequestRatio[n]
	if l.Type == corev1.LimitTypePod {
		hasDef, hasDefReq = false, false
	}
	if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("min").Key(k), minQ, fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
	}
	if hasDefReq && hasMin && minQ.Cmp(defReq) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), defReq.String())))
	}
	if hasDefReq && hasMax && defReq.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default request value %s is greater than max value %s", defReq.String(), maxQ.String())))
	}
	if hasDefReq && hasDef && defReq.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default request value %s is greater than default limit value %s", defReq.String(), def.String())))
	}
	if hasDef && hasMin && minQ.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(k), minQ, fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), def.String())))
	}
	if hasDef && hasMax && def.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(k), maxQ, fmt.Sprintf("default value %s is greater than max value %s", def.String(), maxQ.String())))
	}
	if hasRatio && ratio.CmpInt64(1) < 0 {
		errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	if hasRatio && hasMin && hasMax && minQ.Sign() > 0 {
		limit := float64(maxQ.MilliValue()) / float64(minQ.MilliValue())
		if r := float64(ratio.MilliValue()) / 1000; r > limit {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
		}
	}
	if !isOvercommitAllowed(n) && hasDef && hasDefReq && def.Cmp(defReq) != 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), defReq, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), defReq.String(), k)))
	}
	return errs
}
