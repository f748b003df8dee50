package userspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/proxy"
)

var _ proxy.Dataplane = (*Proxier)(nil)

// Proxier is the userspace data plane: it listens on every address of every service port
// and copies each connection to an endpoint.
type Proxier struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	dialer net.Dialer
	ifc    iface
	relay  relay // copies the bytes of TCP connections

	mu        sync.Mutex // serializes Sync, Cleanup and Close, and guards the fields below
	closed    bool
	gen       *generation
	services  map[string]*service // by ServicePort.Key
	listeners map[lkey]listener
	noPerm    bool            // ClusterIPsAuto found it may not add addresses (logged once)
	warned    map[string]bool // service ports whose protocol was logged as unsupported
}

// service is one service port as it runs. It outlives Syncs that leave it unchanged, so
// that its listeners, and the connections they accepted, are kept.
type service struct {
	key string
	bal *balancer
}

// lkey names a listener: the same address and port may be listened on once per protocol.
type lkey struct {
	proto string
	addr  netip.AddrPort
}

func (k lkey) String() string { return k.proto + " " + k.addr.String() }

type listener interface {
	io.Closer
	key() lkey
	service() *service
}

// New returns a Proxier serving nothing until the first Sync.
func New(cfg Config) (*Proxier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "proxy", "mode", "userspace")
	p := &Proxier{
		cfg:       cfg,
		log:       log,
		m:         m,
		dialer:    net.Dialer{Timeout: cfg.DialTimeout},
		ifc:       iface{name: cfg.Interface, log: log},
		gen:       newGeneration(),
		services:  map[string]*service{},
		listeners: map[lkey]listener{},
		warned:    map[string]bool{},
	}
	if cfg.ClusterIPs == ClusterIPsOff {
		p.log.Info("cluster IPs are not served (ClusterIPs off): services are reachable through their NodePorts only")
	}
	return p, nil
}

// Sync makes s what runs. Service ports left unchanged keep their listeners and
// connections; changed endpoints apply to new connections at once, while connections
// already made to an endpoint that left go on until they end (TCP), as conntrack lets them,
// or are ended (UDP, whose flows never end by themselves). A listener that cannot be opened
// fails only its own service port: the error returned names each such one, the rest run,
// and the next Sync tries again.
func (p *Proxier) Sync(ctx context.Context, s proxy.State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error

	// Addresses first: a listener cannot bind a ClusterIP before it is local.
	wantIPs := map[netip.Addr]bool{}
	for i := range s.Services {
		if sp := &s.Services[i]; protoOf(sp.Protocol) != "" {
			for _, ip := range sp.ClusterIPs {
				wantIPs[ip.Unmap()] = true
			}
		}
	}
	addErr := p.addClusterIPs(wantIPs)
	if addErr != nil {
		errs = append(errs, addErr)
	}
	clusterIPs := p.clusterIPsServed()

	// What should listen where.
	type want struct {
		svc  string
		addr lkey
	}
	var wants []want
	owner := map[lkey]string{}
	wantSvc := map[string]*proxy.ServicePort{}
	for i := range s.Services {
		sp := &s.Services[i]
		key := sp.Key()
		proto := protoOf(sp.Protocol)
		if proto == "" {
			if !p.warned[key] {
				p.warned[key] = true
				p.log.Warn("protocol not supported in userspace mode, service port skipped", "service", key, "protocol", sp.Protocol)
			}
			continue
		}
		wantSvc[key] = sp
		for _, addr := range p.addrsOf(sp, clusterIPs) {
			k := lkey{proto: proto, addr: addr}
			if other, dup := owner[k]; dup {
				errs = append(errs, fmt.Errorf("%s: %s: %w (also %s)", key, k, ErrAddrConflict, other))
				continue
			}
			owner[k] = key
			wants = append(wants, want{svc: key, addr: k})
		}
	}

	// Endpoints of the service ports that stay or come, before any listener opens so that
	// none accepts a connection with no endpoints to give it.
	for key, sp := range wantSvc {
		svc := p.services[key]
		if svc == nil {
			svc = &service{key: key, bal: newBalancer()}
			p.services[key] = svc
		}
		svc.bal.set(sp.Endpoints, sp.Affinity)
	}
	for key := range p.services {
		if wantSvc[key] == nil {
			delete(p.services, key)
		}
	}

	// Close what is no longer wanted, or wanted by another service port, before opening,
	// so that a port that moves between service ports in one Sync is free when it is bound.
	for k, l := range p.listeners {
		if owner[k] != l.service().key {
			_ = l.Close()
			delete(p.listeners, k)
			continue
		}
		if u, ok := l.(*udpListener); ok {
			u.dropStale(u.svc.bal.endpoints())
		}
	}

	for _, w := range wants {
		if _, ok := p.listeners[w.addr]; ok {
			continue
		}
		l, err := p.listen(ctx, p.services[w.svc], w.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", w.svc, w.addr, err))
			continue
		}
		p.listeners[w.addr] = l
	}

	// Addresses last: their listeners are closed by now. (Not on an interface found to be
	// someone else's: that is reported already.)
	if clusterIPs && !errors.Is(addErr, ErrForeignInterface) {
		if err := p.ifc.prune(wantIPs); err != nil {
			errs = append(errs, fmt.Errorf("cluster IPs: %w", err))
		}
	}

	err := errors.Join(errs...)
	if err != nil {
		p.m.syncErrors.Inc()
		p.log.Warn("sync incomplete", "error", err)
	} else {
		p.log.Debug("synced", "servicePorts", len(p.services), "listeners", len(p.listeners))
	}
	return err
}

// addClusterIPs makes the cluster IPs local, unless that is off or known to be forbidden.
func (p *Proxier) addClusterIPs(want map[netip.Addr]bool) error {
	if !p.clusterIPsServed() {
		return nil
	}
	err := p.ifc.add(want)
	if err == nil {
		return nil
	}
	if p.cfg.ClusterIPs == ClusterIPsAuto && isPermission(err) {
		p.noPerm = true
		p.log.Warn("cannot add cluster IPs to an interface (needs CAP_NET_ADMIN): cluster IPs are unreachable in this mode, services are reachable through their NodePorts only",
			"interface", p.cfg.Interface, "error", err)
		return nil
	}
	return fmt.Errorf("cluster IPs: %w", err)
}

func (p *Proxier) clusterIPsServed() bool {
	return p.cfg.ClusterIPs != ClusterIPsOff && !p.noPerm
}

// addrsOf lists where sp listens: each ClusterIP on Port, and each node address (or all)
// on NodePort.
func (p *Proxier) addrsOf(sp *proxy.ServicePort, clusterIPs bool) []netip.AddrPort {
	var out []netip.AddrPort
	if clusterIPs && sp.Port != 0 {
		for _, ip := range sp.ClusterIPs {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), sp.Port))
		}
	}
	if sp.NodePort != 0 {
		if len(p.cfg.NodeIPs) == 0 {
			out = append(out, netip.AddrPortFrom(netip.IPv4Unspecified(), sp.NodePort))
		}
		for _, ip := range p.cfg.NodeIPs {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), sp.NodePort))
		}
	}
	return out
}

func (p *Proxier) listen(ctx context.Context, svc *service, k lkey) (listener, error) {
	if k.proto == protoUDP {
		return p.listenUDP(ctx, p.gen, svc, k.addr)
	}
	return p.listenTCP(ctx, p.gen, svc, k.addr)
}

func protoOf(p corev1.Protocol) string {
	switch p {
	case corev1.ProtocolTCP, "":
		return protoTCP
	case corev1.ProtocolUDP:
		return protoUDP
	}
	return ""
}

// Close stops serving: every listener, connection and session is closed. The ClusterIPs
// stay on their interface, so that a proxy restarting finds them in place and clients of
// the other data plane instances are not disturbed; Cleanup removes them.
func (p *Proxier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.stop()
	p.relay.close()
	return nil
}

// Cleanup closes every listener, connection and session and deletes the ClusterIPs'
// interface, also one left by an earlier process. Unless Close was called, a later Sync
// starts again from nothing.
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stop()
	if !p.closed {
		p.gen = newGeneration()
	}
	if p.cfg.ClusterIPs == ClusterIPsOff {
		return nil
	}
	if err := p.ifc.remove(); err != nil && !(p.cfg.ClusterIPs == ClusterIPsAuto && isPermission(err)) {
		return fmt.Errorf("userspace proxy: cleanup: %w", err)
	}
	return nil
}

// stop ends the current generation and forgets every service port.
func (p *Proxier) stop() {
	p.gen.close()
	clear(p.listeners)
	clear(p.services)
}
