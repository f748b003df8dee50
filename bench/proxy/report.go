package main

import (
	"github.com/tugboat-io/tug/bench/internal/benchenv"

	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

func msf(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func msf2(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func maxOf(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[len(sorted)-1]
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printResults(o options, sr *syncResults, lr *loadResults, load0, load1 string) {
	fmt.Printf("proxy bench: %d service ports × %d endpoints, %d sync rounds; load %d clients, %s per path after %s warm-up, %d rounds, modes %s\n\n",
		o.services, o.endpoints, o.syncRounds, o.clients, o.duration, o.warmup, o.rounds, strings.Join(o.modes, ","))
	var goals [][3]string
	if sr != nil {
		goals = append(goals, printSync(o, sr)...)
	}
	if lr != nil {
		goals = append(goals, printLoad(o, lr)...)
	}

	if len(goals) > 0 {
		fmt.Println("Against the goals (issue 8):")
		fmt.Println()
		fmt.Println("| goal | measured | met |")
		fmt.Println("| --- | --- | --- |")
		for _, g := range goals {
			fmt.Printf("| %s | %s | %s |\n", g[0], g[1], g[2])
		}
		fmt.Println()
	}
	fmt.Printf("Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n", load0, load1)
	fmt.Println()
	fmt.Println("Machine:", benchenv.Machine(nftVersion()))
	fmt.Println("tug:", benchenv.Commit())
	fmt.Println()
	fmt.Println("Rerun (as root):", rerun(o))
}

func printSync(o options, sr *syncResults) [][3]string {
	fmt.Printf("Rule programming: %d service ports (TCP, one ClusterIP each) × %d endpoints, %d of them with a NodePort; %d rounds, each from no table (interface) to the full state:\n\n",
		sr.services, sr.endpoints, sr.nodePorts, o.syncRounds)
	fmt.Println("| data plane | sync | p50 | max | per round |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	row := func(dp, what string, ds []time.Duration) {
		var each []string
		for _, d := range ds {
			each = append(each, fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)))
		}
		fmt.Printf("| %s | %s | %s | %s | %s ms |\n", dp, what, msf(median(ds)), msf(slices.Max(ds)), strings.Join(each, ", "))
	}
	nftDP := "nftables"
	if sr.nftErr != nil {
		nftDP = fmt.Sprintf("nftables¹ (%d service ports)", sr.nftServices)
	}
	if len(sr.nft.first) > 0 {
		row(nftDP, "**first sync** (no table → all service ports)", sr.nft.first)
		row(nftDP, "resync of the same state (nothing to change)", sr.nft.resync)
		row(nftDP, "one endpoint of one service changed", sr.nft.change)
		row(nftDP, "cleanup (delete the table)", sr.nft.cleanup)
	}
	row("userspace", fmt.Sprintf("first sync (%d ClusterIPs added, %d listeners opened)", sr.services, sr.services+sr.nodePorts), sr.us.first)
	row("userspace", "resync of the same state (nothing changes)", sr.us.resync)
	row("userspace", "one endpoint of one service changed", sr.us.change)
	row("userspace", "cleanup (close listeners, delete the interface)", sr.us.cleanup)
	fmt.Println()
	if sr.nftErr != nil {
		fmt.Printf("¹ nftables could not program %d service ports × %d endpoints: %v. The largest state it programmed (by bisection) was %d service ports; its rows are for that.\n",
			sr.services, sr.endpoints, sr.nftErr, sr.nftServices)
	}
	fmt.Printf("Checks after the last round's syncs: nftables: %s; userspace: %s.\n\n", sr.nft.check, sr.us.check)

	goal := "≤ 2 s to program 1000 services × 10 endpoints (nftables)"
	if sr.services != 1000 || sr.endpoints != 10 {
		return [][3]string{{goal, fmt.Sprintf("not measured: this run synced %d × %d", sr.services, sr.endpoints), "n/a"}}
	}
	if sr.nftErr != nil {
		measured := fmt.Sprintf("fails: %v", sr.nftErr)
		if len(sr.nft.first) > 0 {
			measured += fmt.Sprintf("; the largest state that programs, %d service ports × %d endpoints, takes %s (p50 first sync)",
				sr.nftServices, sr.endpoints, msf(median(sr.nft.first)))
		}
		return [][3]string{{goal, measured, "**no**"}}
	}
	worst := slices.Max(sr.nft.first)
	met := "yes"
	if worst > 2*time.Second || !sr.nft.checkOK {
		met = "**no**"
	}
	return [][3]string{{goal, fmt.Sprintf("first sync p50 %s, max %s over %d rounds; an endpoint change %s (p50)",
		msf(median(sr.nft.first)), msf(worst), len(sr.nft.first), msf(median(sr.nft.change))), met}}
}

func printLoad(o options, lr *loadResults) [][3]string {
	fmt.Printf("Throughput and latency: %d clients GET / (a %d-byte body) from the pod's HTTP server (Go net/http, in netns %s, port %d) for %s per path after %s of warm-up; "+
		"*direct* to the pod at %s; *nftables*: through the nftables data plane as a node programs it (ClusterIP %s:%d → %s, kernel DNAT, "+
		"and masqueraded, fully random, because the client is outside the pod range %s); *nftables-nomasq*: the same without a pod range, "+
		"so only DNATed, as a pod's connections are (ClusterIP %s:%d → %s); *userspace*: through the userspace data plane (ClusterIP %s:%d → %s, "+
		"a proxy process of its own). The order of the paths alternates across rounds.\n\n",
		o.clients, len(podBody), podNS, podPort, o.duration, o.warmup, podIP, nftVIP, vipPort, nftEP, podCIDR,
		noMasqVIP, vipPort, noMasqEP, usVIP, vipPort, usEP)
	fmt.Println("| mode | round | path | requests/s | p50 | p99 | max | errors | SYNs rejected (PAWS) | CPU busy (cores) | load gen | pod | userspace proxy | other |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range lr.runs {
		other := r.cpu.busy
		for _, p := range r.cpu.procs {
			other -= p
		}
		fmt.Printf("| %s | %d | %s | %.0f | %s | %s | %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
			modeName(r.mode), r.round, r.path, r.rps(), msf2(percentile(r.lat, 50)), msf2(percentile(r.lat, 99)), msf2(maxOf(r.lat)),
			r.errs, r.paws, r.cpu.busy, r.cpu.procs[0], r.cpu.procs[1], r.cpu.procs[2], other)
	}
	fmt.Println()
	fmt.Printf("The load generator (this process), the pod's server and the userspace proxy share the machine's %d cores, "+
		"with the kernel's network stack; \"other\" is the busy time none of the three was charged for (softirq threads, other processes). "+
		"*SYNs rejected (PAWS)* counts, in the pod's namespace (TcpExtPAWSTimewait, warm-up included), SYNs that reused the 4-tuple of a connection "+
		"still in TIME_WAIT there with an older TCP timestamp: the kernel answers with an ACK, the client resets and sends its SYN again a second later.\n", runtime.NumCPU())
	for _, r := range lr.runs {
		if r.firstErr != nil {
			fmt.Printf("%s round %d %s: first error: %v.\n", modeName(r.mode), r.round, r.path, r.firstErr)
		}
	}
	fmt.Println()

	if !slices.Contains(o.paths, "direct") {
		return nil
	}
	fmt.Println("Against direct, each round's proxy run compared with that round's direct run:")
	fmt.Println()
	fmt.Println("| mode | path | requests/s (median) | × direct, per round | × direct (median) | p50 (median) | p99 (median) | added p99, per round | added p99 (median) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	type ratio struct{ x, addedP99 []float64 }
	ratios := map[[2]string]ratio{}
	for _, mode := range o.modes {
		for _, path := range o.paths {
			var rps []float64
			var p50, p99 []time.Duration
			var rt ratio
			for round := 1; round <= o.rounds; round++ {
				r, d := lr.run(mode, path, round), lr.run(mode, "direct", round)
				rps = append(rps, r.rps())
				p50 = append(p50, percentile(r.lat, 50))
				p99 = append(p99, percentile(r.lat, 99))
				rt.x = append(rt.x, r.rps()/d.rps())
				rt.addedP99 = append(rt.addedP99, float64(percentile(r.lat, 99)-percentile(d.lat, 99))/float64(time.Millisecond))
			}
			ratios[[2]string{mode, path}] = rt
			xs, adds := "", ""
			if path != "direct" {
				xs = joinf(rt.x, "%.2f", "×")
				adds = joinf(rt.addedP99, "%+.2f", " ms")
			}
			fmt.Printf("| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n", modeName(mode), path, median(rps), xs,
				ifNotDirect(path, fmt.Sprintf("**%.2f×**", median(rt.x))), msf2(median(p50)), msf2(median(p99)), adds,
				ifNotDirect(path, fmt.Sprintf("%+.2f ms", median(rt.addedP99))))
		}
	}
	fmt.Println()

	switch {
	case len(lr.wrk) == 0:
		fmt.Printf("No cross-check with wrk: %s.\n\n", lr.wrkWhy)
	case lr.wrk[0].path != "direct":
		fmt.Println("No cross-check with wrk: it needs the direct path.")
		fmt.Println()
	default:
		fmt.Printf("Cross-check with wrk (keep-alive, %d threads, %d connections, %s, one run per path after the rounds above):\n\n",
			min(runtime.NumCPU(), o.clients), o.clients, o.duration)
		fmt.Println("| path | requests/s | × direct | p50 | p99 | added p99 |")
		fmt.Println("| --- | --- | --- | --- | --- | --- |")
		d := lr.wrk[0]
		for _, w := range lr.wrk {
			p99 := msf2(w.p99)
			if w.problems != "" {
				p99 += " (" + w.problems + ")"
			}
			fmt.Printf("| %s | %.0f | %s | %s | %s | %s |\n", w.path, w.rps, ifNotDirect(w.path, fmt.Sprintf("%.2f×", w.rps/d.rps)),
				msf2(w.p50), p99, ifNotDirect(w.path, fmt.Sprintf("%+.2f ms", float64(w.p99-d.p99)/float64(time.Millisecond))))
		}
		fmt.Println()
	}
	if lr.profile != "" {
		fmt.Printf("CPU profile of the userspace proxy process over the whole phase: %s (go tool pprof -top %s).\n\n", lr.profile, lr.profile)
	}

	var goals [][3]string
	for _, g := range []struct {
		path string
		min  float64
	}{{"nftables", 0.8}, {"nftables-nomasq", 0.8}, {"userspace", 0.5}} {
		if !slices.Contains(o.paths, g.path) {
			continue
		}
		for _, mode := range o.modes {
			rt := ratios[[2]string{mode, g.path}]
			met := "yes"
			if median(rt.x) < g.min {
				met = "**no**"
			}
			goals = append(goals, [3]string{
				fmt.Sprintf("%s ≥ %.1f× direct throughput (%s)", g.path, g.min, modeName(mode)),
				fmt.Sprintf("median %.2f× (rounds %s), added p99 %+.2f ms", median(rt.x), joinf(rt.x, "%.2f", "×"), median(rt.addedP99)),
				met,
			})
		}
	}
	return goals
}

func ifNotDirect(path, s string) string {
	if path == "direct" {
		return ""
	}
	return s
}

func joinf(xs []float64, format, unit string) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf(format, x)+unit)
	}
	return strings.Join(parts, ", ")
}

func rerun(o options) string {
	s := "go run ./bench/proxy"
	def := func(name string, v, d any) {
		if fmt.Sprint(v) != fmt.Sprint(d) {
			s += fmt.Sprintf(" -%s %v", name, v)
		}
	}
	def("services", o.services, 1000)
	def("endpoints", o.endpoints, 10)
	def("sync-rounds", o.syncRounds, 5)
	def("clients", o.clients, 32)
	def("duration", o.duration, 5*time.Second)
	def("warmup", o.warmup, time.Second)
	def("rounds", o.rounds, 3)
	def("modes", strings.Join(o.modes, ","), strings.Join(allModes, ","))
	def("paths", strings.Join(o.paths, ","), strings.Join(allPaths, ","))
	def("phases", strings.Join(o.phases, ","), "sync,load")
	def("wrk", o.wrk, "auto")
	def("userspace-cpuprofile", o.usProfile, "")
	return s
}

// nftVersion is the nft command's version line, for the machine line.
func nftVersion() string {
	if out, err := exec.Command("nft", "--version").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "no nft"
}
