package dns

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kptr "k8s.io/utils/ptr"
)

// ServiceNamespace and ServiceName name the Service pods use as their nameserver.
const (
	ServiceNamespace = "kube-system"
	ServiceName      = "kube-dns"
)

// PublishEndpoint records this node's DNS server, at addr, as an endpoint of kube-dns: an
// EndpointSlice named kube-dns-<node>, owned by the Node so that it goes when the Node is
// deleted. The Service's internalTrafficPolicy Local makes each node's proxy use its own
// server. It retries until it has written the slice (the Node may not be registered yet) or
// ctx ends, unless the API server refuses the slice as invalid (addr is a loopback address).
func PublishEndpoint(ctx context.Context, client kubernetes.Interface, node string, addr netip.AddrPort) error {
	for {
		err := publish(ctx, client, node, addr)
		if err == nil || ctx.Err() != nil || apierrors.IsInvalid(err) {
			return err // an invalid slice (a loopback address) stays invalid
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func publish(ctx context.Context, client kubernetes.Interface, node string, addr netip.AddrPort) error {
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("dns: node %s: %w", node, err)
	}
	port := int32(addr.Port())
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ServiceNamespace, Name: ServiceName + "-" + node,
			Labels:          map[string]string{discoveryv1.LabelServiceName: ServiceName, discoveryv1.LabelManagedBy: "node.tug.dev"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{addr.Addr().String()}, NodeName: kptr.To(node),
			Conditions: discoveryv1.EndpointConditions{Ready: kptr.To(true), Serving: kptr.To(true), Terminating: kptr.To(false)}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: kptr.To("dns"), Protocol: kptr.To(corev1.ProtocolUDP), Port: kptr.To(port)},
			{Name: kptr.To("dns-tcp"), Protocol: kptr.To(corev1.ProtocolTCP), Port: kptr.To(port)},
		},
	}
	slices := client.DiscoveryV1().EndpointSlices(ServiceNamespace)
	_, err = slices.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var cur *discoveryv1.EndpointSlice
		if cur, err = slices.Get(ctx, want.Name, metav1.GetOptions{}); err == nil {
			want.ResourceVersion = cur.ResourceVersion
			_, err = slices.Update(ctx, want, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("dns: publish endpoint %s: %w", addr, err)
	}
	return nil
}
