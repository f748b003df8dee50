//go:build !linux

package userspace

import (
	"context"
	"net"
	"net/netip"
)

// inbound is a connection accepted from a client.
type inbound struct {
	conn *net.TCPConn
	from netip.Addr
}

func (in inbound) reset() { reset(in.conn) }

// tcpSocket is a listening socket.
type tcpSocket struct{ ln *net.TCPListener }

func listenTCPSocket(ctx context.Context, addr netip.AddrPort) (*tcpSocket, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network("tcp", addr.Addr()), addr.String())
	if err != nil {
		return nil, err
	}
	return &tcpSocket{ln: ln.(*net.TCPListener)}, nil
}

func (s *tcpSocket) Close() error { return s.ln.Close() }

func (s *tcpSocket) accept() (inbound, error) {
	c, err := s.ln.AcceptTCP()
	if err != nil {
		return inbound{}, err
	}
	return inbound{conn: c, from: addrOf(c.RemoteAddr())}, nil
}

// relay copies with a goroutine each way where there is no epoll.
type relay struct{}

func (*relay) join(in inbound, be *net.TCPConn, _ <-chan struct{}) (up, down int64) {
	return spliceBoth(in.conn, be)
}

func (*relay) close() {}
