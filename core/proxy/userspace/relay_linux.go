//go:build linux

package userspace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// relay copies the bytes of every proxied TCP connection on a few epoll loops of its own,
// outside Go's network poller.
//
// Why: with a goroutine per direction (io.Copy, which splices), each message costs a
// splice that succeeds, one more that finds nothing and parks the goroutine, and a wake-up
// through the runtime's poller, and each connection holds two pipes (four descriptors) for
// as long as it lives. A level-triggered loop reads once per readable socket, writes
// straight to the peer, and learns about every ready socket in one epoll_wait: under load a
// message costs one read and one write, and an idle connection costs its two sockets. In
// bench/proxy the proxy used about a tenth less CPU per keep-alive request this way;
// throughput on the 2-core VM did not change beyond its noise (docs/BENCHMARKS.md).
//
// Bytes are read into the loop's own buffer and written at once; only what the peer's
// socket does not take is kept (pending), and while it is, the sender is not read from:
// the peer's backpressure reaches the sender through TCP's own window.
type relay struct {
	mu     sync.Mutex
	err    error // why the loops could not start; connections then go through spliceBoth
	loops  []*relayLoop
	closed bool
	next   atomic.Uint32
}

// pair is one proxied connection: ends[0] is the client's socket, ends[1] the endpoint's.
type pair struct {
	ends [2]relayEnd
	sent [2]int64      // bytes read from ends[i] and written to the other
	done chan struct{} // closed when both ends are
}

type relayEnd struct {
	fd      int
	pending []byte // read from the other end, not yet written to this one
	eof     bool   // this end's reads are over (EOF read)
	shut    bool   // this end was sent our FIN (SHUT_WR)
	closed  bool
	events  uint32 // the interest registered with epoll; 0 when not in the set
}

type relayLoop struct {
	epfd int
	wake int // an eventfd: written to end the loop

	// mu is held by the loop while it handles a batch of events, and by add and abort, so
	// that a descriptor is never looked up, reused or closed by two of them at once.
	mu   sync.Mutex
	ends map[int32]*pair // fd → its pair
	buf  []byte
}

const (
	// relayBuffer is what one read takes: enough for a typical message in one system call.
	relayBuffer = 64 << 10

	// Keep-alive of accepted connections, as Go's net package sets it for its own (15 s
	// idle, then probes 15 s apart, 9 of them): a client that vanished without a FIN or an
	// RST is found out and its connection freed.
	keepAliveIdle   = 15
	keepAliveProbes = 9
)

// loop returns the loop for the next connection, starting the loops on first use; nil
// when they cannot run (no epoll) or the relay is closed.
func (r *relay) loop() *relayLoop {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return nil
	}
	if r.loops == nil {
		// One loop per core. (One loop for two cores left the second idle while the first
		// was preempted by the pods it serves: 0.55× direct throughput against 0.65–0.74×
		// with two, in bench/proxy.)
		for range max(1, runtime.GOMAXPROCS(0)) {
			l, err := newRelayLoop()
			if err != nil {
				r.err = err
				r.stopLocked()
				return nil
			}
			r.loops = append(r.loops, l)
			go l.run()
		}
	}
	return r.loops[r.next.Add(1)%uint32(len(r.loops))]
}

// close ends the loops. Connections still on them are reset.
func (r *relay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.stopLocked()
}

func (r *relay) stopLocked() {
	for _, l := range r.loops {
		_, _ = unix.Write(l.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	r.loops = nil
}

func newRelayLoop() (*relayLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("userspace proxy: epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("userspace proxy: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("userspace proxy: epoll add: %w", err)
	}
	return &relayLoop{epfd: epfd, wake: wake, ends: map[int32]*pair{}, buf: make([]byte, relayBuffer)}, nil
}

// inbound is a connection accepted from a client, as a descriptor of its own: it never
// enters Go's poller, since the relay's loop is where it will be waited on.
type inbound struct {
	fd   int
	from netip.Addr
}

func (in inbound) reset() { resetFD(in.fd) }

// tcpSocket is a listening socket whose connections are accepted as bare descriptors.
type tcpSocket struct {
	f      *os.File // in Go's poller, for accept to wait on
	rc     syscall.RawConn
	closed atomic.Bool
}

// listenTCPSocket listens on addr, with the options Go would set on each accepted
// connection set once on the listening socket instead: Linux copies them to every socket it
// accepts, which saves five system calls per connection.
func listenTCPSocket(ctx context.Context, addr netip.AddrPort) (*tcpSocket, error) {
	lc := net.ListenConfig{
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(s uintptr) {
				fd := int(s)
				for _, o := range []struct{ level, opt, v int }{
					{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
					{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
					{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, keepAliveIdle},
					{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, keepAliveIdle},
					{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveProbes},
				} {
					if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
						serr = os.NewSyscallError("setsockopt", err)
						return
					}
				}
			})
			return errors.Join(err, serr)
		},
	}
	ln, err := lc.Listen(ctx, network("tcp", addr.Addr()), addr.String())
	if err != nil {
		return nil, err
	}
	// A listener's own RawConn cannot wait for readiness; a file of the same socket can.
	f, err := ln.(*net.TCPListener).File()
	_ = ln.Close()
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &tcpSocket{f: f, rc: rc}, nil
}

func (s *tcpSocket) Close() error {
	s.closed.Store(true)
	return s.f.Close()
}

// accept takes the next connection off the socket, waiting in Go's poller for it.
func (s *tcpSocket) accept() (inbound, error) {
	for {
		var in inbound
		var aerr error
		err := s.rc.Read(func(fd uintptr) bool {
			var sa unix.Sockaddr
			in.fd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if errors.Is(aerr, unix.EAGAIN) {
				return false // wait until readable
			}
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				in.from = netip.AddrFrom4(sa.Addr)
			case *unix.SockaddrInet6:
				in.from = netip.AddrFrom16(sa.Addr).Unmap()
			}
			return true
		})
		switch {
		case err != nil && s.closed.Load():
			// The poller's "use of closed file", which no exported error matches.
			return inbound{}, net.ErrClosed
		case err != nil:
			return inbound{}, err
		case errors.Is(aerr, unix.ECONNABORTED), errors.Is(aerr, unix.EINTR):
			continue // the client left before it was accepted
		case aerr != nil:
			return inbound{}, os.NewSyscallError("accept4", aerr)
		}
		return in, nil
	}
}

// join moves bytes between in and be until both directions are over, then closes both, and
// returns the bytes each way. be is taken over: its descriptor is duplicated out of Go's
// poller and be is closed at once. When stop is closed, both are reset.
func (r *relay) join(in inbound, be *net.TCPConn, stop <-chan struct{}) (up, down int64) {
	l := r.loop()
	if l == nil {
		f := os.NewFile(uintptr(in.fd), "client")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			reset(be)
			return 0, 0
		}
		return spliceBoth(c.(*net.TCPConn), be)
	}
	b, err := takeFD(be)
	if err != nil {
		in.reset()
		return 0, 0
	}
	p := &pair{done: make(chan struct{})}
	p.ends[0].fd, p.ends[1].fd = in.fd, b
	if err := l.add(p); err != nil {
		in.reset()
		resetFD(b)
		return 0, 0
	}
	select {
	case <-p.done:
	case <-stop:
		l.abort(p)
		<-p.done
	}
	return p.sent[0], p.sent[1]
}

// takeFD returns a non-blocking duplicate of c's descriptor and closes c, which leaves
// Go's poller with it.
func takeFD(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	_ = c.Close()
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, fmt.Errorf("userspace proxy: dup: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (l *relayLoop) add(p *pair) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ends == nil {
		return ErrClosed
	}
	for i := range p.ends {
		e := &p.ends[i]
		e.events = unix.EPOLLIN
		ev := unix.EpollEvent{Events: e.events, Fd: int32(e.fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, e.fd, &ev); err != nil {
			if i == 1 {
				_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, p.ends[0].fd, nil)
				delete(l.ends, int32(p.ends[0].fd))
			}
			return fmt.Errorf("userspace proxy: epoll add: %w", err)
		}
		l.ends[int32(e.fd)] = p
	}
	return nil
}

// abort resets both ends of p, unless they are closed already.
func (l *relayLoop) abort(p *pair) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ends != nil {
		l.reset(p)
	}
}

func (l *relayLoop) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Only a bad epoll descriptor fails here, which would be a bug.
			l.mu.Lock()
			l.stop()
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Fd == int32(l.wake) {
				l.stop()
				l.mu.Unlock()
				return
			}
			p := l.ends[ev.Fd]
			if p == nil {
				continue // closed earlier in this batch
			}
			i := 0
			if p.ends[1].fd == int(ev.Fd) {
				i = 1
			}
			l.handle(p, i, ev.Events)
		}
		l.mu.Unlock()
	}
}

// stop resets every connection on the loop and releases its descriptors.
func (l *relayLoop) stop() {
	for _, p := range l.ends {
		l.reset(p)
	}
	l.ends = nil
	_ = unix.Close(l.epfd)
	_ = unix.Close(l.wake)
}

// handle acts on the readiness of p.ends[i].
func (l *relayLoop) handle(p *pair, i int, ev uint32) {
	e, peer := &p.ends[i], &p.ends[1-i]
	if e.closed {
		return
	}
	acted := false
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 && len(e.pending) > 0 {
		acted = true
		if !l.flush(p, e) {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !e.eof && len(peer.pending) == 0 {
		acted = true
		if !l.pump(p, i) {
			return
		}
	}
	if !acted && ev&unix.EPOLLERR != 0 {
		// An error on a socket with nothing to read or write: it was reset.
		l.reset(p)
		return
	}
	// A hang-up seen here with nothing done about it is from a socket settle is about to
	// take out of the epoll set, so it cannot be reported again and again.
	l.settle(p)
}

// pump reads what ends[i] has and writes it to the other end; false when p was reset.
func (l *relayLoop) pump(p *pair, i int) bool {
	e, peer := &p.ends[i], &p.ends[1-i]
	n, err := readFD(e.fd, l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return true
	case err != nil:
		l.reset(p)
		return false
	case n == 0:
		e.eof = true
		return true
	}
	p.sent[i] += int64(n)
	w, err := writeFD(peer.fd, l.buf[:n])
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.reset(p)
		return false
	}
	if w < n {
		peer.pending = append(peer.pending[:0], l.buf[w:n]...)
	}
	return true
}

// flush writes what is pending for dst; false when p was reset.
func (l *relayLoop) flush(p *pair, dst *relayEnd) bool {
	w, err := writeFD(dst.fd, dst.pending)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.reset(p)
		return false
	}
	if w == len(dst.pending) {
		dst.pending = nil
	} else {
		dst.pending = dst.pending[w:]
	}
	return true
}

// settle passes EOFs on as half-closes, closes the ends that are done, and registers what
// each open end now waits for.
func (l *relayLoop) settle(p *pair) {
	for i := range p.ends {
		e, peer := &p.ends[i], &p.ends[1-i]
		if e.closed {
			continue
		}
		if peer.eof && !e.shut && len(e.pending) == 0 {
			// The peer's EOF becomes our FIN to e, once all it sent is through.
			_ = unix.Shutdown(e.fd, unix.SHUT_WR)
			e.shut = true
		}
	}
	for i := range p.ends {
		e, peer := &p.ends[i], &p.ends[1-i]
		if e.closed {
			continue
		}
		if e.eof && e.shut {
			l.closeEnd(p, i, false)
			continue
		}
		var want uint32
		if !e.eof && len(peer.pending) == 0 {
			want |= unix.EPOLLIN
		}
		if len(e.pending) > 0 {
			want |= unix.EPOLLOUT
		}
		if want == e.events {
			continue
		}
		// A socket waited on for nothing leaves the set: a hang-up is reported whatever
		// the interest, and level-triggered it would be reported on every wait.
		op := unix.EPOLL_CTL_MOD
		switch {
		case want == 0:
			op = unix.EPOLL_CTL_DEL
		case e.events == 0:
			op = unix.EPOLL_CTL_ADD
		}
		e.events = want
		ev := unix.EpollEvent{Events: want, Fd: int32(e.fd)}
		_ = unix.EpollCtl(l.epfd, op, e.fd, &ev)
	}
}

// reset closes both open ends with an RST, as a proxy must when either side failed: the
// other must not wait for bytes that will never come.
func (l *relayLoop) reset(p *pair) {
	for i := range p.ends {
		if !p.ends[i].closed {
			l.closeEnd(p, i, true)
		}
	}
}

func (l *relayLoop) closeEnd(p *pair, i int, rst bool) {
	e := &p.ends[i]
	e.closed = true
	e.pending = nil
	delete(l.ends, int32(e.fd))
	if rst {
		resetFD(e.fd) // closing also removes it from the epoll set
	} else {
		_ = unix.Close(e.fd)
	}
	if p.ends[0].closed && p.ends[1].closed {
		close(p.done)
	}
}

// resetFD closes fd so that its peer gets an RST instead of a FIN.
func resetFD(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	_ = unix.Close(fd)
}

func readFD(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return max(n, 0), err
	}
}

// writeFD writes as much of b as the socket takes now.
func writeFD(fd int, b []byte) (int, error) {
	w := 0
	for w < len(b) {
		n, err := unix.Write(fd, b[w:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return w, err
		}
		w += n
	}
	return w, nil
}
