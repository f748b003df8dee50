package apiserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/tugboat-io/tug/core/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allocator hands out ClusterIPs and NodePorts. Each allocated value is a side key in the store,
// claimed in the same transaction that writes the service and released in the one that deletes
// it, so allocation survives crashes and is shared by every API server on the same etcd.
type allocator struct {
	cidr     *net.IPNet
	base     uint32
	size     uint32
	portMin  int32
	portMax  int32
	rangeStr string
	portStr  string
}

const (
	ipKeyPrefix   = "/ranges/serviceips/"
	portKeyPrefix = "/ranges/servicenodeports/"
)

var serviceGK = schema.GroupKind{Kind: "Service"}

func newAllocator(cidr, ports string) (*allocator, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || n.IP.To4() == nil {
		return nil, fmt.Errorf("service cluster IP range %q: want an IPv4 CIDR", cidr)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("service cluster IP range %q: want a prefix between /8 and /30", cidr)
	}
	lo, hi, ok := strings.Cut(ports, "-")
	pmin, err1 := strconv.Atoi(lo)
	pmax, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || pmin < 1 || pmax > 65535 || pmin > pmax {
		return nil, fmt.Errorf("service node port range %q: want MIN-MAX", ports)
	}
	return &allocator{cidr: n, base: binary.BigEndian.Uint32(n.IP.To4()), size: 1 << (bits - ones),
		portMin: int32(pmin), portMax: int32(pmax), rangeStr: cidr, portStr: ports}, nil
}

// randomIP picks an address other than the network, the first host (kept for the kubernetes
// service, as kube-apiserver does) and the broadcast address.
func (a *allocator) randomIP() string {
	off := 2 + rand.Uint32N(a.size-3)
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, a.base+off)
	return b.String()
}

func (a *allocator) randomPort() int32 { return a.portMin + rand.Int32N(a.portMax-a.portMin+1) }

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func owner(svc *corev1.Service) []byte { return []byte(svc.Namespace + "/" + svc.Name) }

func (a *allocator) hooks() kindHooks {
	return kindHooks{
		beforeCreate: func(_ context.Context, obj runtime.Object, _ bool) ([]store.SideOp, error) {
			return a.allocate(obj.(*corev1.Service), nil)
		},
		beforeUpdate: func(_ context.Context, next, cur runtime.Object, _ bool) ([]store.SideOp, error) {
			return a.allocate(next.(*corev1.Service), cur.(*corev1.Service))
		},
		onDelete: func(obj runtime.Object) []store.SideOp {
			return a.release(obj.(*corev1.Service))
		},
		claimConflict: func(requested runtime.Object, key string) error {
			svc := requested.(*corev1.Service)
			if ip, ok := strings.CutPrefix(key, ipKeyPrefix); ok && svc.Spec.ClusterIP == ip {
				return apierrors.NewInvalid(serviceGK, svc.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), ip,
					fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))})
			}
			if p, ok := strings.CutPrefix(key, portKeyPrefix); ok {
				for i, sp := range svc.Spec.Ports {
					if strconv.Itoa(int(sp.NodePort)) == p {
						return apierrors.NewInvalid(serviceGK, svc.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort,
							"provided port is already allocated")})
					}
				}
			}
			return nil // a random pick collided: try another
		},
	}
}

// allocate fills svc's ClusterIP and NodePorts and returns the side keys to claim and release.
// cur is the stored service on update (nil on create): values it holds are kept unless svc
// asks for others.
func (a *allocator) allocate(svc, cur *corev1.Service) ([]store.SideOp, error) {
	var sides []store.SideOp
	var errs field.ErrorList
	ipPath := field.NewPath("spec", "clusterIPs").Index(0)

	if cur != nil && svc.Spec.ClusterIP == "" && needsClusterIP(cur) && needsClusterIP(svc) {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = cur.Spec.ClusterIP, cur.Spec.ClusterIPs
	}
	curIP := ""
	if cur != nil && needsClusterIP(cur) {
		curIP = cur.Spec.ClusterIP
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	case svc.Spec.ClusterIP == "":
		ip := a.randomIP()
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
	default:
		ip := net.ParseIP(svc.Spec.ClusterIP)
		if ip == nil || !a.cidr.Contains(ip) {
			errs = append(errs, field.Invalid(ipPath, svc.Spec.ClusterIP, fmt.Sprintf(
				"failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, a.rangeStr)))
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if curIP != "" && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != curIP && svc.Spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIP"), svc.Spec.ClusterIP, "field is immutable"))
	}
	if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		single := corev1.IPFamilyPolicySingleStack
		svc.Spec.IPFamilyPolicy = &single
		if svc.Spec.ClusterIP != curIP {
			sides = append(sides, store.Claim(ipKeyPrefix+svc.Spec.ClusterIP, owner(svc)))
		}
	}
	if curIP != "" && svc.Spec.ClusterIP != curIP {
		sides = append(sides, store.Release(ipKeyPrefix+curIP))
	}

	// NodePorts: keep the ones the stored service holds for the same port, claim new ones,
	// release the ones no longer used. A port number is one key whatever the protocol.
	held := map[int32]bool{}
	if cur != nil && needsNodePorts(cur) {
		for _, p := range cur.Spec.Ports {
			if p.NodePort != 0 {
				held[p.NodePort] = true
			}
		}
	}
	keep := map[int32]bool{}
	if needsNodePorts(svc) {
		// Ports the client named, and ports kept from the stored service, are settled first
		// so a random pick never lands on one of them.
		taken := map[int32]bool{}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 && cur != nil {
				for _, cp := range cur.Spec.Ports {
					if cp.Port == p.Port && cp.Protocol == p.Protocol && held[cp.NodePort] {
						p.NodePort = cp.NodePort
					}
				}
			}
			if p.NodePort != 0 {
				taken[p.NodePort] = true
			}
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 {
				for tries := 0; tries < 64; tries++ {
					p.NodePort = a.randomPort()
					if !taken[p.NodePort] && !held[p.NodePort] {
						break
					}
				}
				taken[p.NodePort] = true
			} else if p.NodePort < a.portMin || p.NodePort > a.portMax {
				errs = append(errs, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", a.portStr)))
				continue
			}
			if !keep[p.NodePort] && !held[p.NodePort] {
				sides = append(sides, store.Claim(portKeyPrefix+strconv.Itoa(int(p.NodePort)), owner(svc)))
			}
			keep[p.NodePort] = true
		}
	} else {
		for i := range svc.Spec.Ports {
			if svc.Spec.Ports[i].NodePort != 0 && cur == nil {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "ports").Index(i).Child("nodePort"),
					"may not be used when `type` is 'ClusterIP'"))
			}
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	for p := range held {
		if !keep[p] {
			sides = append(sides, store.Release(portKeyPrefix+strconv.Itoa(int(p))))
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(serviceGK, svc.Name, errs)
	}
	return sides, nil
}

func (a *allocator) release(svc *corev1.Service) []store.SideOp {
	var sides []store.SideOp
	if needsClusterIP(svc) && svc.Spec.ClusterIP != "" {
		sides = append(sides, store.Release(ipKeyPrefix+svc.Spec.ClusterIP))
	}
	seen := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !seen[p.NodePort] {
			seen[p.NodePort] = true
			sides = append(sides, store.Release(portKeyPrefix+strconv.Itoa(int(p.NodePort))))
		}
	}
	return sides
}
