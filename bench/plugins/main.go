// Command plugins benchmarks scheduler filter plugins, in wasm on the tug runtime and
// natively, in one run:
//
//	go run ./bench/plugins
//
// Two filters, each in two languages: a trivial filter (every node passes, looking each
// up) and a
// NodeResourcesFit-style one, written with the Go SDK (bench/plugins/guests, their own
// module, built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) and in C from ABI.md
// (bench/plugins/cguests, built with clang). It writes one workload (5000 nodes with 10
// resident pods each, a pod, the filter input frame), runs each fit filter natively on the
// same bytes — the Go one through sdktest with go test -bench, the C one built natively with
// a small host of its own — runs them in wasm in this process, and prints one table. A fifth,
// accept-c, passes every node without visiting them: what the host and the ABI cost around
// any filter.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/runtime"
)

var (
	nodeCount = flag.Int("nodes", 5000, "resident nodes")
	podsPer   = flag.Int("pods-per-node", 10, "pods resident on each node")
	cycles    = flag.Int("cycles", 2000, "timed scheduling cycles per wasm plugin")
	benchtime = flag.String("benchtime", "2s", "go test -benchtime of the native run")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	_, self, _, _ := goruntime.Caller(0)
	guests := filepath.Join(filepath.Dir(self), "guests")
	tmp, err := os.MkdirTemp("", "tug-bench-plugins")
	must(err)
	defer os.RemoveAll(tmp)

	nodes, pod, ids := workload(*nodeCount, *podsPer)
	for name, b := range map[string][]byte{"nodes.json": nodes, "pod.json": pod, "ids.bin": ids} {
		must(os.WriteFile(filepath.Join(tmp, name), b, 0o644))
	}
	wasm := map[string][]byte{}
	for _, name := range []string{"trivial", "fit"} {
		out := filepath.Join(tmp, name+".wasm")
		build := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+name+"/cmd/"+name)
		build.Dir = guests
		build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := build.CombinedOutput(); err != nil {
			log.Fatalf("building %s: %v\n%s", name, err, b)
		}
		wasm[name], err = os.ReadFile(out)
		must(err)
	}

	// The same filters in C, built with Debian's clang (wasm and, for fit, native).
	cdir := filepath.Join(filepath.Dir(self), "cguests")
	if b, err := exec.Command("make", "-C", cdir, "OUT="+tmp).CombinedOutput(); err != nil {
		log.Fatalf("building the C guests: %v\n%s", err, b)
	}
	for _, name := range []string{"accept-c", "trivial-c", "fit-c"} {
		wasm[name], err = os.ReadFile(filepath.Join(tmp, name+".wasm"))
		must(err)
	}

	natives := map[string]nativeResult{"fit": nativeGo(guests, tmp), "fit-c": nativeC(filepath.Join(tmp, "fit-c-native"), tmp)}
	rows := []row{}
	for _, name := range []string{"accept-c", "trivial", "trivial-c", "fit", "fit-c"} {
		rows = append(rows, runWasm(name, wasm[name], nodes, pod, ids))
	}

	fmt.Printf("\nworkload: %d resident nodes x %d pods (tug_sched_nodes message %.1f MiB), pod %d B, filter input %d B; %d wasm cycles, native -benchtime %s\n",
		*nodeCount, *podsPer, float64(len(nodes))/(1<<20), len(pod), len(ids), *cycles, *benchtime)
	fmt.Printf("machine: %s/%s, %d CPUs, %s; wazero engine: %s\n\n", goruntime.GOOS, goruntime.GOARCH, goruntime.NumCPU(), goruntime.Version(), engine)
	fmt.Println("| plugin | wasm size | compile (Load, no cache) | instantiate (median) | tug_sched_nodes (all nodes) | instance memory after load | rejected | wasm µs/pod (prefilter + filter) | native µs/pod | native/wasm |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		nat, ratio := "—", "—"
		if n, ok := natives[r.name]; ok {
			nat = fmt.Sprintf("%.1f", n.ns/1e3)
			ratio = fmt.Sprintf("%.2f×", n.ns/1e3/r.perPod)
			if n.rejected != r.rejected {
				log.Printf("WARNING: %s: native rejected %d nodes, wasm %d", r.name, n.rejected, r.rejected)
			}
		}
		fmt.Printf("| %s | %.2f MiB | %s | %s | %s | %s | %d | %.1f (%.1f + %.1f) | %s | %s |\n", r.name, float64(len(wasm[r.name]))/(1<<20),
			r.compile.Round(time.Millisecond), r.instantiate.Round(10*time.Microsecond), r.nodesLoad.Round(time.Millisecond),
			r.memory, r.rejected, r.perPod, r.preFilter, r.filter, nat, ratio)
	}
	fmt.Println()
	for _, r := range rows {
		if strings.HasPrefix(r.name, "trivial") || r.name == "accept-c" {
			fmt.Printf("goal trivial filter over %d nodes <= 20 µs/pod in wasm (%s): %.1f µs -> %s\n", *nodeCount, r.name, r.perPod, met(r.perPod <= 20))
		} else if n, ok := natives[r.name]; ok {
			f := n.ns / 1e3 / r.perPod
			fmt.Printf("goal realistic plugin >= 0.5x native speed (%s): %.2fx -> %s\n", r.name, f, met(f >= 0.5))
		}
	}
}

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

// engine is the wazero engine the runtime picked (compiler or interpreter).
var engine string

type row struct {
	name                            string
	compile, instantiate, nodesLoad time.Duration
	memory                          string
	rejected                        int
	perPod                          float64 // µs
	preFilter, filter               float64 // µs per pod of each call
}

// capture is a slog handler keeping the runtime's and the guests' log records.
type capture struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{c, as}
}
func (c *capture) WithGroup(string) slog.Handler                 { return c }
func (c *capture) Handle(_ context.Context, r slog.Record) error { return c.add(r, nil) }
func (c *capture) add(r slog.Record, pre []slog.Attr) error {
	m := map[string]string{"msg": r.Message}
	for _, a := range pre {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	c.mu.Lock()
	c.recs = append(c.recs, m)
	c.mu.Unlock()
	return nil
}
func (c *capture) find(msg, contains string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.recs) - 1; i >= 0; i-- {
		if r := c.recs[i]; strings.Contains(r["msg"], msg) && strings.Contains(fmt.Sprint(r), contains) {
			return r
		}
	}
	return nil
}

type withAttrs struct {
	c  *capture
	as []slog.Attr
}

func (w *withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.c, append(slices.Clone(w.as), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler                 { return w }
func (w *withAttrs) Handle(_ context.Context, r slog.Record) error { return w.c.add(r, w.as) }

func runWasm(name string, wasm, nodes, pod, ids []byte) row {
	ctx := context.Background()
	logs := &capture{}
	// A fresh Runtime without a cache directory: Load compiles.
	rt, err := runtime.New(ctx, runtime.Config{Logger: slog.New(logs)})
	must(err)
	defer rt.Close(ctx)
	opts := runtime.PluginOptions{PoolSize: 8, MemoryLimitPages: 16384, Deadline: 10 * time.Minute}
	m, err := rt.Load(ctx, name, wasm, opts)
	must(err)
	r := row{name: name}
	if rec := logs.find("wasm runtime started", ""); rec != nil {
		engine = rec["engine"]
	}
	if rec := logs.find("plugin loaded", ""); rec != nil {
		r.compile, _ = time.ParseDuration(rec["compile"])
	}
	// Instantiate: fresh instances (the probe is the first, in the pool); hold them all.
	var held []*runtime.Instance
	var inst []time.Duration
	for i := 0; i < opts.PoolSize; i++ {
		start := time.Now()
		in, err := m.Acquire(ctx)
		must(err)
		if in.Generation() > 1 {
			inst = append(inst, time.Since(start))
		}
		held = append(held, in)
	}
	slices.Sort(inst)
	r.instantiate = inst[len(inst)/2]
	for _, in := range held[1:] {
		in.Release()
	}
	in := held[0]
	defer in.Release()
	call := func(export string, input []byte) []byte {
		out, st, err := in.Call(ctx, export, input)
		if err != nil || st != hostabi.StatusOK {
			log.Fatalf("%s %s: %v %v %s", name, export, st, err, out)
		}
		return out
	}
	start := time.Now()
	call(hostabi.ExportSchedNodes, nodes)
	r.nodesLoad = time.Since(start)
	// The instance's linear memory after every node is resident: its share of the memory cap.
	r.memory = fmt.Sprintf("%.0f MiB", float64(in.MemoryBytes())/(1<<20))
	var preT, filterT time.Duration
	cycle := func() int {
		t0 := time.Now()
		call(hostabi.ExportSchedPreFilter, pod)
		t1 := time.Now()
		rejs, err := hostabi.DecodeFilterOutput(call(hostabi.ExportSchedFilter, ids))
		preT, filterT = preT+t1.Sub(t0), filterT+time.Since(t1)
		must(err)
		return len(rejs)
	}
	for range 20 { // warm-up, and the fit filter's per-node sums
		r.rejected = cycle()
	}
	preT, filterT = 0, 0
	start = time.Now()
	for range *cycles {
		cycle()
	}
	r.perPod = float64(time.Since(start).Microseconds()) / float64(*cycles)
	r.preFilter = float64(preT.Microseconds()) / float64(*cycles)
	r.filter = float64(filterT.Microseconds()) / float64(*cycles)
	return r
}

type nativeResult struct {
	ns       float64 // per pod
	rejected int
}

// nativeC runs the C fit filter built natively on the workload, as many cycles as the wasm
// side runs.
func nativeC(bin, workloadDir string) nativeResult {
	out, err := exec.Command(bin, workloadDir, strconv.Itoa(max(*cycles, 200))).CombinedOutput()
	if err != nil {
		log.Fatalf("native C fit: %v\n%s", err, out)
	}
	var r nativeResult
	if _, err := fmt.Sscan(string(out), &r.ns, &r.rejected); err != nil {
		log.Fatalf("native C fit: %q: %v", out, err)
	}
	return r
}

// nativeGo runs BenchmarkNativeFit in the guests module and returns its ns/op and rejections.
func nativeGo(guests, workloadDir string) nativeResult {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkNativeFit$", "-benchtime", *benchtime, "./fit")
	cmd.Dir = guests
	cmd.Env = append(os.Environ(), "TUG_BENCH_WORKLOAD="+workloadDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log.Fatalf("native benchmark: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkNativeFit") {
			continue
		}
		var ns float64
		rej := -1
		for i := 1; i+1 < len(f); i++ {
			switch f[i+1] {
			case "ns/op":
				ns, _ = strconv.ParseFloat(f[i], 64)
			case "rejected/op":
				v, _ := strconv.ParseFloat(f[i], 64)
				rej = int(v)
			}
		}
		return nativeResult{ns, rej}
	}
	log.Fatalf("native benchmark: no result in\n%s", out)
	return nativeResult{}
}

// workload returns a tug_sched_nodes message setting n nodes (ids 0..n-1) with podsPer pods
// each, the pod to schedule, and the filter input naming every node.
func workload(n, podsPer int) (nodes, pod, ids []byte) {
	type obj = map[string]any
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	set := make([]obj, 0, n)
	idList := make([]uint32, 0, n)
	for i := range n {
		name := fmt.Sprintf("node-%05d", i)
		cpu, mem := "16", "64Gi"
		if i%10 == 3 {
			cpu = "10500m" // already 10 cpu used: too small for the pod's 1
		}
		if i%7 == 5 {
			mem = "44Gi" // already 40Gi used: too small for the pod's 8Gi
		}
		node := obj{
			"apiVersion": "v1", "kind": "Node",
			"metadata": obj{"name": name, "uid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
				"resourceVersion": strconv.Itoa(1000 + i),
				"labels": obj{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					"topology.kubernetes.io/zone": zones[i%3], "topology.kubernetes.io/region": "us-east-1",
					"node.kubernetes.io/instance-type": "m5.4xlarge"}},
			"spec": obj{"podCIDR": fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "providerID": "aws:///us-east-1a/i-" + strconv.Itoa(i)},
			"status": obj{
				"capacity":    obj{"cpu": "16", "memory": "65Gi", "pods": "110", "ephemeral-storage": "100Gi"},
				"allocatable": obj{"cpu": cpu, "memory": mem, "pods": "110", "ephemeral-storage": "95Gi"},
				"conditions": []obj{{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"},
					{"type": "DiskPressure", "status": "False"}, {"type": "PIDPressure", "status": "False"}},
				"nodeInfo": obj{"kubeletVersion": "v1.33.0", "containerRuntimeVersion": "containerd://2.0.0", "osImage": "Ubuntu 24.04"},
			},
		}
		pods := make([]obj, 0, podsPer)
		for j := range podsPer {
			pods = append(pods, testPod(fmt.Sprintf("app-%d-%d", i, j), name, "800m", "3Gi", "200m", "1Gi"))
		}
		set = append(set, obj{"id": i, "node": node, "pods": pods})
		idList = append(idList, uint32(i))
	}
	var err error
	nodes, err = json.Marshal(obj{"set": set})
	must(err)
	pod, err = json.Marshal(testPod("incoming", "", "900m", "7Gi", "100m", "1Gi"))
	must(err)
	return nodes, pod, hostabi.AppendNodeIDs(nil, idList)
}

// testPod is a two-container pod (an app and a sidecar) with the requests given.
func testPod(name, nodeName, appCPU, appMem, sideCPU, sideMem string) map[string]any {
	type obj = map[string]any
	spec := obj{
		"schedulerName": "default-scheduler", "serviceAccountName": "default", "priority": 0,
		"containers": []obj{
			{"name": "app", "image": "registry.example.com/app:1.2.3",
				"ports":     []obj{{"containerPort": 8080, "protocol": "TCP"}},
				"resources": obj{"requests": obj{"cpu": appCPU, "memory": appMem}, "limits": obj{"memory": appMem}}},
			{"name": "proxy", "image": "registry.example.com/proxy:2.0",
				"resources": obj{"requests": obj{"cpu": sideCPU, "memory": sideMem}}},
		},
		"tolerations": []obj{{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}},
	}
	status := obj{"phase": "Pending"}
	if nodeName != "" {
		spec["nodeName"] = nodeName
		status["phase"] = "Running"
	}
	return obj{"apiVersion": "v1", "kind": "Pod",
		"metadata": obj{"name": name, "namespace": "default", "uid": "uid-" + name,
			"labels": obj{"app": "web"}, "annotations": obj{"example.com/owner": "team-a"}},
		"spec": spec, "status": status}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
