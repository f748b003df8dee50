package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

func TestLoadWellBehaved(t *testing.T) {
	m := load(t, "filter", "filter-a", PluginOptions{})
	sum := sha256.Sum256(guests["filter-a"])
	if got, want := m.Digest(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest() = %s, want %s", got, want)
	}
	if got, want := m.Kinds(), []hostabi.Kind{hostabi.KindSchedulerFilter, hostabi.KindAdmission}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
	if !m.Exports(hostabi.ExportSchedFilter) || m.Exports(hostabi.ExportSchedNormalize) {
		t.Errorf("Exports: filter %v, normalize %v", m.Exports(hostabi.ExportSchedFilter), m.Exports(hostabi.ExportSchedNormalize))
	}
	if m.Instances() != 1 {
		t.Errorf("after Load, %d instances, want the probe (1)", m.Instances())
	}
	if m.Ignore() || m.FailurePolicy() != Fail {
		t.Errorf("default failure policy: %v", m.FailurePolicy())
	}
	checkFilter(t, m.Call, "odd")

	// A result may be empty: prefilter answers OK with nothing.
	out, status, err := m.Call(context.Background(), hostabi.ExportSchedPreFilter, []byte(`{"kind":"Pod"}`))
	if err != nil || status != hostabi.StatusOK || len(out) != 0 {
		t.Errorf("prefilter: %q, %v, %v", out, status, err)
	}
	// tug_configure is not callable: configuration is per version.
	_, status, err = m.Call(context.Background(), hostabi.ExportConfigure, []byte(`{}`))
	if status != hostabi.StatusUnsupported || err == nil {
		t.Errorf("calling tug_configure: status %v, error %v; want UNSUPPORTED", status, err)
	}
	_, status, err = m.Call(context.Background(), hostabi.ExportSchedScore, encodeIDs(1))
	if status != hostabi.StatusUnsupported || err == nil || !strings.Contains(err.Error(), "not exported") {
		t.Errorf("calling a missing export: status %v, error %v; want UNSUPPORTED", status, err)
	}
}

func TestLoadReusesCompiledCode(t *testing.T) {
	a := load(t, "reuse-a", "minimal", PluginOptions{})
	b := load(t, "reuse-b", "minimal", PluginOptions{})
	if a.code != b.code {
		t.Fatal("two loads of the same bytes compiled twice")
	}
	testRT.mu.Lock()
	refs := a.code.refs
	testRT.mu.Unlock()
	if refs != 2 {
		t.Errorf("refs = %d, want 2", refs)
	}
	ctx := context.Background()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Call(ctx, hostabi.ExportAdmit, nil); err != nil {
		t.Fatalf("the other Module broke when its twin closed: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testRT.mu.Lock()
	_, held := testRT.codes[a.Digest()]
	testRT.mu.Unlock()
	if held {
		t.Error("compiled code still held after both Modules closed")
	}
	// The on-disk cache has something in it.
	entries, err := os.ReadDir(cacheDir)
	if err != nil || len(entries) == 0 {
		t.Errorf("compilation cache dir %s: %d entries, %v", cacheDir, len(entries), err)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wasm  []byte
		opts  PluginOptions
		is    error
		wants []string
	}{
		{name: "garbage bytes", wasm: []byte("#!/bin/sh\necho hi\n"), is: ErrInvalidModule,
			wants: []string{"not a WebAssembly binary"}},
		{name: "truncated", wasm: guests["minimal"][:1000], is: ErrInvalidModule},
		{name: "no tug_alloc", wasm: guests["noalloc"], is: ErrInvalidModule,
			wants: []string{`missing export "tug_alloc" (i32) -> i32`}},
		{name: "ABI 2", wasm: guests["abiv2"], is: ErrInvalidModule,
			wants: []string{"speaks ABI 2.0", "this host serves 1.0"}},
		{name: "unknown host import", wasm: guests["badimport"], is: ErrInvalidModule,
			wants: []string{"imports unknown host function tug:host/v1.open_socket"}},
		{name: "no kind", wasm: guests["nokind"], is: ErrInvalidModule,
			wants: []string{"implements no plugin kind"}},
		{name: "bad signature", wasm: guests["badsig"], is: ErrInvalidModule,
			wants: []string{`export "tug_admit" has signature (i32) -> i32, want (i32, i32) -> i32`,
				"exports tug_sched_filter but not tug_sched_nodes, tug_sched_prefilter, which kind scheduler-filter requires"}},
		{name: "command", wasm: guests["filter-command"], is: ErrInvalidModule,
			wants: []string{"exports _start", "-buildmode=c-shared"}},
		{name: "memory over the limit", wasm: guests["minimal"], opts: PluginOptions{MemoryLimitPages: 16}, is: ErrInvalidModule,
			wants: []string{"over the plugin's limit of 16 pages (1 MiB)"}},
		{name: "config without tug_configure", wasm: guests["minimal"], opts: PluginOptions{Config: []byte(`{"x":1}`)},
			is: ErrInvalidConfig, wants: []string{"no tug_configure export, so it accepts only {}"}},
		{name: "config refused", wasm: guests["filter-a"], opts: PluginOptions{Config: []byte(`{"bogus": 1}`)},
			is: ErrInvalidConfig, wants: []string{`tug_configure: refused its configuration: unknown field "bogus"`}},
		{name: "config refused by a misbehaving guest", wasm: guests["misbehave"], opts: PluginOptions{Config: []byte(`{"refuse": true}`)},
			is: ErrInvalidConfig, wants: []string{"refusing: threshold must be positive"}},
		{name: "configure panics", wasm: guests["misbehave"], opts: PluginOptions{Config: []byte(`{"panic": true}`)},
			is: ErrTrap, wants: []string{"tug_configure: trapped: wasm error: unreachable (panic: configure exploded)"}},
		{name: "bad failure policy", wasm: guests["minimal"], opts: PluginOptions{FailurePolicy: "Sometimes"},
			wants: []string{`unknown failure policy "Sometimes"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "refused-" + strings.ReplaceAll(tc.name, " ", "-")
			m, err := testRT.Load(context.Background(), name, tc.wasm, tc.opts)
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error does not wrap %v", tc.is)
			}
			if !strings.Contains(err.Error(), `plugin "`+name+`"`) {
				t.Errorf("error does not name the plugin")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q", want)
				}
			}
			if n := gaugeSum(t, name); n != 0 {
				t.Errorf("%v instances left behind", n)
			}
			stillServing(t)
		})
	}
}

func TestConfigure(t *testing.T) {
	m := load(t, "configured", "filter-a", PluginOptions{Config: []byte(` {"reason": "odd one out"} `)})
	checkFilter(t, m.Call, "odd one out")
}

// TestMisbehaving runs each misbehaviour on a plugin with a pool of one instance, and checks
// that it is contained: a clear error naming the plugin, the instance discarded if the
// failure was the instance's (or kept, for a guest's own ERROR), and the host still serving.
func TestMisbehaving(t *testing.T) {
	const limitPages = 256 // 16 MiB
	m := load(t, "wild", "misbehave", PluginOptions{
		PoolSize:         1,
		MemoryLimitPages: limitPages,
		MaxResultBytes:   1 << 20,
		Deadline:         2 * time.Second, // generous: the other calls must never hit it on a loaded CI machine
	})
	ctx := context.Background()
	count := func() int {
		t.Helper()
		out, _, err := m.Call(ctx, hostabi.ExportAdmit, []byte("count"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		n, err := strconv.Atoi(string(out))
		if err != nil {
			t.Fatalf("count: %q", out)
		}
		return n
	}
	for _, tc := range []struct {
		input   string
		ctx     context.Context
		status  hostabi.Status
		is      error
		wants   []string
		discard bool
		result  string // the result expected with the error, if any
	}{
		{input: "loop", ctx: WithCallDeadline(ctx, 50*time.Millisecond), status: hostabi.StatusError, is: ErrDeadline,
			wants: []string{"exceeded its 50ms deadline"}, discard: true},
		{input: "sleep", status: hostabi.StatusError, is: ErrDeadline,
			wants: []string{"exceeded its 2s deadline"}, discard: true},
		{input: "panic", status: hostabi.StatusError, is: ErrTrap,
			wants: []string{"trapped: wasm error: unreachable (panic: boom)"}, discard: true},
		{input: "oob", status: hostabi.StatusError, is: ErrTrap,
			wants: []string{"trapped: wasm error: out of bounds memory access"}, discard: true},
		{input: "bomb", status: hostabi.StatusError, is: ErrMemoryLimit,
			wants: []string{"exceeded its 16 MiB memory limit", "refused", "out of memory"}, discard: true},
		{input: "huge:2097152", status: hostabi.StatusError, is: ErrResultTooLarge,
			wants: []string{"result of 2097152 bytes exceeds the 1 MiB limit"}, discard: true},
		{input: "status77", status: hostabi.StatusError, is: ErrBadStatus,
			wants: []string{"returned 77, which is not a status (treated as ERROR): made up"}, discard: true, result: "made up"},
		{input: "setresult-oob", status: hostabi.StatusError, is: ErrTrap,
			wants: []string{"trapped: set_result(0xfffffff0, 64) is past the end of its"}, discard: true},
		{input: "exit", status: hostabi.StatusError, is: ErrTrap,
			wants: []string{"trapped: exited with code 3"}, discard: true},
		{input: "error", status: hostabi.StatusError,
			wants: []string{"tug_admit: ERROR: nope"}, result: "nope"},
		{input: "what", status: hostabi.StatusInvalidInput,
			wants: []string{`tug_admit: INVALID_INPUT: unknown misbehaviour "what"`}, result: `unknown misbehaviour "what"`},
	} {
		t.Run(tc.input, func(t *testing.T) {
			before := count()
			if tc.ctx == nil {
				tc.ctx = ctx
			}
			out, status, err := m.Call(tc.ctx, hostabi.ExportAdmit, []byte(tc.input))
			if err == nil {
				t.Fatalf("no error; result %q", out)
			}
			t.Log(err)
			if status != tc.status {
				t.Errorf("status %v, want %v", status, tc.status)
			}
			var pe *PluginError
			if !errors.As(err, &pe) {
				t.Fatalf("error is a %T, not a *PluginError", err)
			}
			if pe.Plugin != "wild" || pe.Version != m.Digest() || pe.Export != hostabi.ExportAdmit || pe.Status != status {
				t.Errorf("PluginError{Plugin: %q, Version: %q, Export: %q, Status: %v}", pe.Plugin, pe.Version, pe.Export, pe.Status)
			}
			if !strings.HasPrefix(err.Error(), `plugin "wild" (sha256:`+m.Digest()[:12]+") tug_admit: ") {
				t.Errorf("error does not start by naming the plugin and export")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q", want)
				}
			}
			for _, sentinel := range []error{ErrTrap, ErrDeadline, ErrMemoryLimit, ErrResultTooLarge, ErrBadStatus} {
				if got := errors.Is(err, sentinel); got != (sentinel == tc.is) {
					t.Errorf("errors.Is(err, %v) = %v", sentinel, got)
				}
			}
			if string(out) != tc.result {
				t.Errorf("result %q, want %q", out, tc.result)
			}
			// A discarded instance takes its state with it: the counter starts again.
			after := count()
			if tc.discard && after != 1 {
				t.Errorf("count after the failure is %d: the instance was not replaced", after)
			}
			if !tc.discard && after != before+1 {
				t.Errorf("count went from %d to %d: the instance was replaced after a guest ERROR", before, after)
			}
			if m.Instances() != 1 {
				t.Errorf("%d instances, want 1", m.Instances())
			}
			stillServing(t)
		})
	}
	if n := metricSum(t, "tug_plugin_calls_total", func(l map[string]string) bool {
		return l["plugin"] == "wild" && l["result"] == "trap"
	}); n != 4 {
		t.Errorf("tug_plugin_calls_total{result=trap} = %v, want 4 (panic, oob, setresult-oob, exit)", n)
	}
	if n := metricSum(t, "tug_plugin_calls_total", func(l map[string]string) bool {
		return l["plugin"] == "wild" && l["result"] == "deadline"
	}); n != 2 {
		t.Errorf("tug_plugin_calls_total{result=deadline} = %v, want 2", n)
	}
}

func TestResultsVerbatim(t *testing.T) {
	m := load(t, "verbatim", "misbehave", PluginOptions{})
	// Output that parses as nothing comes back as it is: parsing is the caller's job.
	out, status, err := m.Call(context.Background(), hostabi.ExportAdmit, []byte("garbage"))
	if err != nil || status != hostabi.StatusOK || string(out) != "\xff\xfe\x00\x01{" {
		t.Errorf("garbage: %q, %v, %v", out, status, err)
	}
	// The last set_result wins.
	out, _, err = m.Call(context.Background(), hostabi.ExportAdmit, []byte("twice"))
	if err != nil || string(out) != "second" {
		t.Errorf("twice: %q, %v", out, err)
	}
}

func TestGuestLogs(t *testing.T) {
	m := load(t, "chatty", "misbehave", PluginOptions{})
	if _, _, err := m.Call(context.Background(), hostabi.ExportAdmit, []byte("log")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		msg    string
		stream string
	}{
		{"hello from the guest", ""},
		{"to stderr", "stderr"},
		{"to stdout", "stdout"},
	} {
		recs := testLog.find(tc.msg)
		var found bool
		for _, r := range recs {
			if r.attrs["plugin"] == "chatty" && r.attrs["component"] == "runtime" &&
				r.attrs["version"] == "sha256:"+m.Digest()[:12] && r.attrs["stream"] == tc.stream {
				found = true
			}
		}
		if !found {
			t.Errorf("no log record %q with plugin, component, version and stream=%q attributes; got %v", tc.msg, tc.stream, recs)
		}
	}
}

func TestCapabilities(t *testing.T) {
	ctx := context.Background()
	call := func(m *Module, input string) []byte {
		t.Helper()
		out, _, err := m.Call(ctx, hostabi.ExportAdmit, []byte(input))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	nanos := func(b []byte) time.Time {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, n)
	}
	sandboxed := load(t, "sandboxed", "misbehave", PluginOptions{PoolSize: 1})
	granted := load(t, "granted", "misbehave", PluginOptions{PoolSize: 1, Capabilities: Capabilities{Clock: true, Random: true}})

	// Clock: the fake wall clock is wazero's fixed epoch (2022-01-01), the real one is now.
	if got := nanos(call(sandboxed, "time")); got.Year() != 2022 {
		t.Errorf("sandboxed plugin sees the time %v, want the fake clock", got)
	}
	if got := nanos(call(granted, "time")); time.Since(got).Abs() > time.Hour {
		t.Errorf("plugin granted the clock sees the time %v", got)
	}

	// Random: without the capability, every fresh instance draws the same bytes.
	draw := func(m *Module) []byte {
		t.Helper()
		out := call(m, "rand")
		// Throw the instance away, so the next draw is from a fresh one.
		if _, _, err := m.Call(ctx, hostabi.ExportAdmit, []byte("panic")); !errors.Is(err, ErrTrap) {
			t.Fatalf("panic: %v", err)
		}
		return out
	}
	if a, b := draw(sandboxed), draw(sandboxed); string(a) != string(b) {
		t.Errorf("sandboxed randomness differs between fresh instances: %x, %x", a, b)
	}
	if a, b := draw(granted), draw(granted); string(a) == string(b) {
		t.Errorf("granted randomness repeats: %x", a)
	}
}

func TestPoolBound(t *testing.T) {
	m := load(t, "pool", "minimal", PluginOptions{PoolSize: 2})
	ctx := context.Background()
	a, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Instances() != 2 || a.Generation() == b.Generation() {
		t.Errorf("%d instances, generations %d and %d", m.Instances(), a.Generation(), b.Generation())
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := m.Call(short, hostabi.ExportAdmit, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a third call with the pool busy: %v, want it to wait and time out", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Call(ctx, hostabi.ExportAdmit, nil)
		done <- err
	}()
	a.Release()
	a.Release() // harmless
	if err := <-done; err != nil {
		t.Errorf("call after a release: %v", err)
	}
	b.Release()
	if m.Instances() != 2 {
		t.Errorf("%d instances, want 2 (never more than PoolSize)", m.Instances())
	}
	if _, _, err := a.Call(ctx, hostabi.ExportAdmit, nil); err == nil {
		t.Error("Instance.Call after Release succeeded")
	}
}

// TestSessionsAndFreshInstances: OnNewInstance runs on every fresh instance before it
// serves; Acquire holds one instance for a sequence of calls; a failure in a session ends it.
func TestSessionsAndFreshInstances(t *testing.T) {
	var mu sync.Mutex
	var hooked []uint64
	m := load(t, "sessions", "misbehave", PluginOptions{PoolSize: 1, OnNewInstance: func(ctx context.Context, inst *Instance) error {
		// Replay "state": one count call, so that the count starts at 1.
		if _, _, err := inst.Call(ctx, hostabi.ExportAdmit, []byte("count")); err != nil {
			return err
		}
		inst.SetValue("replayed")
		mu.Lock()
		hooked = append(hooked, inst.Generation())
		mu.Unlock()
		return nil
	}})
	ctx := context.Background()
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Value() != "replayed" || inst.Module() != m || inst.Generation() != 1 {
		t.Errorf("probe instance: value %v, generation %d", inst.Value(), inst.Generation())
	}
	for want := 2; want <= 3; want++ {
		out, _, err := inst.Call(ctx, hostabi.ExportAdmit, []byte("count"))
		if err != nil || string(out) != strconv.Itoa(want) {
			t.Fatalf("count in session: %q, %v; want %d", out, err, want)
		}
	}
	if _, _, err := inst.Call(ctx, hostabi.ExportAdmit, []byte("panic")); !errors.Is(err, ErrTrap) {
		t.Fatalf("panic: %v", err)
	}
	_, _, err = inst.Call(ctx, hostabi.ExportAdmit, []byte("count"))
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "instance discarded after an earlier failure: trapped") {
		t.Errorf("call on a discarded instance: %v", err)
	}
	inst.Release()
	if m.Instances() != 0 {
		t.Errorf("%d instances after releasing a discarded one", m.Instances())
	}

	inst, err = m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	if inst.Generation() != 2 || inst.Value() != "replayed" {
		t.Errorf("fresh instance: generation %d, value %v", inst.Generation(), inst.Value())
	}
	if out, _, err := inst.Call(ctx, hostabi.ExportAdmit, []byte("count")); err != nil || string(out) != "2" {
		t.Errorf("count on the fresh instance: %q, %v; want 2 (the hook's call, then this one)", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(hooked, []uint64{1, 2}) {
		t.Errorf("OnNewInstance ran for generations %v, want [1 2]", hooked)
	}
}

func TestOnNewInstanceFailure(t *testing.T) {
	_, err := testRT.Load(context.Background(), "hookfail", guests["minimal"], PluginOptions{
		OnNewInstance: func(context.Context, *Instance) error { return errors.New("no node state") },
	})
	if err == nil || !strings.Contains(err.Error(), `plugin "hookfail"`) || !strings.Contains(err.Error(), "OnNewInstance: no node state") {
		t.Errorf("Load with a failing hook: %v", err)
	}
	if n := gaugeSum(t, "hookfail"); n != 0 {
		t.Errorf("%v instances left behind", n)
	}
}

// TestCloseInterrupts: Module.Close waits for calls in flight up to its context, then
// interrupts them.
func TestCloseInterrupts(t *testing.T) {
	m, err := testRT.Load(context.Background(), "closing", guests["misbehave"], PluginOptions{Deadline: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := m.Call(context.Background(), hostabi.ExportAdmit, []byte("loop"))
		errc <- err
	}()
	// Wait until the loop holds its instance.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		m.mu.Lock()
		busy := len(m.busy)
		m.mu.Unlock()
		if busy == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never started")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want it to report interrupting the call", err)
	}
	err = <-errc
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("interrupted call: %v", err)
	}
	if m.Instances() != 0 {
		t.Errorf("%d instances after Close", m.Instances())
	}
	if _, _, err := m.Call(context.Background(), hostabi.ExportAdmit, []byte("ok")); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
	stillServing(t)
}

// TestCancelInterrupts: cancelling the caller's context stops a looping guest long before its
// own deadline, the instance is discarded, and later calls on the pool of one are served: a
// late fire of the cancelled call stops nothing after it.
func TestCancelInterrupts(t *testing.T) {
	m := load(t, "cancelled", "misbehave", PluginOptions{Deadline: time.Minute, PoolSize: 1})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err := m.Call(ctx, hostabi.ExportAdmit, []byte("loop"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted: context canceled") {
		t.Fatalf("cancelled call: %v", err)
	}
	for range 100 {
		if _, _, err := m.Call(context.Background(), hostabi.ExportAdmit, []byte("ok")); err != nil {
			t.Fatalf("a call after the cancelled one: %v", err)
		}
	}
	stillServing(t)
}

func TestMetrics(t *testing.T) {
	m := load(t, "metered", "minimal", PluginOptions{})
	for range 3 {
		if _, _, err := m.Call(context.Background(), hostabi.ExportAdmit, nil); err != nil {
			t.Fatal(err)
		}
	}
	version := "sha256:" + m.Digest()[:12]
	if n := metricSum(t, "tug_plugin_calls_total", func(l map[string]string) bool {
		return l["plugin"] == "metered" && l["version"] == version && l["export"] == "tug_admit" && l["result"] == "ok"
	}); n != 3 {
		t.Errorf("calls_total = %v, want 3", n)
	}
	if n := metricSum(t, "tug_plugin_call_duration_seconds", func(l map[string]string) bool {
		return l["plugin"] == "metered" && l["export"] == "tug_admit"
	}); n != 3 {
		t.Errorf("call_duration_seconds count = %v, want 3", n)
	}
	if n := gaugeSum(t, "metered"); n != float64(m.Instances()) || n < 1 {
		t.Errorf("instances gauge = %v, Instances() = %d", n, m.Instances())
	}
}

func TestRuntimeClose(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Config{Logger: testRT.log, CacheDir: cacheDir}) // the on-disk cache spares a compile
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(ctx, "short-lived", guests["minimal"], PluginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Call(ctx, hostabi.ExportAdmit, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Runtime.Close: %v", err)
	}
	if _, err := rt.Load(ctx, "late", guests["minimal"], PluginOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Runtime.Close: %v", err)
	}
}

func TestDeadlineDefaults(t *testing.T) {
	ctx := context.Background()
	var defaults PluginOptions
	set := PluginOptions{Deadline: 3 * time.Second}
	for _, tc := range []struct {
		opts   PluginOptions
		ctx    context.Context
		export string
		want   time.Duration
	}{
		{defaults, ctx, hostabi.ExportSchedFilter, 100 * time.Millisecond},
		{defaults, ctx, hostabi.ExportSchedNodes, 100 * time.Millisecond},
		{defaults, ctx, hostabi.ExportAdmit, time.Second},
		{defaults, ctx, hostabi.ExportReconcile, time.Second},
		{set, ctx, hostabi.ExportSchedFilter, 3 * time.Second},
		{set, WithCallDeadline(ctx, 7*time.Millisecond), hostabi.ExportAdmit, 7 * time.Millisecond},
		{defaults, WithCallDeadline(ctx, 7*time.Millisecond), hostabi.ExportSchedScore, 7 * time.Millisecond},
	} {
		if got := tc.opts.deadline(tc.ctx, tc.export); got != tc.want {
			t.Errorf("deadline of %s with %v: %v, want %v", tc.export, tc.opts.Deadline, got, tc.want)
		}
	}
}
