// Command proxyupdate measures how long an endpoint change takes to reach the kernel through
// the service proxy: from the EndpointSlice write until the nftables data plane's sync that
// drops the endpoint has returned (the kernel has the new table), with 1000 Services of 10
// endpoints each programmed. The goal (issue 8): within 1 s.
//
// The proxy runs as it does in a node (core/proxy: informers, BuildState, the nftables data
// plane) against an in-process fake API (client-go's fake clientset), so the API server's and
// etcd's part of the path — a watch event's delivery, a few milliseconds — is not counted.
// Needs root (nftables); it programs a table of its own and deletes it at the end.
//
//	go run ./bench/proxyupdate -services 1000 -endpoints 10 -changes 20
package main

import (
	"github.com/tugboat-io/tug/bench/internal/benchenv"

	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/core/proxy/nftables"
)

func main() {
	services := flag.Int("services", 1000, "Services")
	endpoints := flag.Int("endpoints", 10, "endpoints per Service")
	changes := flag.Int("changes", 20, "endpoint changes measured, one at a time")
	flag.Parse()
	if err := run(*services, *endpoints, *changes); err != nil {
		fmt.Fprintln(os.Stderr, "proxyupdate:", err)
		os.Exit(1)
	}
}

// recorder is the data plane, noting when each sync returned and what it programmed.
type recorder struct {
	proxy.Dataplane
	synced chan syncDone
}

type syncDone struct {
	at    time.Time
	state proxy.State
}

func (r *recorder) Sync(ctx context.Context, s proxy.State) error {
	err := r.Dataplane.Sync(ctx, s)
	if err == nil {
		r.synced <- syncDone{time.Now(), s}
	}
	return err
}

func run(nSvc, nEp, nChanges int) error {
	dp, err := nftables.New(nftables.Config{Table: "tug-proxy-bench-update", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("needs root and nftables: %w", err)
	}
	defer dp.Cleanup(context.Background())

	var objs []k8sruntime.Object
	for i := range nSvc {
		name := fmt.Sprintf("svc-%04d", i)
		objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: addr(10, 240, i).String(),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
		objs = append(objs, slice(name, i, nEp, -1))
	}
	client := fake.NewSimpleClientset(objs...)
	rec := &recorder{Dataplane: dp, synced: make(chan syncDone, 64)}
	p, err := proxy.New(proxy.Config{Client: client, NodeName: "bench", Dataplane: rec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Run(ctx) }()

	start := time.Now()
	first := <-rec.synced
	fmt.Printf("first sync: %d service ports, %v after start (informers' initial list included)\n", len(first.state.Services), first.at.Sub(start).Round(time.Millisecond))

	var lat []time.Duration
	for c := range nChanges {
		i := (c * 37) % nSvc
		name := fmt.Sprintf("svc-%04d", i)
		drop := c % nEp
		gone := netip.AddrPortFrom(addr(10, 241, i*nEp+drop), 8080)
		t0 := time.Now()
		if _, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, slice(name, i, nEp, drop), metav1.UpdateOptions{}); err != nil {
			return err
		}
		for {
			d := <-rec.synced
			if !holds(d.state, name, gone) {
				lat = append(lat, d.at.Sub(t0))
				break
			}
		}
		// Put it back, and wait for that too, so the next change starts from a quiet proxy.
		if _, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, slice(name, i, nEp, -1), metav1.UpdateOptions{}); err != nil {
			return err
		}
		for d := range rec.synced {
			if holds(d.state, name, gone) {
				break
			}
		}
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(time.Millisecond)
	}
	fmt.Printf("\n| services × endpoints | changes | change → programmed p50 | p90 | max |\n| --- | --- | --- | --- | --- |\n")
	fmt.Printf("| %d × %d | %d | %v | %v | %v |\n", nSvc, nEp, len(lat), pct(0.5), pct(0.9), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Printf("\nMachine: %s\ntug: %s\n", benchenv.Machine(""), benchenv.Commit())
	fmt.Printf("Rerun: go run ./bench/proxyupdate -services %d -endpoints %d -changes %d\n", nSvc, nEp, nChanges)
	return nil
}

// holds says whether the state still sends the Service's traffic to ep.
func holds(s proxy.State, svc string, ep netip.AddrPort) bool {
	for _, sp := range s.Services {
		if sp.Service.Name != svc {
			continue
		}
		for _, e := range sp.Endpoints {
			if e.IP == ep.Addr() && e.Port == ep.Port() {
				return true
			}
		}
	}
	return false
}

// slice is Service i's EndpointSlice with n ready endpoints, endpoint notReady (if ≥ 0) not ready.
func slice(svc string, i, n, notReady int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}}
	for e := range n {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr(10, 241, i*n+e).String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e != notReady)}})
	}
	return s
}

// addr is a.b.0.0 plus n.
func addr(a, b byte, n int) netip.Addr {
	return netip.AddrFrom4([4]byte{a, b, byte(n >> 8), byte(n)})
}
