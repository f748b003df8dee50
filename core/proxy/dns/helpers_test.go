package dns

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// exchangeTimeout bounds a test query so a server that never answers fails the test instead of
// hanging it; no test asserts how fast an answer comes.
const exchangeTimeout = 5 * time.Second

// fixture is a running server over indexers the test fills and changes.
type fixture struct {
	srv      *Server
	services cache.Indexer
	slices   cache.Indexer
	udp, tcp string
}

func newIndexer() cache.Indexer {
	return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

// start runs a server on 127.0.0.1:0 over objs (Services and EndpointSlices) until the test
// ends, and checks that it then stops cleanly. cfg.Upstreams defaults to an address nothing
// answers on, so that no test reaches a real resolver.
func start(t *testing.T, cfg Config, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{services: newIndexer(), slices: newIndexer()}
	for _, o := range objs {
		f.add(t, o)
	}
	cfg.Listen = []string{"127.0.0.1:0"}
	if cfg.Upstreams == nil {
		cfg.Upstreams = []string{silentUpstream(t)}
		cfg.ForwardTimeout = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := New(cfg, corelisters.NewServiceLister(f.services), discoverylisters.NewEndpointSliceLister(f.slices))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	})
	addrs := srv.Addrs()
	if len(addrs) != 2 || addrs[0].Network() != "udp" || addrs[1].Network() != "tcp" {
		t.Fatalf("Addrs = %v, want one UDP and one TCP address", addrs)
	}
	f.udp, f.tcp = addrs[0].String(), addrs[1].String()
	return f
}

func (f *fixture) add(t *testing.T, o runtime.Object) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *corev1.Service:
		err = f.services.Add(o)
	case *discoveryv1.EndpointSlice:
		err = f.slices.Add(o)
	default:
		t.Fatalf("unexpected object %T", o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// addr is the server's address for network.
func (f *fixture) addr(network string) string {
	if network == "tcp" {
		return f.tcp
	}
	return f.udp
}

// ask sends m over network to addr and returns the reply.
func ask(t *testing.T, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: exchangeTimeout}
	r, _, err := c.Exchange(m, addr)
	// A datagram can be lost (a socket buffer full of the bad-input test's flood on a busy
	// machine); a resolver asks again, as resolv.conf's attempts do.
	for try := 1; err != nil && network == "udp" && try < 3; try++ {
		r, _, err = c.Exchange(m, addr)
	}
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

// query asks the fixture's server one question over network.
func (f *fixture) query(t *testing.T, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return ask(t, network, f.addr(network), m)
}

// rrs renders records as their zone-file lines, sorted, for comparison with want.
func rrs(list []dns.RR) []string {
	var out []string
	for _, rr := range list {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// lines parses zone-file lines and renders them as rrs does.
func lines(t *testing.T, zoneLines ...string) []string {
	t.Helper()
	var list []dns.RR
	for _, l := range zoneLines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("bad test record %q: %v", l, err)
		}
		list = append(list, rr)
	}
	return rrs(list)
}

// silentUpstream is a UDP and TCP address that reads queries and never answers.
func silentUpstream(t *testing.T) string {
	t.Helper()
	pc, ln := testListen(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); _ = ln.Close(); wg.Wait() })
	return pc.LocalAddr().String()
}

// Object builders.

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: ports},
	}
}

func svcPort(name string, proto corev1.Protocol, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: port}
}

func externalName(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

type ep struct {
	ip       string
	hostname string
	ready    *bool // nil: the condition is unknown, which counts as ready
}

func slice(ns, name, svc string, family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: family,
		Ports:       ports,
	}
	for _, e := range eps {
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.hostname != "" {
			d.Hostname = &e.hostname
		}
		sl.Endpoints = append(sl.Endpoints, d)
	}
	return sl
}

func slicePort(name string, proto corev1.Protocol, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port}
}

func ptr[T any](v T) *T { return &v }

func newServiceLister() corelisters.ServiceLister { return corelisters.NewServiceLister(newIndexer()) }

func newSliceLister() discoverylisters.EndpointSliceLister {
	return discoverylisters.NewEndpointSliceLister(newIndexer())
}

// testListen binds UDP and TCP on one port of 127.0.0.1, as the server does.
func testListen(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	pc, ln, err := listenPair(t.Context(), &net.ListenConfig{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pc, ln
}
