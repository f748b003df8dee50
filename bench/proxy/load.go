package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/core/proxy/nftables"
)

// Connection modes of the load.
const (
	modeKeepAlive = "keepalive" // each client sends its requests on one HTTP/1.1 connection
	modeNewConn   = "newconn"   // each request on a new connection, closed by the server
)

func modeName(m string) string {
	if m == modeNewConn {
		return "new connection per request"
	}
	return "keep-alive"
}

// target is one way to the pod.
type target struct {
	name string // one of allPaths
	addr netip.AddrPort
}

// pathRun is one measurement: one path, one mode, one round.
type pathRun struct {
	mode, path string
	round      int
	window     time.Duration
	lat        []time.Duration // of every request completed in the window, sorted
	errs       int             // failed requests in the window
	paws       uint64          // SYNs the pod rejected on a TIME_WAIT socket (PAWS), warm-up included
	firstErr   error
	cpu        cpuUse
}

func (r *pathRun) rps() float64 { return float64(len(r.lat)) / r.window.Seconds() }

// wrkRun is one path's cross-check with wrk.
type wrkRun struct {
	path     string
	rps      float64
	p50, p99 time.Duration
	problems string // non-2xx responses and socket errors wrk reported
}

type loadResults struct {
	runs    []pathRun
	wrk     []wrkRun
	wrkWhy  string // why wrk did not run ("" when it did)
	profile string
}

func (l *loadResults) run(mode, path string, round int) *pathRun {
	for i := range l.runs {
		if r := &l.runs[i]; r.mode == mode && r.path == path && r.round == round {
			return r
		}
	}
	return nil
}

func measureLoad(ctx context.Context, o options) (*loadResults, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	res := &loadResults{}
	podAddr := netip.AddrPortFrom(podIP, podPort)
	progress("throughput: starting the pod's server in netns %s on port %d", podNS, podPort)
	pod, err := startChild(ctx, "pod server", nil, "ip", "netns", "exec", podNS, exe, "-serve", fmt.Sprintf(":%d", podPort))
	if err != nil {
		return nil, err
	}
	defer pod.stop()

	// The nftables paths: the Service alone in a table. (The services map is a hash lookup
	// per new connection; the rule-programming phase's table is not kept for this.) The
	// table of "nftables" has the pod range set, as a node's has, so that connections from
	// the node — these — are masqueraded; "nftables-nomasq" has none, so they are only
	// DNATed, as a pod's connections to a Service are.
	for _, t := range []struct {
		table, name string
		cidr        netip.Prefix
		vip, ep     netip.Addr
	}{{syncTable, "nftables", podCIDR, nftVIP, nftEP}, {noMasqTable, "nftables-nomasq", netip.Prefix{}, noMasqVIP, noMasqEP}} {
		nft, err := nftables.New(nftables.Config{Table: t.table, PodCIDR: t.cidr, Logger: quietLog})
		if err != nil {
			return nil, err
		}
		if err := nft.Sync(ctx, proxy.State{Services: []proxy.ServicePort{benchService(t.name, t.vip, t.ep)}}); err != nil {
			return nil, err
		}
		defer func() {
			if err := nft.Cleanup(context.Background()); err != nil {
				progress("cleanup: %v", err)
			}
		}()
	}

	var env []string
	if o.usProfile != "" {
		if res.profile, err = filepath.Abs(o.usProfile); err != nil {
			return nil, err
		}
		env = append(env, "TUG_BENCH_CPUPROFILE="+res.profile)
	}
	us, err := startChild(ctx, "userspace proxy", env, exe, "-userspace-proxy")
	if err != nil {
		return nil, err
	}
	defer us.stop()
	pids := []int{os.Getpid(), pod.pid(), us.pid()}

	all := []target{
		{"direct", podAddr},
		{"nftables", netip.AddrPortFrom(nftVIP, vipPort)},
		{"nftables-nomasq", netip.AddrPortFrom(noMasqVIP, vipPort)},
		{"userspace", netip.AddrPortFrom(usVIP, vipPort)},
	}
	for _, t := range all {
		if err := check(t.addr); err != nil {
			return nil, fmt.Errorf("%s path (%s): %w", t.name, t.addr, err)
		}
	}
	progress("throughput: the pod answers directly at %s, through nftables at %s (and %s, not masqueraded) and through the userspace proxy at %s (pid %d)",
		all[0].addr, all[1].addr, all[2].addr, all[3].addr, us.pid())
	var targets []target
	for _, t := range all {
		if slices.Contains(o.paths, t.name) {
			targets = append(targets, t)
		}
	}

	for _, mode := range o.modes {
		for round := 1; round <= o.rounds; round++ {
			order := slices.Clone(targets)
			if round%2 == 0 {
				slices.Reverse(order)
			}
			for _, t := range order {
				r := load(ctx, t.addr, mode, o.clients, o.warmup, o.duration, pids)
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				r.path, r.round = t.name, round
				res.runs = append(res.runs, r)
				line := fmt.Sprintf("%s round %d %s: %.0f req/s, p50 %s, p99 %s, max %s, %d SYNs rejected by PAWS; CPU busy %.2f cores (load gen %.2f, pod %.2f, userspace proxy %.2f)",
					modeName(mode), round, t.name, r.rps(), msf2(percentile(r.lat, 50)), msf2(percentile(r.lat, 99)), msf2(maxOf(r.lat)),
					r.paws, r.cpu.busy, r.cpu.procs[0], r.cpu.procs[1], r.cpu.procs[2])
				if r.errs > 0 || r.firstErr != nil {
					line += fmt.Sprintf("; %d errors in the window, e.g. %v", r.errs, r.firstErr)
				}
				progress("%s", line)
			}
		}
	}

	switch wrk, err := exec.LookPath("wrk"); {
	case o.wrk == "off":
		res.wrkWhy = "-wrk off"
	case err != nil && o.wrk == "on":
		return nil, errors.New("-wrk on: wrk is not installed")
	case err != nil:
		res.wrkWhy = "wrk is not installed"
	default:
		for _, t := range targets {
			w, err := runWrk(ctx, wrk, t, o.clients, o.duration)
			if err != nil {
				return nil, err
			}
			res.wrk = append(res.wrk, w)
			progress("wrk %s: %.0f req/s, p50 %s, p99 %s %s", t.name, w.rps, msf2(w.p50), msf2(w.p99), w.problems)
		}
	}
	return res, nil
}

// check GETs the target once and checks the answer.
func check(addr netip.AddrPort) error {
	c, err := dial(addr, time.Now().Add(5*time.Second))
	if err != nil {
		return err
	}
	defer c.c.Close()
	return c.do(request(addr, false))
}

// load runs clients for warm+dur against addr and measures the requests that complete in
// the last dur, and the CPU used meanwhile.
func load(ctx context.Context, addr netip.AddrPort, mode string, clients int, warm, dur time.Duration, pids []int) pathRun {
	paws0 := pawsTimewait(pids[1])
	start := time.Now().Add(warm)
	end := start.Add(dur)
	deadline := end.Add(10 * time.Second) // no request waits longer than that
	newConn := mode == modeNewConn
	req := request(addr, newConn)

	type worker struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	ws := make([]worker, clients)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.lat = make([]time.Duration, 0, 1<<15)
			var c *rawConn
			defer func() {
				if c != nil {
					c.c.Close()
				}
			}()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				var err error
				if c == nil {
					c, err = dial(addr, deadline)
				}
				if err == nil {
					err = c.do(req)
				}
				t1 := time.Now()
				if err == nil && newConn {
					// The server closes first (Connection: close), so the TIME_WAIT is its
					// own and this side's ports are free again at once.
					err = c.drain()
				}
				if err != nil || newConn {
					if c != nil {
						c.c.Close()
						c = nil
					}
				}
				inWindow := !t1.Before(start) && t1.Before(end)
				if err != nil {
					if w.firstErr == nil {
						w.firstErr = err
					}
					if inWindow {
						w.errs++
					}
					time.Sleep(10 * time.Millisecond) // not a busy loop on a refused port
					continue
				}
				if inWindow {
					w.lat = append(w.lat, t1.Sub(t0))
				}
			}
		}(&ws[i])
	}
	var r pathRun
	r.mode = mode
	sleepUntil(ctx, start)
	c0 := readCPU(pids)
	sleepUntil(ctx, end)
	c1 := readCPU(pids)
	wg.Wait()
	r.paws = pawsTimewait(pids[1]) - paws0
	r.window = c1.at.Sub(c0.at)
	r.cpu = c1.since(c0)
	for i := range ws {
		r.lat = append(r.lat, ws[i].lat...)
		r.errs += ws[i].errs
		if r.firstErr == nil {
			r.firstErr = ws[i].firstErr
		}
	}
	slices.Sort(r.lat)
	return r
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// request is the GET the clients send, built once.
func request(addr netip.AddrPort, closeConn bool) []byte {
	s := "GET / HTTP/1.1\r\nHost: " + addr.String() + "\r\nUser-Agent: tug-bench-proxy\r\n"
	if closeConn {
		s += "Connection: close\r\n"
	}
	return []byte(s + "\r\n")
}

// rawConn is a minimal HTTP/1.1 client connection: the request's bytes written as they are,
// the response read just far enough to check its status and skip its body. It keeps the load
// generator's own CPU small next to the server's and the proxy's, as a C load generator
// such as wrk would (see bench/apiserver's rawConn).
type rawConn struct {
	c *net.TCPConn
	r *bufio.Reader
}

func dial(addr netip.AddrPort, deadline time.Time) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(deadline)
	return &rawConn{c: c.(*net.TCPConn), r: bufio.NewReaderSize(c, 4096)}, nil
}

var (
	status200     = []byte("HTTP/1.1 200 ")
	contentLength = []byte("content-length:")
)

// do sends req and reads a 200 response with a Content-Length body of podBody's length.
func (rc *rawConn) do(req []byte) error {
	if _, err := rc.c.Write(req); err != nil {
		return err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, status200) {
		return fmt.Errorf("status line %q", bytes.TrimSpace(line))
	}
	length := -1
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(h) <= 2 { // the empty line
			break
		}
		if len(h) > len(contentLength) && bytes.EqualFold(h[:len(contentLength)], contentLength) {
			length = atoi(bytes.TrimSpace(h[len(contentLength):]))
		}
	}
	if length != len(podBody) {
		return fmt.Errorf("content length %d, want %d", length, len(podBody))
	}
	_, err = rc.r.Discard(length)
	return err
}

// drain reads until the server has closed the connection.
func (rc *rawConn) drain() error {
	n, err := io.Copy(io.Discard, rc.r)
	if err == nil && n > 0 {
		err = fmt.Errorf("%d bytes after the response", n)
	}
	return err
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// --- CPU ---

// cpuUse is the CPU used over a window, in cores: the machine's busy time (all but idle
// and iowait), and each process's user+system time.
type cpuUse struct {
	busy  float64
	procs []float64
}

type cpuSnap struct {
	at          time.Time
	total, idle uint64
	ticks       []uint64
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go runs on.
const clockTicks = 100

func readCPU(pids []int) cpuSnap {
	s := cpuSnap{at: time.Now(), ticks: make([]uint64, len(pids))}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f) && i <= 8; i++ { // user nice system idle iowait irq softirq steal
			v, _ := strconv.ParseUint(f[i], 10, 64)
			s.total += v
			if i == 4 || i == 5 {
				s.idle += v
			}
		}
	}
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		st := string(b)
		f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
		if len(f) > 12 { // state is f[0]; utime and stime are fields 14 and 15 of stat
			u, _ := strconv.ParseUint(f[11], 10, 64)
			k, _ := strconv.ParseUint(f[12], 10, 64)
			s.ticks[i] = u + k
		}
	}
	return s
}

func (s cpuSnap) since(s0 cpuSnap) cpuUse {
	secs := s.at.Sub(s0.at).Seconds()
	u := cpuUse{procs: make([]float64, len(s.ticks))}
	if dt := s.total - s0.total; dt > 0 {
		u.busy = float64(dt-(s.idle-s0.idle)) / float64(dt) * float64(runtime.NumCPU())
	}
	for i := range s.ticks {
		u.procs[i] = float64(s.ticks[i]-s0.ticks[i]) / clockTicks / secs
	}
	return u
}

// pawsTimewait is the TcpExt PAWSTimewait counter of pid's network namespace: SYNs that
// met a TIME_WAIT socket of the same 4-tuple with an older TCP timestamp than that
// connection's last, which the kernel answers with an ACK instead of accepting them; the
// client then resets and resends its SYN a second later.
func pawsTimewait(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/netstat", pid))
	if err != nil {
		return 0
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		if j := slices.Index(names, "PAWSTimewait"); j > 0 {
			v, _ := strconv.ParseUint(values[j], 10, 64)
			return v
		}
	}
	return 0
}

// --- wrk ---

// runWrk loads the target with wrk (keep-alive, one thread per core) for dur.
func runWrk(ctx context.Context, wrk string, t target, clients int, dur time.Duration) (wrkRun, error) {
	threads := min(runtime.NumCPU(), clients)
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(clients), "-d", fmt.Sprintf("%ds", secs),
		"--latency", "http://" + t.addr.String() + "/"}
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return wrkRun{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	w := wrkRun{path: t.name}
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			w.rps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			w.p50, _ = time.ParseDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			w.p99, _ = time.ParseDuration(f[1])
		case strings.Contains(line, "Non-2xx") || strings.Contains(line, "Socket errors"):
			problems = append(problems, strings.TrimSpace(line))
		}
	}
	if w.rps == 0 {
		return w, fmt.Errorf("wrk %s: no Requests/sec in its output:\n%s", strings.Join(args, " "), out)
	}
	w.problems = strings.Join(problems, "; ")
	return w, nil
}
