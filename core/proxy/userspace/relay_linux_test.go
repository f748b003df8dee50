//go:build linux

package userspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relayed joins two loopback TCP connections through a relay: it returns the client's end
// (what the proxy accepted is its peer), the endpoint's end (what the proxy dialled is its
// peer), and a channel that yields join's byte counts when it returns.
func relayed(t *testing.T, r *relay, stop <-chan struct{}) (client, endpoint *net.TCPConn, done <-chan [2]int64) {
	t.Helper()
	pairOf := func() (near, far *net.TCPConn) {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		far, err = net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
		if err != nil {
			t.Fatal(err)
		}
		near, err = ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = far.Close() })
		return near, far
	}
	accepted, client := pairOf()
	dialled, endpoint := pairOf()
	fd, err := takeFD(accepted)
	if err != nil {
		t.Fatal(err)
	}
	in := inbound{fd: fd, from: localhost}
	out := make(chan [2]int64, 1)
	go func() {
		up, down := r.join(in, dialled, stop)
		out <- [2]int64{up, down}
	}()
	return client, endpoint, out
}

func newRelay(t *testing.T) *relay {
	r := &relay{}
	t.Cleanup(r.close)
	return r
}

func waitJoin(t *testing.T, done <-chan [2]int64) [2]int64 {
	t.Helper()
	select {
	case n := <-done:
		return n
	case <-time.After(deadline):
		t.Fatal("join did not return")
		return [2]int64{}
	}
}

// Both directions at once, each far more than the sockets buffer, with readers slower than
// the writers: every byte arrives in order, which needs the relay to hold back a sender
// while the receiver's socket is full and to resume it later.
func TestRelayCarriesBothWaysUnderBackpressure(t *testing.T) {
	r := newRelay(t)
	client, endpoint, done := relayed(t, r, nil)
	const size = 24 << 20
	up, down := randomBytes(size, 1), randomBytes(size, 2)

	var wg sync.WaitGroup
	send := func(c *net.TCPConn, b []byte) {
		defer wg.Done()
		if _, err := c.Write(b); err != nil {
			t.Errorf("write: %v", err)
		}
		_ = c.CloseWrite()
	}
	var gotUp, gotDown [32]byte
	recv := func(c *net.TCPConn, sum *[32]byte) {
		defer wg.Done()
		h := sha256.New()
		buf := make([]byte, 7000)
		for {
			n, err := c.Read(buf)
			h.Write(buf[:n])
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("read: %v", err)
				}
				break
			}
			if rand.IntN(50) == 0 {
				time.Sleep(time.Millisecond) // a slow reader
			}
		}
		copy(sum[:], h.Sum(nil))
	}
	wg.Add(4)
	go send(client, up)
	go send(endpoint, down)
	go recv(endpoint, &gotUp)
	go recv(client, &gotDown)
	wg.Wait()
	if gotUp != sha256.Sum256(up) {
		t.Error("the endpoint did not receive exactly what the client sent")
	}
	if gotDown != sha256.Sum256(down) {
		t.Error("the client did not receive exactly what the endpoint sent")
	}
	if n := waitJoin(t, done); n != [2]int64{size, size} {
		t.Errorf("join counted %v bytes, want %d each way", n, size)
	}
}

// An endpoint that resets its connection resets the client's too: the client must not wait
// for a response that cannot come, nor take the cut-off stream for a complete one.
func TestRelayPassesResetOn(t *testing.T) {
	r := newRelay(t)
	client, endpoint, done := relayed(t, r, nil)
	if _, err := client.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(endpoint, buf); err != nil {
		t.Fatal(err)
	}
	_ = endpoint.SetLinger(0)
	_ = endpoint.Close()
	_ = client.SetReadDeadline(time.Now().Add(deadline))
	_, err := client.Read(buf)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after the endpoint's reset: %v, want connection reset", err)
	}
	waitJoin(t, done)
}

// A client that goes away while the endpoint is still sending ends the endpoint's
// connection too, and the relay lets go of both.
func TestRelayEndsWhenClientLeavesMidStream(t *testing.T) {
	r := newRelay(t)
	client, endpoint, done := relayed(t, r, nil)
	_ = client.Close()
	_ = endpoint.SetWriteDeadline(time.Now().Add(deadline))
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var err error
	for err == nil {
		_, err = endpoint.Write(chunk)
	}
	if isTimeout(err) {
		t.Fatalf("the endpoint kept writing into a connection whose client is gone: %v", err)
	}
	waitJoin(t, done)
}

// stop resets both sides at once, as Cleanup and Close need.
func TestRelayStopResetsBoth(t *testing.T) {
	r := newRelay(t)
	stop := make(chan struct{})
	client, endpoint, done := relayed(t, r, stop)
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(endpoint, buf); err != nil {
		t.Fatal(err)
	}
	close(stop)
	waitJoin(t, done)
	for name, c := range map[string]*net.TCPConn{"client": client, "endpoint": endpoint} {
		_ = c.SetReadDeadline(time.Now().Add(deadline))
		if _, err := c.Read(buf); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s read after stop: %v, want connection reset", name, err)
		}
	}
}

// Once closed, the relay hands connections back to goroutine copying instead of failing
// them, and a connection on a loop when it closed is reset.
func TestRelayClose(t *testing.T) {
	r := &relay{}
	client, endpoint, done := relayed(t, r, nil)
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(endpoint, make([]byte, 2)); err != nil { // on a loop by now
		t.Fatal(err)
	}
	r.close()
	waitJoin(t, done)
	_ = client.SetReadDeadline(time.Now().Add(deadline))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after close: %v, want connection reset", err)
	}

	client, endpoint, done = relayed(t, r, nil)
	if _, err := client.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	_ = client.CloseWrite()
	got, err := io.ReadAll(endpoint)
	if err != nil || string(got) != "after" {
		t.Errorf("after close: endpoint read %q, %v", got, err)
	}
	_ = endpoint.CloseWrite()
	waitJoin(t, done)
}

// Accepted connections carry the options set once on the listener: no system call per
// connection sets them.
func TestAcceptedConnectionsInheritOptions(t *testing.T) {
	port := freePort(t)
	sock, err := listenTCPSocket(context.Background(), netip.AddrPortFrom(localhost, port))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	c, err := net.Dial("tcp4", netip.AddrPortFrom(localhost, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := sock.accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.reset()
	if want := netip.MustParseAddrPort(c.LocalAddr().String()).Addr(); in.from != want {
		t.Errorf("accepted from %v, want %v", in.from, want)
	}
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, keepAliveIdle},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, keepAliveIdle},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, keepAliveProbes},
	} {
		got, err := unix.GetsockoptInt(in.fd, o.level, o.opt)
		if err != nil || got != o.want {
			t.Errorf("%s on the accepted socket = %d, %v; want %d", o.name, got, err, o.want)
		}
	}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
