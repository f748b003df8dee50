package userspace

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/tugboat-io/tug/core/proxy"
)

// tcpListener accepts connections on one address of one service port.
type tcpListener struct {
	p    *Proxier
	gen  *generation
	svc  *service
	addr netip.AddrPort
	sock *tcpSocket
}

func (p *Proxier) listenTCP(ctx context.Context, gen *generation, svc *service, addr netip.AddrPort) (*tcpListener, error) {
	sock, err := listenTCPSocket(ctx, addr)
	if err != nil {
		return nil, err
	}
	l := &tcpListener{p: p, gen: gen, svc: svc, addr: addr, sock: sock}
	if !gen.track(l) || !gen.spawn(l.serve) {
		_ = l.Close()
		return nil, ErrClosed
	}
	return l, nil
}

func (l *tcpListener) key() lkey         { return lkey{proto: protoTCP, addr: l.addr} }
func (l *tcpListener) service() *service { return l.svc }

// Close stops accepting. Connections already accepted go on, as conntrack lets established
// flows go on when a Service's rules are removed.
func (l *tcpListener) Close() error {
	l.gen.untrack(l)
	return l.sock.Close()
}

func (l *tcpListener) serve() {
	var delay time.Duration
	for {
		in, err := l.sock.accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does rather than
			// spin, and keep the listener, since the condition passes.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.p.log.Warn("accept failed", "service", l.svc.key, "addr", l.addr, "error", err, "retry", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !l.gen.spawn(func() { l.p.handleTCP(l.gen, l.svc, in) }) {
			in.reset()
			return
		}
	}
}

// handleTCP connects an accepted connection to an endpoint and copies bytes both ways until
// both are done. The generation's end reaches it through gen.ctx: a dial in flight fails,
// and the relay resets both sides.
func (p *Proxier) handleTCP(gen *generation, svc *service, in inbound) {
	client := in.from
	order := svc.bal.pick(client)
	if len(order) == 0 {
		// Reset rather than close: the client sees "connection reset" at once, where a
		// listener that did not accept would leave its SYN unanswered until it times out.
		p.m.noEndpoint.WithLabelValues(protoTCP).Inc()
		in.reset()
		return
	}
	if gen.ctx.Err() != nil {
		in.reset()
		return
	}

	var be *net.TCPConn
	var ep proxy.Endpoint
	for _, try := range order {
		conn, err := p.dialer.DialContext(gen.ctx, "tcp", try.String())
		if err == nil {
			be, ep = conn.(*net.TCPConn), try
			break
		}
		if gen.ctx.Err() != nil {
			in.reset()
			return
		}
		p.m.dialErrors.Inc()
		svc.bal.forget(client, try)
		p.log.Debug("endpoint unreachable, trying the next", "service", svc.key, "endpoint", try, "error", err)
	}
	if be == nil {
		p.m.noEndpoint.WithLabelValues(protoTCP).Inc()
		p.log.Warn("no endpoint reachable", "service", svc.key, "tried", len(order))
		in.reset()
		return
	}
	if !gen.track(be) {
		reset(be)
		in.reset()
		return
	}
	defer gen.untrack(be)
	svc.bal.used(client, ep)
	defer svc.bal.ended(client, ep)

	active := p.m.active.WithLabelValues(protoTCP)
	active.Inc()
	defer active.Dec()
	up, down := p.relay.join(in, be, gen.ctx.Done())
	p.m.tcpToEndpoint.Add(float64(up))
	p.m.tcpToClient.Add(float64(down))
}

// spliceBoth copies a→b and b→a with a goroutine each way, where the relay's loops cannot
// run. A side's EOF becomes a half-close of the other (so a request body ends while the
// response still flows, as HTTP/1.0 and streaming clients expect); an error on either side
// resets both, so neither waits on a peer that is gone. io.Copy between two TCPConns uses
// splice(2), so bytes do not pass through this process's memory.
func spliceBoth(a, b *net.TCPConn) (ab, ba int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ab = copyHalf(b, a)
	}()
	ba = copyHalf(a, b)
	<-done
	_ = a.Close()
	_ = b.Close()
	return ab, ba
}

func copyHalf(dst, src *net.TCPConn) int64 {
	n, err := io.Copy(dst, src)
	if err != nil {
		reset(src)
		reset(dst)
		return n
	}
	_ = dst.CloseWrite()
	return n
}

// reset closes c with an RST instead of a FIN.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// network is "tcp4" for IPv4 addresses: plain "tcp" would bind 0.0.0.0 as a dual-stack [::].
func network(proto string, ip netip.Addr) string {
	if ip.Is4() {
		return proto + "4"
	}
	return proto + "6"
}

func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
