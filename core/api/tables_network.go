package api

import (
	"fmt"
	"strconv"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

var leaseTable = printer(columns(
	nameColumn(),
	column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
	ageColumn(),
), func(l *coordinationv1.Lease) []any {
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []any{l.Name, holder, translateAge(l.CreationTimestamp)}
})

var endpointSliceTable = printer(columns(
	nameColumn(),
	column("AddressType", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]),
	column("Ports", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]),
	column("Endpoints", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
	ageColumn(),
), func(s *discoveryv1.EndpointSlice) []any {
	return []any{
		s.Name, string(s.AddressType), formatDiscoveryPorts(s.Ports), formatDiscoveryEndpoints(s.Endpoints),
		translateAge(s.CreationTimestamp),
	}
})

// formatDiscoveryPorts lists up to three port numbers ("*" for none, the name when only
// that is set).
func formatDiscoveryPorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	const max = 3
	more := false
	count := 0
	for _, p := range ports {
		if len(list) < max {
			num := "*"
			if p.Port != nil {
				num = strconv.Itoa(int(*p.Port))
			} else if p.Name != nil {
				num = *p.Name
			}
			list = append(list, num)
		} else if len(list) == max {
			more = true
		}
		count++
	}
	return listWithMore(list, more, count, max)
}

// formatDiscoveryEndpoints lists up to three addresses over all endpoints.
func formatDiscoveryEndpoints(endpoints []discoveryv1.Endpoint) string {
	var list []string
	const max = 3
	more := false
	count := 0
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			if len(list) < max {
				list = append(list, a)
			} else if len(list) == max {
				more = true
			}
			count++
		}
	}
	return listWithMore(list, more, count, max)
}

var ingressTable = printer(columns(
	nameColumn(),
	column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
	column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
	column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
	column("Ports", "string", "Ports of TLS configurations that open"),
	ageColumn(),
), func(ing *networkingv1.Ingress) []any {
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	ports := "80"
	if len(ing.Spec.TLS) != 0 {
		ports = "80, 443"
	}
	return []any{
		ing.Name, class, formatIngressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer.Ingress),
		ports, translateAge(ing.CreationTimestamp),
	}
})

// formatIngressHosts lists up to three rule hosts, "*" when no rule names one. Like the real
// printer it counts the rules, hostless ones included, it left off.
func formatIngressHosts(rules []networkingv1.IngressRule) string {
	var list []string
	const max = 3
	more := false
	for _, r := range rules {
		if len(list) == max {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, len(rules)-max)
	}
	return ret
}

// ingressAddress lists the sorted, distinct IPs (or else hostnames) of the load balancer,
// unclipped as in wide output.
func ingressAddress(ingress []networkingv1.IngressLoadBalancerIngress) string {
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

var runtimeClassTable = printer(columns(
	nameColumn(),
	column("Handler", "string", nodev1.RuntimeClass{}.SwaggerDoc()["handler"]),
	ageColumn(),
), func(rc *nodev1.RuntimeClass) []any {
	return []any{rc.Name, rc.Handler, translateAge(rc.CreationTimestamp)}
})
