package api

import (
	"fmt"
	"net"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// --- endpointslices ---

const (
	maxEndpointSliceEndpoints = 1000
	maxEndpointAddresses      = 100
	maxEndpointSlicePorts     = 20000
)

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateMeta(&es.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	atPath := field.NewPath("addressType")
	if es.AddressType == "" {
		errs = append(errs, field.Required(atPath, ""))
	} else if !oneOf(es.AddressType, addressTypes...) {
		errs = append(errs, field.NotSupported(atPath, es.AddressType, addressTypes))
	}
	ep := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(es.Endpoints), maxEndpointSliceEndpoints))
	} else {
		for i := range es.Endpoints {
			errs = append(errs, validateSliceEndpoint(&es.Endpoints[i], es.AddressType, ep.Index(i))...)
		}
	}
	pp := field.NewPath("ports")
	if len(es.Ports) > maxEndpointSlicePorts {
		return append(errs, field.TooMany(pp, len(es.Ports), maxEndpointSlicePorts))
	}
	names := map[string]bool{}
	for i, port := range es.Ports {
		ip := pp.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, ip.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(ip.Child("name"), name))
		}
		names[name] = true
		if port.Port != nil {
			errs = append(errs, validatePortNum(*port.Port, ip.Child("port"))...)
		}
		if port.Protocol != nil {
			errs = append(errs, validateProtocol(*port.Protocol, ip.Child("protocol"))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, ip.Child("appProtocol"))...)
		}
	}
	return errs
}

func validateSliceEndpoint(e *discoveryv1.Endpoint, addrType discoveryv1.AddressType, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	ap := p.Child("addresses")
	if len(e.Addresses) == 0 {
		errs = append(errs, field.Required(ap, "must contain at least 1 address"))
	} else if len(e.Addresses) > maxEndpointAddresses {
		errs = append(errs, field.TooMany(ap, len(e.Addresses), maxEndpointAddresses))
	}
	for i, a := range e.Addresses {
		ip := ap.Index(i)
		switch addrType {
		case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
			if e := validation.IsValidIP(ip, a); len(e) > 0 {
				errs = append(errs, e...)
				continue
			}
			if v4 := net.ParseIP(a).To4() != nil; v4 != (addrType == discoveryv1.AddressTypeIPv4) {
				errs = append(errs, field.Invalid(ip, a, fmt.Sprintf("must be a valid %s address", addrType)))
				continue
			}
			if e.NodeName == nil || !IsNodeLocalPodIP(a) {
				errs = append(errs, validateNonSpecialIP(a, ip)...)
			}
		case discoveryv1.AddressTypeFQDN:
			errs = append(errs, validation.IsFullyQualifiedDomainName(ip, a)...)
		}
	}
	if e.NodeName != nil {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, *e.NodeName, p.Child("nodeName"))...)
	}
	if e.Hostname != nil {
		errs = append(errs, dns1123Label(*e.Hostname, p.Child("hostname"))...)
	}
	return errs
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	return append(validateEndpointSlice(es), immutable(es.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

// --- leases ---

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := validateMeta(&l.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if h := l.Spec.HolderIdentity; h != nil && len(*h) > 0 && l.Spec.Strategy != nil {
		strategies := []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}
		if !oneOf(*l.Spec.Strategy, strategies...) {
			errs = append(errs, field.NotSupported(specPath.Child("strategy"), *l.Spec.Strategy, strategies))
		}
	}
	return errs
}

// --- ingresses ---

var pathTypes = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	errs := validateMeta(&ing.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	s, p := &ing.Spec, specPath
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(s.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, r := range s.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			errs = append(errs, validateIngressHost(r.Host, rp.Child("host"), true)...)
		}
		if r.HTTP == nil {
			continue
		}
		hp := rp.Child("http")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(hp.Child("paths"), ""))
		}
		for j := range r.HTTP.Paths {
			errs = append(errs, validateIngressPath(&r.HTTP.Paths[j], hp.Child("paths").Index(j))...)
		}
	}
	for i, t := range s.TLS {
		for j, h := range t.Hosts {
			errs = append(errs, validateIngressHost(h, p.Child("tls").Index(i).Child("hosts").Index(j), false)...)
		}
	}
	if c := s.IngressClassName; c != nil {
		errs = append(errs, nameIs(apivalidation.NameIsDNSSubdomain, *c, p.Child("ingressClassName"))...)
	}
	return errs
}

// validateIngressHost: a DNS name, possibly a wildcard "*.example.com"; never an IP.
func validateIngressHost(h string, p *field.Path, rejectIP bool) field.ErrorList {
	var errs field.ErrorList
	if rejectIP && net.ParseIP(h) != nil {
		errs = append(errs, field.Invalid(p, h, "must be a DNS name, not an IP address"))
	}
	if strings.Contains(h, "*") {
		return append(errs, msgsToErrs(p, h, validation.IsWildcardDNS1123Subdomain(h))...)
	}
	return append(errs, msgsToErrs(p, h, validation.IsDNS1123Subdomain(h))...)
}

var invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
var invalidPathSuffixes = []string{"/..", "/."}

func validateIngressPath(hp *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if hp.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pp := p.Child("path")
	switch *hp.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(pp, hp.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(hp.Path, seq) {
				errs = append(errs, field.Invalid(pp, hp.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suf := range invalidPathSuffixes {
			if strings.HasSuffix(hp.Path, suf) {
				errs = append(errs, field.Invalid(pp, hp.Path, fmt.Sprintf("cannot end with '%s'", suf)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, field.Invalid(pp, hp.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *hp.PathType, pathTypes))
	}
	return append(errs, validateIngressBackend(&hp.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		var errs field.ErrorList
		rp := p.Child("resource")
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), ""))
		}
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(rp.Child("kind"), ""))
		}
		if g := b.Resource.APIGroup; g != nil && *g != "" {
			errs = append(errs, dns1123Subdomain(*g, rp.Child("apiGroup"))...)
		}
		return errs
	case b.Service != nil:
		var errs field.ErrorList
		sp := p.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			errs = append(errs, nameIs(apivalidation.NameIsDNS1035Label, b.Service.Name, sp.Child("name"))...)
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case port.Name != "":
			errs = append(errs, msgsToErrs(sp.Child("port", "name"), port.Name, validation.IsValidPortName(port.Name))...)
		case port.Number != 0:
			errs = append(errs, validatePortNum(port.Number, sp.Child("port", "number"))...)
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
		return errs
	}
	return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
}

// --- runtimeclasses ---

// validateRuntimeClass checks the handler, which names a runtime on the nodes: a DNS label,
// required, and fixed once set (as in Kubernetes).
func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	errs := validateMeta(&rc.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	p := field.NewPath("handler")
	if rc.Handler == "" {
		return append(errs, field.Required(p, ""))
	}
	for _, msg := range validation.IsDNS1123Label(rc.Handler) {
		errs = append(errs, field.Invalid(p, rc.Handler, msg))
	}
	return errs
}

func validateRuntimeClassUpdate(rc, old *nodev1.RuntimeClass) field.ErrorList {
	return append(validateRuntimeClass(rc), immutable(rc.Handler, old.Handler, field.NewPath("handler"))...)
}
