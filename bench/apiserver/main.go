// Command apiserver is the API server load program: it measures, in one run on one machine,
// raw etcd put throughput and the API server's create, get and list throughput at the same
// concurrency, create latency at a fixed request rate, and how fast 1000 concurrent watchers
// see an event. It starts its own embedded etcd and API server (the same code `tug up` runs)
// and drives the server over loopback HTTP, as kubectl and client-go do.
//
//	go run ./bench/apiserver -concurrency 32 -n 5000
//
// Results are printed as a Markdown table for docs/BENCHMARKS.md.
package main

import (
	"github.com/tugboat-io/tug/bench/internal/benchenv"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/store"
)

func main() {
	rounds := flag.Int("rounds", 3, "alternating rounds of raw etcd puts and API creates")
	conc := flag.Int("concurrency", 32, "concurrent clients for the get and list phases")
	sweep := flag.String("create-concurrency", "8,32,128", "comma-separated concurrencies at which raw puts and API creates are compared")
	n := flag.Int("n", 5000, "objects per throughput phase")
	rate := flag.Int("rate", 200, "requests per second for the latency phase")
	rateFor := flag.Duration("rate-duration", 10*time.Second, "length of the latency phase")
	watchers := flag.Int("watchers", 1000, "concurrent watchers for the fan-out phase")
	events := flag.Int("watch-events", 20, "events written during the fan-out phase")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the API create phase to this file")
	flag.Parse()
	profilePath = *cpuprofile
	var levels []int
	for _, f := range strings.Split(*sweep, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			fmt.Fprintln(os.Stderr, "bench: bad -create-concurrency", *sweep)
			os.Exit(2)
		}
		levels = append(levels, c)
	}
	if err := run(levels, *rounds, *conc, *n, *rate, *rateFor, *watchers, *events); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var profilePath string

type result struct {
	name    string
	ops     int
	elapsed time.Duration
	lat     []time.Duration
}

func (r result) row() string {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := func(p float64) string {
		if len(r.lat) == 0 {
			return "-"
		}
		i := int(p * float64(len(r.lat)-1))
		return fmt.Sprintf("%.2f ms", float64(r.lat[i].Microseconds())/1000)
	}
	tput := "-"
	if r.elapsed > 0 {
		tput = fmt.Sprintf("%.0f", float64(r.ops)/r.elapsed.Seconds())
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s |", r.name, r.ops, tput, pct(0.50), pct(0.99), pct(1.0))
}

// parallel runs fn(i) for i in [0,n) on conc workers and records each call's latency.
func parallel(name string, conc, n int, fn func(i int) error) (result, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	return result{name: name, ops: n, elapsed: time.Since(start), lat: lat}, nil
}

// rawParallel is parallel over one raw HTTP/1.1 connection per worker.
func rawParallel(name, addr string, conc, n int, fn func(rc *rawConn, i int) error) (result, error) {
	conns := make(chan *rawConn, conc)
	for w := 0; w < conc; w++ {
		rc, err := dialRaw(addr)
		if err != nil {
			return result{}, err
		}
		defer rc.c.Close()
		conns <- rc
	}
	return parallel(name, conc, n, func(i int) error {
		rc := <-conns
		defer func() { conns <- rc }()
		return fn(rc, i)
	})
}

func expect(code int, err error) error {
	if err != nil {
		return err
	}
	if code != http.StatusCreated {
		return fmt.Errorf("status %d, want 201", code)
	}
	return nil
}

func configMap(ns, name string) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]string{"app": "bench", "tier": "load"}},
		"data":     map[string]string{"config.yaml": "replicas: 3\nimage: registry.local/app:v1\nport: 8080\n", "mode": "production"},
	})
	return b
}

const protobufType = "application/vnd.kubernetes.protobuf"

var pbSerializer = protobuf.NewSerializer(api.Scheme, api.Scheme)

func configMapProto(ns, name string) []byte {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench", "tier": "load"}},
		Data:       map[string]string{"config.yaml": "replicas: 3\nimage: registry.local/app:v1\nport: 8080\n", "mode": "production"},
	}
	var buf bytes.Buffer
	if err := pbSerializer.Encode(cm, &buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func fmtRatios(rs []float64) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%.2f", r))
	}
	return strings.Join(out, " ")
}

func median(rs []float64) float64 {
	s := append([]float64(nil), rs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func run(levels []int, rounds, conc, n, rate int, rateFor time.Duration, watchers, events int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "tug-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := store.StartEmbedded(ctx, store.EmbedConfig{Name: "bench", DataDir: dir, ClientListen: benchenv.FreeAddr(), PeerListen: benchenv.FreeAddr(), Logger: quiet})
	if err != nil {
		return err
	}
	defer m.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: m.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()

	var results []result

	srv, err := apiserver.New(ctx, apiserver.Config{Etcd: cli, Logger: quiet})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: 0}, Timeout: 30 * time.Second}
	doAs := func(ctype, method, url string, body []byte, want int) error {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", ctype)
		}
		if ctype == protobufType {
			req.Header.Set("Accept", protobufType+", application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return nil
	}
	do := func(method, url string, body []byte, want int) error {
		return doAs("application/json", method, url, body, want)
	}
	for _, ns := range []string{"bench", "rate", "watch", "list"} {
		if err := do("POST", base+"/api/v1/namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+ns+`"}}`), 201); err != nil {
			return err
		}
	}

	// 2. API creates, gets and lists at the same concurrency.
	cmPath := "/api/v1/namespaces/bench/configmaps"
	cmURL := base + cmPath
	// Raw etcd puts and API creates alternate for several rounds, so a slow patch of the machine
	// hits both alike; each round's ratio is reported and the median summarises them.
	type summary struct {
		conc                     int
		ratios, pbRatio, h2Ratio []float64
	}
	// An HTTP/2 cleartext client multiplexes every request on one connection, as the raw etcd
	// client does with gRPC and as kubectl will over TLS.
	h2t := &http.Transport{Protocols: new(http.Protocols)}
	h2t.Protocols.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: h2t, Timeout: 30 * time.Second}
	var sums []summary
	for _, cc := range levels {
		var ratios, pbRatios, h2Ratios []float64
		for round := 0; round < rounds; round++ {
			val := configMap("raw", "x")
			rawR, err := parallel(fmt.Sprintf("c=%d round %d: etcd put (raw client)", cc, round+1), cc, n, func(i int) error {
				_, err := cli.Put(ctx, fmt.Sprintf("/bench/raw/%d/%d/%d", cc, round, i), string(val))
				return err
			})
			if err != nil {
				return err
			}
			// Bodies are built before the clock starts: the client's own encoding is not the
			// server's cost.
			bodies := make([][]byte, n)
			pbodies := make([][]byte, n)
			h2bodies := make([][]byte, n)
			for i := range bodies {
				bodies[i] = configMap("bench", fmt.Sprintf("cm-%d-%d-%d", cc, round, i))
				pbodies[i] = configMapProto("bench", fmt.Sprintf("pb-%d-%d-%d", cc, round, i))
				h2bodies[i] = configMap("bench", fmt.Sprintf("h2-%d-%d-%d", cc, round, i))
			}
			if profilePath != "" && round == 0 && cc == levels[0] {
				f, err := os.Create(profilePath)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			jsonR, err := rawParallel(fmt.Sprintf("c=%d round %d: API create (JSON)", cc, round+1), ln.Addr().String(), cc, n, func(rc *rawConn, i int) error {
				return expect(rc.do("POST", cmPath, "bench", "application/json", "application/json", bodies[i]))
			})
			if profilePath != "" && round == 0 && cc == levels[0] {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			pbR, err := rawParallel(fmt.Sprintf("c=%d round %d: API create (protobuf)", cc, round+1), ln.Addr().String(), cc, n, func(rc *rawConn, i int) error {
				return expect(rc.do("POST", cmPath, "bench", protobufType, protobufType+", application/json", pbodies[i]))
			})
			if err != nil {
				return err
			}
			h2R, err := parallel(fmt.Sprintf("c=%d round %d: API create (JSON, HTTP/2 cleartext, one connection)", cc, round+1), cc, n, func(i int) error {
				req, _ := http.NewRequestWithContext(ctx, "POST", cmURL, bytes.NewReader(h2bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				resp, err := h2c.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			})
			if err != nil {
				return err
			}
			results = append(results, rawR, jsonR, pbR, h2R)
			ratios = append(ratios, rawR.elapsed.Seconds()/jsonR.elapsed.Seconds())
			pbRatios = append(pbRatios, rawR.elapsed.Seconds()/pbR.elapsed.Seconds())
			h2Ratios = append(h2Ratios, rawR.elapsed.Seconds()/h2R.elapsed.Seconds())
		}
		sums = append(sums, summary{conc: cc, ratios: ratios, pbRatio: pbRatios, h2Ratio: h2Ratios})
	}
	var r result
	if r, err = parallel("API get", conc, n, func(i int) error {
		return do("GET", cmURL+fmt.Sprintf("/cm-%d-0-%d", levels[0], i%n), nil, 200)
	}); err != nil {
		return err
	}
	results = append(results, r)
	// Lists of a namespace holding 500 objects: consistent (the default; served from the watch
	// cache once it has caught up with etcd) and at any revision (resourceVersion=0).
	listURL := base + "/api/v1/namespaces/list/configmaps"
	if _, err := parallel("fill list namespace", conc, 500, func(i int) error {
		return do("POST", listURL, configMap("list", "l-"+strconv.Itoa(i)), 201)
	}); err != nil {
		return err
	}
	if r, err = parallel("API list of 500 (consistent, resourceVersion unset)", conc, n/20, func(i int) error {
		return do("GET", listURL, nil, 200)
	}); err != nil {
		return err
	}
	results = append(results, r)
	if r, err = parallel("API list of 500 (any revision, resourceVersion=0)", conc, n/20, func(i int) error {
		return do("GET", listURL+"?resourceVersion=0", nil, 200)
	}); err != nil {
		return err
	}
	results = append(results, r)

	// 3. Creates paced at a fixed rate, one request at a time per tick.
	total := int(float64(rate) * rateFor.Seconds())
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	var rateErr atomic.Value
	for i := 0; i < total; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := time.Now()
			if err := do("POST", base+"/api/v1/namespaces/rate/configmaps", configMap("rate", "r-"+strconv.Itoa(i)), 201); err != nil {
				rateErr.CompareAndSwap(nil, err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	tick.Stop()
	if err, _ := rateErr.Load().(error); err != nil {
		return err
	}
	results = append(results, result{name: fmt.Sprintf("API create at %d req/s", rate), ops: total, elapsed: time.Since(start), lat: lat})

	// 4. Watch fan-out: many watchers of one namespace, each event's delay from the start of
	// the write to each watcher's receipt.
	wr, err := watchFanout(ctx, base, watchers, events, do)
	if err != nil {
		return err
	}
	results = append(results, wr)

	fmt.Printf("Machine: %d CPUs, %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("%d objects per throughput phase; get and list at concurrency %d.\n\n", n, conc)
	fmt.Println("| phase | ops | ops/s | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Println(r.row())
	}
	fmt.Println("\n| concurrency | API create / raw etcd put, JSON, HTTP/1.1 (per round) | median | protobuf, HTTP/1.1 | median | JSON, HTTP/2 cleartext | median |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, sm := range sums {
		fmt.Printf("| %d | %s | %.2f | %s | %.2f | %s | %.2f |\n", sm.conc, fmtRatios(sm.ratios), median(sm.ratios),
			fmtRatios(sm.pbRatio), median(sm.pbRatio), fmtRatios(sm.h2Ratio), median(sm.h2Ratio))
	}
	return nil
}

func watchFanout(ctx context.Context, base string, watchers, events int, do func(string, string, []byte, int) error) (result, error) {
	url := base + "/api/v1/namespaces/watch/configmaps"
	if err := do("POST", url, configMap("watch", "target"), 201); err != nil {
		return result{}, err
	}
	type seen struct {
		rv string
		at time.Time
	}
	seenc := make(chan seen, watchers*events)
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: watchers}
	wc := &http.Client{Transport: tr}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ready sync.WaitGroup
	for i := 0; i < watchers; i++ {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(wctx, "GET", url+"?watch=true&resourceVersion=0", nil)
			resp, err := wc.Do(req)
			if err != nil {
				ready.Done()
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			first := true
			for sc.Scan() {
				var ev struct {
					Type   string `json:"type"`
					Object struct {
						Metadata struct {
							ResourceVersion string `json:"resourceVersion"`
						} `json:"metadata"`
					} `json:"object"`
				}
				if json.Unmarshal(sc.Bytes(), &ev) != nil {
					continue
				}
				if first { // the synthetic ADDED of the existing object: the watch is live
					first = false
					ready.Done()
					continue
				}
				seenc <- seen{rv: ev.Object.Metadata.ResourceVersion, at: time.Now()}
			}
		}()
	}
	ready.Wait()
	written := map[string]time.Time{}
	for i := 0; i < events; i++ {
		req, _ := http.NewRequestWithContext(ctx, "PATCH", url+"/target", bytes.NewReader([]byte(`{"data":{"n":"`+strconv.Itoa(i)+`"}}`)))
		req.Header.Set("Content-Type", "application/merge-patch+json")
		t0 := time.Now() // measured from before the write, so the etcd commit counts too
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return result{}, err
		}
		var obj struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&obj)
		resp.Body.Close()
		written[obj.Metadata.ResourceVersion] = t0
		time.Sleep(200 * time.Millisecond)
	}
	var lat []time.Duration
	deadline := time.After(30 * time.Second)
	for len(lat) < watchers*events {
		select {
		case s := <-seenc:
			if w, ok := written[s.rv]; ok {
				lat = append(lat, s.at.Sub(w))
			}
		case <-deadline:
			return result{}, fmt.Errorf("watch fan-out: %d of %d deliveries within 30s", len(lat), watchers*events)
		}
	}
	return result{name: fmt.Sprintf("watch delivery, %d watchers × %d events", watchers, events), ops: len(lat), lat: lat}, nil
}
