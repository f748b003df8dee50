package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tugboat-io/tug/hostabi"
)

// The guests are Go programs under testdata/guests, built for wasip1 once per test binary
// and shared by every test and benchmark. So is one Runtime (with an on-disk compilation
// cache), so that each distinct module is compiled once.

type guestBuild struct {
	name    string
	pkg     string // under testdata/guests
	ldflags string
	command bool // build a command (exports _start) instead of a reactor
}

var guestBuilds = []guestBuild{
	{name: "filter-a", pkg: "filter", ldflags: "-X main.tag=a"},
	{name: "filter-b", pkg: "filter", ldflags: "-X main.tag=b"},
	{name: "filter-command", pkg: "filter", command: true},
	{name: "misbehave", pkg: "misbehave"},
	{name: "minimal", pkg: "minimal"},
	{name: "noalloc", pkg: "noalloc"},
	{name: "abiv2", pkg: "abiv2"},
	{name: "badimport", pkg: "badimport"},
	{name: "nokind", pkg: "nokind"},
	{name: "badsig", pkg: "badsig"},
}

var (
	guests  = map[string][]byte{}
	testRT  *Runtime
	testReg *prometheus.Registry
	testLog = &logCapture{}
	// good is a well-behaved plugin loaded for the whole run: after every misbehaviour the
	// tests check that it still serves.
	good *Module
	// cacheDir is testRT's compilation cache.
	cacheDir string
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "tug-runtime-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	// A child run of TestFlawedHost needs only the Runtime.
	flawChild := os.Getenv("TUG_HOST_FLAW") != ""
	if !flawChild {
		if err := buildGuests(filepath.Join(tmp, "guests")); err != nil {
			return 0, err
		}
	}
	ctx := context.Background()
	cacheDir = filepath.Join(tmp, "cache")
	testReg = prometheus.NewRegistry()
	testRT, err = New(ctx, Config{CacheDir: cacheDir, Logger: slog.New(testLog), Registerer: testReg})
	if err != nil {
		return 0, err
	}
	// A generous deadline: this plugin must answer even when a test has the CPUs busy.
	if !flawChild {
		good, err = testRT.Load(ctx, "good", guests["filter-a"], PluginOptions{PoolSize: 2, Deadline: 10 * time.Second})
		if err != nil {
			return 0, err
		}
	}
	code := m.Run()
	if err := testRT.Close(ctx); err != nil {
		return 0, err
	}
	return code, nil
}

// buildGuests builds every guest into dir, a few at a time.
func buildGuests(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, max(2, goruntime.GOMAXPROCS(0)))
	)
	for _, g := range guestBuilds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out := filepath.Join(dir, g.name+".wasm")
			args := []string{"build", "-trimpath", "-o", out}
			if !g.command {
				args = append(args, "-buildmode=c-shared")
			}
			if g.ldflags != "" {
				args = append(args, "-ldflags", g.ldflags)
			}
			args = append(args, "./testdata/guests/"+g.pkg)
			// go test puts its own GOROOT/bin first in PATH, so this is the toolchain
			// running the tests.
			cmd := exec.Command("go", args...)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
			output, err := cmd.CombinedOutput()
			var wasm []byte
			if err == nil {
				wasm, err = os.ReadFile(out)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("build guest %s: %w\n%s", g.name, err, output))
				return
			}
			guests[g.name] = wasm
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// load loads a guest under name and closes it when the test ends.
func load(t testing.TB, name, guest string, opts PluginOptions) *Module {
	t.Helper()
	m, err := testRT.Load(context.Background(), name, guests[guest], opts)
	if err != nil {
		t.Fatalf("load %s as %q: %v", guest, name, err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// encodeIDs is the filter input: u32 count | u32 id × count.
func encodeIDs(ids ...uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(ids)))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

// decodeRejections reads the filter output: u32 count | {u32 id | u32 code | u32 len | reason}.
func decodeRejections(b []byte) (map[uint32]string, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("short output (%d bytes)", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	out := map[uint32]string{}
	for i := uint32(0); i < n; i++ {
		if len(b) < 12 {
			return nil, fmt.Errorf("rejection %d truncated", i)
		}
		id, code, l := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
		if code != uint32(hostabi.CodeUnschedulable) || uint32(len(b)-12) < l {
			return nil, fmt.Errorf("rejection %d: code %d, reason length %d", i, code, l)
		}
		out[id] = string(b[12 : 12+l])
		b = b[12+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the rejections", len(b))
	}
	return out, nil
}

// checkFilter calls a filter and checks that it rejects exactly the odd ids among 1..6.
func checkFilter(t testing.TB, call func(context.Context, string, []byte) ([]byte, hostabi.Status, error), reason string) {
	t.Helper()
	out, status, err := call(context.Background(), hostabi.ExportSchedFilter, encodeIDs(1, 2, 3, 4, 5, 6))
	if err != nil || status != hostabi.StatusOK {
		t.Fatalf("filter: status %v, error %v", status, err)
	}
	rej, err := decodeRejections(out)
	if err != nil {
		t.Fatalf("filter output: %v", err)
	}
	want := map[uint32]string{1: reason, 3: reason, 5: reason}
	if fmt.Sprint(rej) != fmt.Sprint(want) {
		t.Fatalf("filter rejected %v, want %v", rej, want)
	}
}

// stillServing asserts that the well-behaved plugin is unaffected by whatever just happened.
func stillServing(t testing.TB) {
	t.Helper()
	checkFilter(t, good.Call, "odd")
}

// logCapture is a slog.Handler that records everything, for tests to search.
type logCapture struct {
	mu    sync.Mutex
	recs  []logRecord
	attrs []slog.Attr
	root  *logCapture
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	root := h.rootOf()
	root.mu.Lock()
	root.recs = append(root.recs, rec)
	root.mu.Unlock()
	return nil
}

func (h *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), root: h.rootOf()}
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

func (h *logCapture) rootOf() *logCapture {
	if h.root != nil {
		return h.root
	}
	return h
}

// find returns the records whose message contains msg.
func (h *logCapture) find(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.recs {
		if strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

// gaugeSum sums tug_plugin_instances over the series whose plugin label is in plugins (all
// series if plugins is empty).
func gaugeSum(t testing.TB, plugins ...string) float64 {
	t.Helper()
	return metricSum(t, "tug_plugin_instances", func(labels map[string]string) bool {
		if len(plugins) == 0 {
			return true
		}
		for _, p := range plugins {
			if labels["plugin"] == p {
				return true
			}
		}
		return false
	})
}

// metricSum sums the values (counter, gauge, or histogram sample count) of a metric family
// over the series that match.
func metricSum(t testing.TB, name string, match func(map[string]string) bool) float64 {
	t.Helper()
	families, err := testReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if !match(labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}
