package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

const (
	// ednsSize is the UDP payload size the server advertises and asks upstreams for when it
	// makes a query itself: the DNS flag day 2020 value, which avoids IP fragmentation.
	ednsSize = 1232
	// maxQuerySize is the read buffer for UDP queries; a query is far smaller.
	maxQuerySize = 4096
	// maxChase bounds the CNAMEs followed for one answer (ExternalName Services naming each
	// other in a loop).
	maxChase = 8
	// shutdownGrace is how long Run waits for queries in flight when ctx ends.
	shutdownGrace = 5 * time.Second
)

// Server is the cluster DNS server of one node.
type Server struct {
	cfg     Config
	log     *slog.Logger
	zone    *zone
	fwd     *forwarder
	metrics *metrics

	running atomic.Bool
	runCtx  context.Context // Run's, set before any query is served: forwarding ends with it
	ready   chan struct{}
	mu      sync.Mutex
	addrs   []net.Addr
	warned  atomic.Int64 // unix nanoseconds of the last forwarding failure logged
}

// New builds a server answering for cfg.Domain from the given listers, which the caller's
// informers fill. It reads the resolv.conf if it must, and binds nothing until Run.
func New(cfg Config, services corelisters.ServiceLister, slices discoverylisters.EndpointSliceLister) (*Server, error) {
	if services == nil || slices == nil {
		return nil, errors.New("dns: a Service and an EndpointSlice lister are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "dns"),
		zone:    newZone(cfg.Domain, cfg.TTL, services, slices),
		fwd:     &forwarder{upstreams: cfg.Upstreams, timeout: cfg.ForwardTimeout, metrics: m},
		metrics: m,
		ready:   make(chan struct{}),
	}, nil
}

// errStopped stands for the error of a server that stopped by itself without one.
var errStopped = errors.New("stopped unexpectedly")

// Ready is closed once Run serves on every address; never if Run fails to start.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs are the bound addresses once Ready is closed, for each listen address its UDP one
// then its TCP one (they share the port); nil before.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// listener is one dns.Server (one socket) run by Run.
type listener struct {
	srv     *dns.Server
	close   func() error // the socket, in case the server never took it over
	started chan struct{}
	done    chan struct{}
	err     error // ActivateAndServe's result, set before done is closed
}

// Run binds UDP and TCP on every listen address and serves until ctx ends, then waits up
// to 5 s for queries in flight. An address that cannot be bound fails Run at once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	s.runCtx = ctx
	ls, addrs, err := s.listen(ctx)
	if err != nil {
		return err
	}
	exited := make(chan *listener, len(ls))
	for _, l := range ls {
		l.srv.NotifyStartedFunc = func() { close(l.started) }
		go func() {
			l.err = l.srv.ActivateAndServe()
			close(l.done)
			exited <- l
		}()
	}
	var failed error
	for _, l := range ls {
		select {
		case <-l.started:
		case <-l.done:
			failed = fmt.Errorf("dns: serve %s: %w", l.srv.Net, cmp.Or(l.err, errStopped))
		}
	}
	if failed == nil {
		s.mu.Lock()
		s.addrs = addrs
		s.mu.Unlock()
		close(s.ready)
		s.log.Info("serving", "addrs", fmt.Sprint(addrs), "domain", s.cfg.Domain, "upstreams", s.cfg.Upstreams)
		select {
		case <-ctx.Done():
		case l := <-exited:
			// A server stops only when shut down; anything else is its socket failing.
			failed = fmt.Errorf("dns: serve %s: %w", l.srv.Net, cmp.Or(l.err, errStopped))
		}
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	for _, l := range ls {
		select {
		case <-l.started:
			_ = l.srv.ShutdownContext(shut) // errors mean it had stopped already
		default:
		}
		<-l.done
		_ = l.close()
	}
	return failed
}

// listen binds every address, UDP first and then TCP on the port UDP got, so that port 0
// still gives one port for both. On error nothing stays bound.
func (s *Server) listen(ctx context.Context) ([]*listener, []net.Addr, error) {
	var (
		lc    net.ListenConfig
		ls    []*listener
		addrs []net.Addr
	)
	fail := func(err error) ([]*listener, []net.Addr, error) {
		for _, l := range ls {
			_ = l.close()
		}
		return nil, nil, err
	}
	handler := dns.HandlerFunc(s.serveDNS)
	for _, addr := range s.cfg.Listen {
		pc, ln, err := listenPair(ctx, &lc, addr)
		if err != nil {
			return fail(err)
		}
		ls = append(ls, &listener{
			srv:     &dns.Server{PacketConn: pc, Net: "udp", Handler: handler, MsgAcceptFunc: accept, UDPSize: maxQuerySize},
			close:   pc.Close,
			started: make(chan struct{}),
			done:    make(chan struct{}),
		}, &listener{
			srv:     &dns.Server{Listener: ln, Net: "tcp", Handler: handler, MsgAcceptFunc: accept},
			close:   ln.Close,
			started: make(chan struct{}),
			done:    make(chan struct{}),
		})
		addrs = append(addrs, pc.LocalAddr(), ln.Addr())
	}
	return ls, addrs, nil
}

// listenPair binds UDP on addr and TCP on the same address and port. With port 0 the kernel
// picks a UDP port that may be taken for TCP (by a connection's local end), so another pick
// is tried.
func listenPair(ctx context.Context, lc *net.ListenConfig, addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen %s: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		_, got, _ := net.SplitHostPort(pc.LocalAddr().String())
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, got))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || attempt == 20 {
			return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
}

// accept screens a message by its header before it is parsed. Responses are dropped (answering
// them could loop between two servers); opcodes other than QUERY get NOTIMP, as NOTIFY and
// UPDATE mean nothing here; the rest is miekg/dns's screen, which answers FORMERR to anything
// but exactly one question.
func accept(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	return dns.DefaultMsgAcceptFunc(dh)
}

// serveDNS answers one query that passed accept.
func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	defer func() {
		// One bad query must not take the node's DNS down with it.
		if p := recover(); p != nil {
			s.log.Error("panic answering a query", "panic", p, "stack", string(debug.Stack()))
			_ = w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeServerFailure))
		}
	}()
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	resp, zone := s.answer(req, network)
	s.metrics.observe(zone, req.Question[0].Qtype, resp.Rcode)

	// Fit the answer to what the asker can take: its EDNS0 buffer over UDP (512 bytes without
	// one), 64 KiB over TCP. Truncate sets TC when records had to go.
	size := dns.MaxMsgSize
	if network == "udp" {
		size = dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(dns.MinMsgSize, int(opt.UDPSize()))
		}
	}
	resp.Truncate(size)
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("writing an answer", "name", req.Question[0].Name, "err", err)
	}
}

// answer builds the response to req, which has one question, and names the zone label.
func (s *Server) answer(req *dns.Msg, network string) (*dns.Msg, string) {
	q := req.Question[0]
	opt := req.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		m := new(dns.Msg).SetRcode(req, dns.RcodeBadVers)
		m.SetEdns0(ednsSize, opt.Do())
		return m, zoneNone
	}
	name := dns.CanonicalName(q.Name)
	var m *dns.Msg
	zone := zoneCluster
	switch {
	case dns.IsSubDomain(s.zone.origin, name):
		m = s.clusterAnswer(req)
	case q.Qtype == dns.TypePTR && q.Qclass == dns.ClassINET:
		if r, ok := s.zone.ptr(q); ok && s.synced() {
			m = s.reply(req, r)
			break
		}
		m, zone = s.forward(req, network), zoneForward
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// A transfer is a stream of messages, which forwarding one reply would break.
		m, zone = new(dns.Msg).SetRcode(req, dns.RcodeRefused), zoneNone
	default:
		m, zone = s.forward(req, network), zoneForward
	}
	if opt != nil && m.IsEdns0() == nil {
		// RFC 6891 6.1.1: an OPT in the query asks for one in the response.
		m.SetEdns0(ednsSize, opt.Do())
	}
	return m, zone
}

// clusterAnswer answers a question in the zone.
func (s *Server) clusterAnswer(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	switch {
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		return new(dns.Msg).SetRcode(req, dns.RcodeRefused)
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		return new(dns.Msg).SetRcode(req, dns.RcodeRefused)
	case !s.synced():
		// Caches still filling: a denial now would be cached by the asker for a name that
		// exists; SERVFAIL makes it ask again.
		return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	}
	r := s.zone.lookup(q)
	// Follow an ExternalName's CNAME so that the answer holds the addresses too: stub
	// resolvers (glibc, musl) do not ask again for the target themselves.
	for i := 0; r.chase != "" && i < maxChase; i++ {
		target := dns.Question{Name: r.chase, Qtype: q.Qtype, Qclass: dns.ClassINET}
		r.chase = ""
		if dns.IsSubDomain(s.zone.origin, target.Name) {
			next := s.zone.lookup(target)
			// RFC 6604: the response code is that of the last name in the chain.
			r.rcode, r.ns = next.rcode, next.ns
			r.answer = append(r.answer, next.answer...)
			r.extra = append(r.extra, next.extra...)
			r.chase = next.chase
			continue
		}
		up := new(dns.Msg)
		up.SetQuestion(target.Name, target.Qtype)
		up.SetEdns0(ednsSize, false)
		ctx, cancel := context.WithCancel(s.runCtx)
		resp, err := s.fwd.exchange(ctx, up, "udp")
		cancel()
		if err != nil {
			s.warnForward(target, err)
			break // the CNAME alone still answers; the asker may follow it
		}
		r.answer = append(r.answer, resp.Answer...)
	}
	m := s.reply(req, r)
	if len(m.Answer) > 1 && m.Answer[0].Header().Rrtype != dns.TypeCNAME {
		// Spread clients over the addresses of a headless Service: many take the first.
		rand.Shuffle(len(m.Answer), func(i, j int) { m.Answer[i], m.Answer[j] = m.Answer[j], m.Answer[i] })
	}
	return m
}

// reply makes the authoritative response holding r.
func (s *Server) reply(req *dns.Msg, r result) *dns.Msg {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	m.Rcode = r.rcode
	m.Answer, m.Ns, m.Extra = r.answer, r.ns, r.extra
	return m
}

// forward sends req upstream over network, answering SERVFAIL when no upstream answers.
func (s *Server) forward(req *dns.Msg, network string) *dns.Msg {
	ctx, cancel := context.WithCancel(s.runCtx)
	defer cancel()
	resp, err := s.fwd.exchange(ctx, req, network)
	if err != nil {
		s.warnForward(req.Question[0], err)
		m := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	return resp
}

// warnForward logs a failure to forward, at most every 10 s: with the upstreams unreachable
// every query fails, and the log would be nothing else.
func (s *Server) warnForward(q dns.Question, err error) {
	now := time.Now().UnixNano()
	last := s.warned.Load()
	if now-last < int64(10*time.Second) || !s.warned.CompareAndSwap(last, now) {
		s.log.Debug("forwarding failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
		return
	}
	s.log.Warn("forwarding failed (further failures in the next 10s logged at debug level)",
		"name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
}

func (s *Server) synced() bool {
	return s.cfg.HasSynced == nil || s.cfg.HasSynced()
}
