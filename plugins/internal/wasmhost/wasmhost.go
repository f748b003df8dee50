// Package wasmhost runs a plugin module of this repository's plugins/ on wazero for tests:
// a minimal host of the ABI's call protocol (ABI.md §2, §5) — _initialize, tug_alloc, the
// operation export, set_result and log — which is all a test of plugin decisions needs.
// tug's own host (runtime/, which this module does not import: it would bring the whole
// server's dependencies) adds pools, deadlines, memory caps and hot swap; core/ and bench/
// run the modules on it.
//
// wazero's interpreter runs the module: it compiles a Go guest in about half a second where
// the compiler takes five, and every package's test binary loads a module once. The cases
// are small, and both engines run the same module bytes with the same semantics.
package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tugboat-io/tug/hostabi"
)

// Host is a loaded module and its one instance. A call that traps discards the
// instance; the next call gets a fresh one from the compiled module.
type Host struct {
	ctx      context.Context
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	mod      api.Module // nil after a trap
	// The instance's exports, looked up once, as tug's host does (runtime/instance.go): a
	// function's call engine and the stack it grows are wazero's per api.Function, so a
	// lookup per call would make each call set them up again.
	fns map[string]api.Function

	// The call being served, and where its logs go.
	result []byte
	stderr bytes.Buffer
	tb     testing.TB
}

var loaded sync.Map // package path → *loading

type loading struct {
	once sync.Once
	host *Host
	err  error
}

// Load builds the main package pkg (relative to the plugins module, "./scheduler/cmd/defaults")
// to wasm and loads it, once per test binary and package.
func Load(pkg string) (*Host, error) { return load(pkg, false) }

// LoadCompiled is Load with wazero's compiler instead of its interpreter: for benchmarks,
// whose numbers should be what tug's own host (which compiles) would see.
func LoadCompiled(pkg string) (*Host, error) { return load(pkg, true) }

func load(pkg string, compiled bool) (*Host, error) {
	key := pkg
	if compiled {
		key += " (compiled)"
	}
	v, _ := loaded.LoadOrStore(key, &loading{})
	l := v.(*loading)
	l.once.Do(func() { l.host, l.err = newHost(pkg, compiled) })
	return l.host, l.err
}

func newHost(pkg string, compiled bool) (*Host, error) {
	dir, err := moduleDir()
	if err != nil {
		return nil, err
	}
	bin, err := build(dir, pkg)
	if err != nil {
		return nil, err
	}
	h := &Host{ctx: context.Background()}
	cfg := wazero.NewRuntimeConfigInterpreter()
	if compiled {
		cfg = wazero.NewRuntimeConfigCompiler()
	}
	h.rt = wazero.NewRuntimeWithConfig(h.ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(h.ctx, h.rt); err != nil {
		return nil, fmt.Errorf("wasi: %w", err)
	}
	i32 := api.ValueTypeI32
	_, err = h.rt.NewHostModuleBuilder(hostabi.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(h.setResult), []api.ValueType{i32, i32}, nil).
		Export(hostabi.ImportSetResult).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(h.log), []api.ValueType{i32, i32, i32}, nil).
		Export(hostabi.ImportLog).
		Instantiate(h.ctx)
	if err != nil {
		return nil, fmt.Errorf("host module %s: %w", hostabi.ImportModule, err)
	}
	if h.compiled, err = h.rt.CompileModule(h.ctx, bin); err != nil {
		return nil, fmt.Errorf("compiling %s: %w", pkg, err)
	}
	if err := h.instantiate(); err != nil {
		return nil, err
	}
	return h, nil
}

// moduleDir is the directory of the plugins module's go.mod, above the test's package.
func moduleDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// build builds pkg as plugin authors build modules (and as the Makefile builds the ones tug
// embeds).
func build(dir, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "tug-plugin-wasm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s in %s: %w\n%s", pkg, dir, err, b)
	}
	return os.ReadFile(out)
}

// memoryLimit is the memory cap tug's host gives a plugin by default (runtime's
// DefaultMemoryLimitPages: 64 MiB), which sets the guest's GOMEMLIMIT below.
const memoryLimit = 64 << 20

// instantiate makes a fresh instance and runs the reactor's _initialize, as the host does.
//
// The instance gets the environment tug's host gives every instance (runtime/module.go):
// GOGC=off and GOMEMLIMIT at 80% of the plugin's memory cap, so that a Go guest collects
// only near its cap. Without them a Go guest collects whenever its heap doubles, a cost
// the product does not pay per call, and benchmarks here would measure it. (This host
// does not enforce the cap itself; the limit only tunes the guest's collector.)
func (h *Host) instantiate() error {
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStderr(&h.stderr).WithStdout(&h.stderr).
		WithEnv("GOGC", "off").
		WithEnv("GOMEMLIMIT", fmt.Sprintf("%dKiB", memoryLimit*8/10/1024))
	mod, err := h.rt.InstantiateModule(h.ctx, h.compiled, cfg)
	if err != nil {
		return fmt.Errorf("instantiating the module: %w", err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(h.ctx); err != nil {
			return fmt.Errorf("_initialize: %w%s", err, h.output())
		}
	}
	h.mod, h.fns = mod, map[string]api.Function{}
	return nil
}

// fn is the instance's export name, nil if it has none.
func (h *Host) fn(name string) api.Function {
	f, ok := h.fns[name]
	if !ok {
		f = h.mod.ExportedFunction(name)
		h.fns[name] = f
	}
	return f
}

// output is what the guest wrote to stdout and stderr since the last call (a Go guest's
// panic, say), for an error message.
func (h *Host) output() string {
	if h.stderr.Len() == 0 {
		return ""
	}
	return "\nguest output:\n" + h.stderr.String()
}

// Call performs one operation: the input copied into a region from tug_alloc, the export
// called with it, the result set_result copied out. An error is a failure of the call
// itself (a trap), after which the instance is discarded.
func (h *Host) Call(tb testing.TB, export string, in []byte) (hostabi.Status, []byte, error) {
	if h.mod == nil {
		if err := h.instantiate(); err != nil {
			return hostabi.StatusError, nil, err
		}
	}
	h.tb, h.result = tb, nil
	h.stderr.Reset()
	defer func() { h.tb = nil }()
	fn := h.fn(export)
	if fn == nil {
		return hostabi.StatusError, nil, fmt.Errorf("the module does not export %s", export)
	}
	res, err := h.fn(hostabi.ExportAlloc).Call(h.ctx, uint64(len(in)))
	if err != nil {
		return h.trapped(hostabi.ExportAlloc, err)
	}
	ptr := uint32(res[0])
	if ptr == 0 && len(in) > 0 {
		return hostabi.StatusError, nil, fmt.Errorf("%s(%d) answered 0", hostabi.ExportAlloc, len(in))
	}
	if !h.mod.Memory().Write(ptr, in) {
		return hostabi.StatusError, nil, fmt.Errorf("%s(%d) answered %#x, past the end of memory", hostabi.ExportAlloc, len(in), ptr)
	}
	if res, err = fn.Call(h.ctx, uint64(ptr), uint64(len(in))); err != nil {
		return h.trapped(export, err)
	}
	return hostabi.Status(int32(res[0])), h.result, nil
}

func (h *Host) trapped(export string, err error) (hostabi.Status, []byte, error) {
	err = fmt.Errorf("%s trapped: %w%s", export, err, h.output())
	_ = h.mod.Close(h.ctx)
	h.mod = nil
	return hostabi.StatusError, nil, err
}

// setResult is tug:host/v1.set_result: it copies the bytes at once; the last call wins.
func (h *Host) setResult(_ context.Context, mod api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%s(%#x, %d) is past the end of memory", hostabi.ImportSetResult, ptr, n))
	}
	h.result = bytes.Clone(b)
}

// log is tug:host/v1.log: the message goes to the test's log.
func (h *Host) log(_ context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%s(%d, %#x, %d) is past the end of memory", hostabi.ImportLog, level, ptr, n))
	}
	if h.tb != nil {
		h.tb.Logf("plugin log (level %d): %s", level, b)
	}
}
