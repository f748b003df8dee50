// Command proxy is the service proxy's load program (issue 8). It measures, in one run on
// this machine, with both data planes of core/proxy:
//
//   - rule programming: a State of N service ports (default 1000, ClusterIPs in
//     10.240.0.0/16, TCP port 80) × E endpoints each (default 10, in 10.241.0.0/16, port 8080),
//     a NodePort on every tenth, synced by the nftables data plane into a table of its own:
//     the first sync (no table → all of it, a full replace), a resync of the same state, and a
//     sync where one endpoint of one service changed (both incremental: only what changed is
//     rewritten) — and deleting the table. After the last round's syncs,
//     `nft -j list map` must show N entries in the service-ips map. Should a sync of N fail,
//     the output says why, and the rounds measure the largest N that syncs (found by
//     bisection). Then the same for the userspace data plane with ClusterIPs on (N addresses
//     on an interface of its own, N listeners plus the NodePorts', on the veth's host address
//     only), which has no goal.
//   - throughput and latency: a "pod" (a network namespace with a veth pair to the host,
//     running an HTTP server that answers a fixed 19-byte body) reached from the host four
//     ways in the same run, in alternating order across rounds: directly at its address;
//     through a Service programmed by the nftables data plane as a node programs it (kernel
//     DNAT, and masquerading, since the host is outside the pod range); the same without a
//     pod range (DNAT only, as for a pod's connections); and through the Service programmed
//     by the userspace data plane (a Go proxy listening on the ClusterIP). The load is C
//     concurrent clients for D seconds per path after a warm-up, each on one HTTP/1.1
//     keep-alive connection, and again with a new connection per request; requests/s, p50,
//     p99 and max per path, the proxies' ratios and added p99 against direct in the same
//     round, the CPU each process used, and how many SYNs the pod rejected by PAWS. With wrk
//     installed, one keep-alive round of each path is repeated with wrk as a cross-check.
//
// The pod's server runs in the namespace as a process of its own (this program re-executed
// under `ip netns exec`: the whole process, every thread, is in the namespace, with no
// setns bookkeeping, and like a real pod it has its own Go runtime), and so does the
// userspace proxy (this program again, as it would run inside a node agent), so that
// neither shares a scheduler or garbage collector with the load generator. All of them and
// the kernel's network stack share the machine's cores; the output says how much each used.
//
//	go run ./bench/proxy -services 1000 -endpoints 10 -clients 32 -duration 5s -rounds 3
//
// It needs root (nftables, addresses, a network namespace). Everything it creates is named
// tugbench-* or tug-proxy-bench* and removed at the end, also after an error or Ctrl-C (and
// removed first if an earlier run left it). Results print as Markdown tables for
// docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// What the program creates; all of it is removed on the way out.
const (
	syncTable     = "tug-proxy-bench"        // the nftables table, both phases
	noMasqTable   = "tug-proxy-bench-nomasq" // the table of the path without masquerading
	usSyncIface   = "tugbench-us0"           // the userspace data plane's N ClusterIPs (rule programming)
	usLoadIface   = "tugbench-us1"           // the userspace proxy's ClusterIP (throughput)
	podNS         = "tugbench-pod"
	vethHost      = "tugbench-h"
	vethPod       = "tugbench-p"
	firstNodePort = 20000 // below the ephemeral ports and outside 30000-32767, so no cluster on this host shares them
)

var (
	hostIP  = netip.MustParseAddr("10.242.0.1") // the veth's host end
	podCIDR = netip.MustParsePrefix("10.242.0.0/24")
	// The pod has an address per path, and its server listens on all of them: connections
	// of different paths never share a 4-tuple in the pod, so the TIME_WAIT sockets one path
	// leaves there do not meet the next path's SYNs.
	podIP     = netip.MustParseAddr("10.242.0.2")  // direct
	nftEP     = netip.MustParseAddr("10.242.0.3")  // the endpoint of the nftables path
	usEP      = netip.MustParseAddr("10.242.0.4")  // the endpoint of the userspace path
	noMasqEP  = netip.MustParseAddr("10.242.0.5")  // the endpoint of the nftables path without masquerading
	nftVIP    = netip.MustParseAddr("10.243.0.10") // the Service's ClusterIP in the nftables path
	usVIP     = netip.MustParseAddr("10.243.0.11") // and in the userspace path
	noMasqVIP = netip.MustParseAddr("10.243.0.12") // and in the nftables path without masquerading
)

const (
	podPort = 8080
	vipPort = 80
)

type options struct {
	services, endpoints, syncRounds int
	clients, rounds                 int
	duration, warmup                time.Duration
	modes, paths, phases            []string
	wrk                             string
	usProfile                       string
}

var (
	allModes = []string{modeKeepAlive, modeNewConn}
	allPaths = []string{"direct", "nftables", "nftables-nomasq", "userspace"}
)

func main() {
	// The program's other roles, run by itself in a child process.
	serveAddr := flag.String("serve", "", "(internal) serve HTTP on this address: the pod's server")
	usProxy := flag.Bool("userspace-proxy", false, "(internal) run the userspace proxy for the throughput phase")

	var o options
	flag.IntVar(&o.services, "services", 1000, "service ports synced in the rule-programming phase")
	flag.IntVar(&o.endpoints, "endpoints", 10, "endpoints of each of those service ports")
	flag.IntVar(&o.syncRounds, "sync-rounds", 5, "rounds of the rule-programming phase (each starts from no table)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients of the load")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured load per path, mode and round")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before each measurement, not counted")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of the throughput phase (the paths' order alternates)")
	modes := flag.String("modes", strings.Join(allModes, ","), "connection modes: keepalive (one connection per client), newconn (a new connection per request)")
	paths := flag.String("paths", strings.Join(allPaths, ","), "paths of the load (the ratios need direct)")
	phases := flag.String("phases", "sync,load", "what to measure: sync (rule programming), load (throughput and latency)")
	flag.StringVar(&o.wrk, "wrk", "auto", `cross-check one keep-alive round with wrk: "auto" (when installed), "on", "off"`)
	flag.StringVar(&o.usProfile, "userspace-cpuprofile", "", "write a CPU profile of the userspace proxy process over the throughput phase to this file")
	flag.Parse()

	switch {
	case *serveAddr != "":
		exitOn(serve(*serveAddr))
		return
	case *usProxy:
		exitOn(runUserspaceProxy(os.Getenv("TUG_BENCH_CPUPROFILE")))
		return
	}

	o.modes = splitList(*modes)
	o.paths = splitList(*paths)
	o.phases = splitList(*phases)
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxy bench: needs root (nftables, interface addresses, a network namespace)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(1)
	}
}

func (o *options) check() error {
	switch {
	case o.services < 1 || o.endpoints < 1 || o.syncRounds < 1:
		return errors.New("-services, -endpoints and -sync-rounds must be at least 1")
	case o.services > 40000 || o.services*o.endpoints > 50000:
		return errors.New("at most 40000 services and 50000 endpoints in all (the address ranges are /16s)")
	case o.clients < 1 || o.rounds < 1 || o.duration <= 0 || o.warmup < 0:
		return errors.New("-clients and -rounds must be at least 1, -duration positive")
	case o.wrk != "auto" && o.wrk != "on" && o.wrk != "off":
		return errors.New(`-wrk: want "auto", "on" or "off"`)
	}
	for _, m := range o.modes {
		if !slices.Contains(allModes, m) {
			return fmt.Errorf("-modes: unknown mode %q (want keepalive, newconn)", m)
		}
	}
	for _, p := range o.paths {
		if !slices.Contains(allPaths, p) {
			return fmt.Errorf("-paths: unknown path %q (want %s)", p, strings.Join(allPaths, ", "))
		}
	}
	for _, p := range o.phases {
		if p != "sync" && p != "load" {
			return fmt.Errorf("-phases: unknown phase %q (want sync, load)", p)
		}
	}
	if len(o.phases) == 0 || (o.has("load") && (len(o.modes) == 0 || len(o.paths) == 0)) {
		return errors.New("nothing to measure")
	}
	return nil
}

func (o *options) has(phase string) bool { return slices.Contains(o.phases, phase) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// quietLog is the proxiers' logger: warnings and errors only, on stderr.
var quietLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func run(o options) error {
	// The run stops on Ctrl-C or SIGTERM too, and the deferred cleanups still run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	load0 := loadavg()

	// Leftovers of an earlier run that could not clean up (killed with SIGKILL) go first.
	cleanupAll()
	defer cleanupAll()
	restore, err := podNetwork()
	if err != nil {
		return err
	}
	defer restore()

	var sr *syncResults
	if o.has("sync") {
		if sr, err = measureSync(ctx, o); err != nil {
			return fmt.Errorf("rule programming: %w", err)
		}
	}
	var lr *loadResults
	if o.has("load") {
		if lr, err = measureLoad(ctx, o); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	printResults(o, sr, lr, load0, loadavg())
	return nil
}

// cleanupAll removes everything the program may have created; what is not there is skipped
// quietly.
func cleanupAll() {
	quiet := func(name string, args ...string) {
		out, err := runCmd(name, args...)
		if err != nil && !strings.Contains(out, "No such file") && !strings.Contains(out, "Cannot find device") &&
			!strings.Contains(out, "does not exist") && !strings.Contains(out, "No such process") {
			progress("cleanup: %s %s: %v %s", name, strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
	quiet("nft", "delete", "table", "ip", syncTable)
	quiet("nft", "delete", "table", "ip", noMasqTable)
	quiet("ip", "link", "delete", usSyncIface)
	quiet("ip", "link", "delete", usLoadIface)
	quiet("ip", "netns", "delete", podNS) // takes the veth pair with it
	quiet("ip", "link", "delete", vethHost)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// discard reads r to its end.
func discard(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
