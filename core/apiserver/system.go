package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ClusterDNSService is the Service whose cluster IP pods use as their nameserver, named as
// kube-dns's is in every Kubernetes distribution so that tools looking for it find it.
const (
	ClusterDNSNamespace = "kube-system"
	ClusterDNSName      = "kube-dns"
)

// ensureClusterDNSService creates kube-system/kube-dns when it is missing: the tenth address
// of the service range (as kubeadm gives it), UDP and TCP port 53, no selector. Every node
// serves DNS itself and publishes its own endpoint in an EndpointSlice of this Service;
// internalTrafficPolicy Local makes each node's proxy send queries to its own server.
func (s *Server) ensureClusterDNSService(ctx context.Context) error {
	k, _ := s.registry.LookupKind(gvkService)
	r, err := s.resourceFor(ctx, k)
	if err != nil {
		return err
	}
	if _, _, err := r.get(ctx, ClusterDNSNamespace, ClusterDNSName); err == nil {
		return nil
	}
	local := corev1.ServiceInternalTrafficPolicyLocal
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ClusterDNSNamespace, Name: ClusterDNSName,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "tug-dns", "kubernetes.io/cluster-service": "true"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: s.alloc.nthIP(10), InternalTrafficPolicy: &local,
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	opts := writeOptions{user: &UserInfo{Name: "system:apiserver"}}
	_, err = r.create(ctx, svc, ClusterDNSNamespace, opts)
	if apierrors.IsInvalid(err) {
		// The address is some other Service's (a cluster from before this existed): any will do.
		svc.Spec.ClusterIP = ""
		_, err = r.create(ctx, svc, ClusterDNSNamespace, opts)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("apiserver: creating service %s/%s: %w", ClusterDNSNamespace, ClusterDNSName, err)
	}
	return nil
}

// nthIP is the address n past the start of the service range.
func (a *allocator) nthIP(n uint32) string {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, a.base+n)
	return b.String()
}
