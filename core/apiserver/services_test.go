package apiserver

import (
	"strings"
	"testing"

	"github.com/tugboat-io/tug/core/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func svc(typ corev1.ServiceType, ip string, nodePorts ...int32) *corev1.Service {
	s := &corev1.Service{}
	s.Name, s.Namespace = "s", "default"
	s.Spec.Type, s.Spec.ClusterIP = typ, ip
	for i, np := range nodePorts {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: int32(80 + i), Protocol: corev1.ProtocolTCP, NodePort: np})
	}
	if len(nodePorts) == 0 {
		s.Spec.Ports = []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}
	}
	return s
}

func claims(sides []store.SideOp) (claimed, released []string) {
	for _, s := range sides {
		if s.Claim {
			claimed = append(claimed, s.Key)
		} else {
			released = append(released, s.Key)
		}
	}
	return
}

func TestAllocate(t *testing.T) {
	a, err := newAllocator("10.96.0.0/24", "30000-30010")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("RandomClusterIPInRange", func(t *testing.T) {
		s := svc(corev1.ServiceTypeClusterIP, "")
		sides, err := a.allocate(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, r := claims(sides)
		if len(c) != 1 || len(r) != 0 || !strings.HasPrefix(s.Spec.ClusterIP, "10.96.0.") || c[0] != ipKeyPrefix+s.Spec.ClusterIP {
			t.Fatalf("ip %q claims %v releases %v", s.Spec.ClusterIP, c, r)
		}
		if s.Spec.ClusterIP == "10.96.0.0" || s.Spec.ClusterIP == "10.96.0.1" || s.Spec.ClusterIP == "10.96.0.255" {
			t.Fatalf("allocated reserved address %s", s.Spec.ClusterIP)
		}
	})
	t.Run("HeadlessClaimsNothing", func(t *testing.T) {
		s := svc(corev1.ServiceTypeClusterIP, "None")
		sides, err := a.allocate(s, nil)
		if err != nil || len(sides) != 0 || s.Spec.ClusterIPs[0] != "None" {
			t.Fatalf("sides %v err %v ips %v", sides, err, s.Spec.ClusterIPs)
		}
	})
	t.Run("OutOfRangeIPInvalid", func(t *testing.T) {
		_, err := a.allocate(svc(corev1.ServiceTypeClusterIP, "10.1.0.5"), nil)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.clusterIPs[0]") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("NodePortsClaimed", func(t *testing.T) {
		s := svc(corev1.ServiceTypeNodePort, "", 0, 30005)
		sides, err := a.allocate(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := claims(sides)
		if len(c) != 3 || s.Spec.Ports[1].NodePort != 30005 || s.Spec.Ports[0].NodePort < 30000 || s.Spec.Ports[0].NodePort > 30010 {
			t.Fatalf("claims %v ports %+v", c, s.Spec.Ports)
		}
	})
	t.Run("NodePortOutOfRange", func(t *testing.T) {
		_, err := a.allocate(svc(corev1.ServiceTypeNodePort, "", 40000), nil)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ports[0].nodePort") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("UpdateKeepsAndReleases", func(t *testing.T) {
		cur := svc(corev1.ServiceTypeNodePort, "10.96.0.7", 30001)
		next := svc(corev1.ServiceTypeClusterIP, "")
		sides, err := a.allocate(next, cur)
		if err != nil {
			t.Fatal(err)
		}
		c, r := claims(sides)
		if next.Spec.ClusterIP != "10.96.0.7" || len(c) != 0 || len(r) != 1 || r[0] != portKeyPrefix+"30001" {
			t.Fatalf("ip %s claims %v releases %v", next.Spec.ClusterIP, c, r)
		}
	})
	t.Run("ClusterIPImmutable", func(t *testing.T) {
		_, err := a.allocate(svc(corev1.ServiceTypeClusterIP, "10.96.0.8"), svc(corev1.ServiceTypeClusterIP, "10.96.0.7"))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("DeleteReleasesAll", func(t *testing.T) {
		_, r := claims(a.release(svc(corev1.ServiceTypeNodePort, "10.96.0.7", 30001, 30002)))
		if len(r) != 3 {
			t.Fatalf("releases %v", r)
		}
	})
}

// Every cluster has kube-system/kube-dns at the tenth address of the service range, with no
// selector: nodes publish their own DNS endpoints, used node-locally.
func TestClusterDNSService(t *testing.T) {
	s := newTestServer(t)
	r := s.must(s.do("GET", "/api/v1/namespaces/kube-system/services/kube-dns", "", ""), 200)
	if ip := r.str("spec", "clusterIP"); ip != "10.96.0.10" {
		t.Errorf("kube-dns clusterIP = %q, want 10.96.0.10", ip)
	}
	if p := r.str("spec", "internalTrafficPolicy"); p != "Local" {
		t.Errorf("internalTrafficPolicy = %q, want Local", p)
	}
	if _, ok := r.body["spec"].(map[string]any)["selector"]; ok {
		t.Errorf("kube-dns has a selector: %s", r.raw)
	}
	// Its address is taken: another Service cannot have it.
	other := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"clusterIP":"10.96.0.10","ports":[{"port":80}]}}`
	s.must(s.do("POST", "/api/v1/namespaces/default/services", js, other), 422)
}
