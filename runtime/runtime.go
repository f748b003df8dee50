package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"golang.org/x/sys/cpu"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/wasmbin"
	"github.com/tugboat-io/tug/runtime/internal/interrupt"
)

// Config configures a Runtime. The zero value works: no on-disk cache, slog.Default, no
// metrics registration.
type Config struct {
	// CacheDir, if set, keeps compiled code on disk (wazero.NewCompilationCacheWithDir), so a
	// restarted process does not compile the same plugin again. It is created if missing.
	CacheDir string
	// Logger receives the runtime's logs and the guests' (log import, stdout, stderr), with
	// attributes component=runtime, plugin=NAME, version=sha256:DIGEST.
	Logger *slog.Logger
	// Registerer, if set, registers the metrics tug_plugin_calls_total,
	// tug_plugin_call_duration_seconds and tug_plugin_instances.
	Registerer prometheus.Registerer
}

// Runtime is a wasm engine (one wazero.Runtime) hosting plugins. It is safe for concurrent use.
type Runtime struct {
	wz      wazero.Runtime
	cache   wazero.CompilationCache
	engine  string
	log     *slog.Logger
	metrics *metrics
	wasi    map[string]wasmbin.FuncType

	mu      sync.Mutex
	closed  bool
	codes   map[string]*code // by digest
	modules map[*Module]struct{}
}

// code is a compiled module shared by every Module loaded from the same bytes.
type code struct {
	digest string
	ready  chan struct{} // closed when cm, info and err are set
	cm     wazero.CompiledModule
	info   *moduleInfo
	err    error
	refs   int // guarded by Runtime.mu
}

// New creates a Runtime. It uses wazero's optimizing compiler where the platform supports
// it, and its interpreter elsewhere.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "runtime")
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("runtime: register metrics: %w", err)
	}
	// Deadlines stop guest loops through package interrupt's instrumentation, not wazero's
	// WithCloseOnContextDone, whose check leaves guest code at every loop head.
	rc, engine := engineConfig()
	r := &Runtime{engine: engine, log: log, metrics: met, codes: map[string]*code{}, modules: map[*Module]struct{}{}}
	if cfg.CacheDir != "" {
		r.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("runtime: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(r.cache)
	}
	r.wz = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := r.instantiateImports(ctx); err != nil {
		_ = r.wz.Close(ctx)
		if r.cache != nil {
			_ = r.cache.Close(ctx)
		}
		return nil, fmt.Errorf("runtime: %w", err)
	}
	log.Info("wasm runtime started", "engine", engine, "cache_dir", cfg.CacheDir)
	return r, nil
}

// engineConfig picks wazero's compiler where it is supported, its interpreter otherwise.
// (wazero.NewRuntimeConfigCompiler panics on a platform without compiler support, so this
// checks the same conditions wazero's own auto-detection does.)
func engineConfig() (wazero.RuntimeConfig, string) {
	supported := false
	switch goruntime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "windows", "dragonfly", "solaris", "illumos":
		switch goruntime.GOARCH {
		case "arm64":
			supported = goruntime.GOOS != "dragonfly" && goruntime.GOOS != "solaris" && goruntime.GOOS != "illumos"
		case "amd64":
			supported = cpu.X86.HasSSE41
		}
	}
	if supported && compilerWorks() {
		return wazero.NewRuntimeConfigCompiler(), "compiler"
	}
	return wazero.NewRuntimeConfigInterpreter(), "interpreter"
}

// compilerWorks compiles an empty function with the compiler, which fails where executable
// memory cannot be mapped (some hardened kernels, sandboxes).
func compilerWorks() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer r.Close(ctx)
	// (module (func)): a type section, a function section and a code section.
	bin := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type 0: () -> ()
		"\x03\x02\x01\x00" + // func 0: type 0
		"\x0a\x04\x01\x02\x00\x0b") // body: no locals, end
	_, err := r.CompileModule(ctx, bin)
	return err == nil
}

// instantiateImports instantiates the two import modules guests may use, once per Runtime:
// WASI preview 1 and tug:host/v1. Both are stateless; what differs per instance (stdout,
// stderr, clocks, randomness, the call being served) travels in the instance's
// wazero.ModuleConfig and in the call's context.
func (r *Runtime) instantiateImports(ctx context.Context) error {
	wasi, err := wasi_snapshot_preview1.NewBuilder(r.wz).Compile(ctx)
	if err != nil {
		return fmt.Errorf("compile WASI: %w", err)
	}
	r.wasi = map[string]wasmbin.FuncType{}
	for name, def := range wasi.ExportedFunctions() {
		r.wasi[name] = wasmbin.FuncType{Params: valueTypes(def.ParamTypes()), Results: valueTypes(def.ResultTypes())}
	}
	if _, err := r.wz.InstantiateModule(ctx, wasi, wazero.NewModuleConfig()); err != nil {
		return fmt.Errorf("instantiate WASI: %w", err)
	}
	i32 := api.ValueTypeI32
	_, err = r.wz.NewHostModuleBuilder(hostabi.ImportModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostSetResult), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").
		Export(hostabi.ImportSetResult).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").
		Export(hostabi.ImportLog).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", hostabi.ImportModule, err)
	}
	return nil
}

func valueTypes(ts []api.ValueType) []wasmbin.ValueType {
	out := make([]wasmbin.ValueType, len(ts))
	for i, t := range ts {
		out[i] = wasmbin.ValueType(t) // both are the binary encoding
	}
	return out
}

// Load compiles (or reuses, for bytes already loaded) and validates a plugin module, brings
// up one instance as a probe — _initialize, the ABI version check, tug_configure with
// opts.Config, OnNewInstance — and returns the Module with that instance warm in its pool.
//
// The module is addressed by the sha256 digest of wasm: loading the same bytes again reuses
// the compiled code, under its own name, options and pool.
//
// Every error names the plugin and says what is wrong; it wraps ErrInvalidModule for a module
// that is not a valid tug plugin, ErrInvalidConfig for a refused configuration, and the call
// errors (ErrTrap, ErrDeadline, …) for a probe that failed while starting.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte, opts PluginOptions) (*Module, error) {
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	fail := func(err error) (*Module, error) {
		return nil, fmt.Errorf("plugin %q (%s): %w", name, shortDigest(digest), err)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	c, cached, err := r.acquireCode(ctx, digest, wasm)
	if err != nil {
		return fail(err)
	}
	compiled := time.Since(start)
	m, err := newModule(r, name, c, opts)
	if err != nil {
		r.releaseCode(ctx, c)
		return fail(err)
	}
	// The probe: the first instance checks what only running the module can tell.
	probe, err := m.newInstance(ctx, true)
	if err != nil {
		m.closeNow(ctx)
		return nil, err // newInstance's errors name the plugin already
	}
	m.mu.Lock()
	m.idle = append(m.idle, probe)
	m.mu.Unlock()

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		m.closeNow(ctx)
		return fail(ErrClosed)
	}
	r.modules[m] = struct{}{}
	r.mu.Unlock()
	m.log.Info("plugin loaded", "kinds", m.info.kinds, "compile", compiled, "compiled_before", cached,
		"ready", time.Since(start), "memory_limit", size(uint64(opts.MemoryLimitPages)*pageSize),
		"pool", opts.PoolSize, "failure_policy", opts.FailurePolicy)
	return m, nil
}

// acquireCode returns the compiled module for digest, compiling and checking wasm if no
// Module holds it. cached reports whether it was already compiled.
func (r *Runtime) acquireCode(ctx context.Context, digest string, wasm []byte) (c *code, cached bool, err error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, false, fmt.Errorf("runtime: %w", ErrClosed)
	}
	c, cached = r.codes[digest]
	if !cached {
		c = &code{digest: digest, ready: make(chan struct{})}
		r.codes[digest] = c
	}
	c.refs++
	r.mu.Unlock()

	if !cached {
		c.info, c.cm, c.err = r.compile(ctx, wasm)
		close(c.ready)
	} else {
		select {
		case <-c.ready:
		case <-ctx.Done():
			r.releaseCode(ctx, c)
			return nil, false, ctx.Err()
		}
	}
	if c.err != nil {
		err := c.err
		r.releaseCode(ctx, c)
		return nil, false, err
	}
	return c, cached, nil
}

// compile checks the module's interface, then compiles it.
func (r *Runtime) compile(ctx context.Context, wasm []byte) (*moduleInfo, wazero.CompiledModule, error) {
	bin, err := wasmbin.Parse(wasm)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	info, err := inspect(bin, r.wasi)
	if err != nil {
		return nil, nil, err
	}
	wasm, err = interrupt.Instrument(wasm)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	cctx := experimental.WithCompilationWorkers(ctx, goruntime.GOMAXPROCS(0))
	cm, err := r.wz.CompileModule(cctx, wasm)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	return info, cm, nil
}

// releaseCode drops a reference to c, closing the compiled module with the last one.
func (r *Runtime) releaseCode(ctx context.Context, c *code) {
	r.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && r.codes[c.digest] == c {
		delete(r.codes, c.digest)
	}
	r.mu.Unlock()
	if last && c.cm != nil {
		_ = c.cm.Close(ctx)
	}
}

func (r *Runtime) forget(m *Module) {
	r.mu.Lock()
	delete(r.modules, m)
	r.mu.Unlock()
}

// Close closes every Module still open (waiting, up to ctx, for calls in flight), then the
// engine and the compilation cache. Calls after Close fail with ErrClosed.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	mods := make([]*Module, 0, len(r.modules))
	for m := range r.modules {
		mods = append(mods, m)
	}
	r.mu.Unlock()
	var errs []error
	for _, m := range mods {
		errs = append(errs, m.Close(ctx))
	}
	errs = append(errs, r.wz.Close(ctx))
	if r.cache != nil {
		errs = append(errs, r.cache.Close(ctx))
	}
	r.log.Info("wasm runtime closed")
	return errors.Join(errs...)
}
