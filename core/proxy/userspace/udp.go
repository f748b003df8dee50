package userspace

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/tugboat-io/tug/core/proxy"
)

// maxDatagram holds any UDP payload, so that nothing is truncated on the way.
const maxDatagram = 64 << 10

// datagrams recycles the buffers replies are read into: a session holds none while it waits,
// so idle sessions cost a socket and a goroutine, not 64 KiB each.
var datagrams = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

// udpListener receives the datagrams of one address of one service port. Each client
// address gets a session: a socket connected to the endpoint chosen for it, whose replies
// are sent back from the listener's socket, so that the client sees them come from the
// address it sent to.
type udpListener struct {
	p    *Proxier
	gen  *generation
	svc  *service
	addr netip.AddrPort
	conn *net.UDPConn
	// wildcard listeners (0.0.0.0, NodePorts without NodeIPs) learn which address each
	// datagram was sent to, and send the replies from it: on a node with several addresses
	// the kernel's own choice of source could differ, and a client with a connected socket
	// (most resolvers) would drop the reply.
	wildcard bool

	mu       sync.Mutex
	closed   bool
	sessions map[sessionKey]*udpSession
}

type sessionKey struct {
	client netip.AddrPort
	local  netip.Addr // the address the client sent to
}

type udpSession struct {
	l    *udpListener
	key  sessionKey
	ep   proxy.Endpoint
	be   *net.UDPConn
	last atomic.Int64 // unix nanoseconds of the last datagram either way
	once sync.Once
}

func (p *Proxier) listenUDP(ctx context.Context, gen *generation, svc *service, addr netip.AddrPort) (*udpListener, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, network("udp", addr.Addr()), addr.String())
	if err != nil {
		return nil, err
	}
	l := &udpListener{p: p, gen: gen, svc: svc, addr: addr, conn: pc.(*net.UDPConn),
		wildcard: addr.Addr().IsUnspecified(), sessions: map[sessionKey]*udpSession{}}
	if l.wildcard && addr.Addr().Is4() {
		if err := ipv4.NewPacketConn(l.conn).SetControlMessage(ipv4.FlagDst, true); err != nil {
			_ = l.conn.Close()
			return nil, err
		}
	}
	if !gen.track(l) || !gen.spawn(l.serve) {
		_ = l.Close()
		return nil, ErrClosed
	}
	return l, nil
}

func (l *udpListener) key() lkey         { return lkey{proto: protoUDP, addr: l.addr} }
func (l *udpListener) service() *service { return l.svc }

// Close closes the listener and its sessions: without the listener's socket no reply could
// reach a client anyway.
func (l *udpListener) Close() error {
	l.gen.untrack(l)
	l.mu.Lock()
	l.closed = true
	sessions := l.sessions
	l.sessions = nil
	l.mu.Unlock()
	for _, s := range sessions {
		s.close()
	}
	return l.conn.Close()
}

// dropStale ends the sessions whose endpoint is no longer the service port's, so that their
// clients' next datagrams go to a live one. kube-proxy does the same by deleting the
// conntrack entries of removed UDP endpoints: unlike TCP, a UDP flow never ends by itself
// and would be sent into the void for as long as the client keeps talking.
func (l *udpListener) dropStale(t *table) {
	l.mu.Lock()
	var stale []*udpSession
	for _, s := range l.sessions {
		if !t.has[s.ep] {
			stale = append(stale, s)
		}
	}
	l.mu.Unlock()
	for _, s := range stale {
		s.close()
	}
}

func (l *udpListener) sessionCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

func (l *udpListener) serve() {
	buf := make([]byte, maxDatagram)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := l.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.p.log.Warn("udp read failed", "service", l.svc.key, "addr", l.addr, "error", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		key := sessionKey{client: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), local: l.addr.Addr()}
		if l.wildcard {
			var cm ipv4.ControlMessage
			if cm.Parse(oob[:oobn]) == nil && cm.Dst != nil {
				if dst, ok := netip.AddrFromSlice(cm.Dst); ok {
					key.local = dst.Unmap()
				}
			}
		}
		l.forward(key, buf[:n])
	}
}

// forward sends a datagram from key's client to its session's endpoint.
func (l *udpListener) forward(key sessionKey, b []byte) {
	// A second try if the session ended under us (expired, or its endpoint left).
	for range 2 {
		s := l.session(key)
		if s == nil {
			// No endpoint: the datagram is dropped. An ICMP port unreachable would tell the
			// client sooner, but a userspace socket cannot send one.
			l.p.m.noEndpoint.WithLabelValues(protoUDP).Inc()
			return
		}
		s.touch()
		_, err := s.be.Write(b)
		if err == nil {
			l.p.m.udpToEndpoint.Add(float64(len(b)))
			return
		}
		if errors.Is(err, net.ErrClosed) {
			continue
		}
		// A refused earlier datagram surfaces here as ECONNREFUSED: the endpoint has no
		// socket on that port. End the session so that the next datagram picks again.
		l.p.log.Debug("udp endpoint write failed", "service", l.svc.key, "endpoint", s.ep, "error", err)
		l.svc.bal.forget(key.client.Addr(), s.ep)
		s.close()
		return
	}
}

// session returns key's session, starting one if there is none; nil when no endpoint could
// take it.
func (l *udpListener) session(key sessionKey) *udpSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if s, ok := l.sessions[key]; ok {
		return s
	}
	for _, ep := range l.svc.bal.pick(key.client.Addr()) {
		// Dialing UDP sends nothing; it fails only for want of a socket or a route.
		be, err := net.DialUDP(network("udp", ep.IP), nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ep.IP, ep.Port)))
		if err != nil {
			l.p.m.dialErrors.Inc()
			l.p.log.Debug("udp endpoint unreachable, trying the next", "service", l.svc.key, "endpoint", ep, "error", err)
			continue
		}
		s := &udpSession{l: l, key: key, ep: ep, be: be}
		s.touch()
		if !l.gen.spawn(s.relay) {
			_ = be.Close()
			return nil
		}
		l.sessions[key] = s
		l.svc.bal.used(key.client.Addr(), ep)
		l.p.m.active.WithLabelValues(protoUDP).Inc()
		return s
	}
	return nil
}

func (s *udpSession) touch() { s.last.Store(time.Now().UnixNano()) }

// close ends the session once; the relay goroutine sees its socket closed and returns.
func (s *udpSession) close() {
	s.once.Do(func() {
		// Out of the map before the socket closes, so that a datagram that finds the socket
		// closed finds a new session on its second try.
		s.l.mu.Lock()
		if s.l.sessions[s.key] == s {
			delete(s.l.sessions, s.key)
		}
		s.l.mu.Unlock()
		_ = s.be.Close()
		s.l.svc.bal.ended(s.key.client.Addr(), s.ep)
		s.l.p.m.active.WithLabelValues(protoUDP).Dec()
	})
}

// relay sends the endpoint's replies to the client until the session has been idle for the
// timeout or its socket fails.
func (s *udpSession) relay() {
	defer s.close()
	idle := s.l.p.cfg.UDPIdleTimeout
	raw, err := s.be.SyscallConn()
	if err != nil {
		return
	}
	for {
		_ = s.be.SetReadDeadline(time.Unix(0, s.last.Load()).Add(idle))
		b, n, err := readDatagram(raw)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, s.last.Load())) < idle {
				continue // the client sent something meanwhile
			}
			if errors.Is(err, unix.ECONNREFUSED) {
				s.l.svc.bal.forget(s.key.client.Addr(), s.ep)
			}
			return
		}
		s.touch()
		err = s.l.reply((*b)[:n], s.key)
		datagrams.Put(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.l.p.log.Debug("udp reply failed", "service", s.l.svc.key, "client", s.key.client, "error", err)
			continue
		}
		s.l.p.m.udpToClient.Add(float64(n))
	}
}

// readDatagram waits for a datagram without holding a buffer, then reads it into one from
// the pool. It honours the socket's read deadline.
func readDatagram(raw interface {
	Read(func(fd uintptr) bool) error
}) (buf *[]byte, n int, err error) {
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		b := datagrams.Get().(*[]byte)
		n, rerr = unix.Read(int(fd), *b)
		if rerr == unix.EAGAIN || rerr == unix.EINTR {
			datagrams.Put(b)
			return false
		}
		if rerr != nil {
			datagrams.Put(b)
		} else {
			buf = b
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, 0, err
	}
	return buf, n, nil
}

// reply sends b to the session's client from the address it sent to.
func (l *udpListener) reply(b []byte, key sessionKey) error {
	if l.wildcard && key.local.Is4() {
		oob := (&ipv4.ControlMessage{Src: key.local.AsSlice()}).Marshal()
		_, _, err := l.conn.WriteMsgUDPAddrPort(b, oob, key.client)
		return err
	}
	_, err := l.conn.WriteToUDPAddrPort(b, key.client)
	return err
}
