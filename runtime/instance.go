package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/runtime/internal/memlimit"
)

// Instance is one instance of a plugin held by a caller between Module.Acquire (or
// Slot.Acquire) and Release, or handed to PluginOptions.OnNewInstance. It serves one call at a
// time; a handle is for one goroutine.
//
// Instances are long-lived and keep state between calls. Value and SetValue hold the
// caller's bookkeeping about that state — for a scheduler, the node-state revision the
// instance has seen, so that it sends each instance only the changes since (a fresh instance
// has a nil Value). The value is dropped with the instance.
type Instance struct {
	in       *instance
	released bool
	hook     bool // handed to OnNewInstance: not the caller's to release
}

// Call runs one operation on this instance; see Module.Call. After a failure that discards
// the instance, further calls fail at once: release it and acquire another.
func (i *Instance) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	if i.released {
		return nil, hostabi.StatusError, errors.New("runtime: Instance.Call after Release")
	}
	return i.in.m.invoke(ctx, i.in, export, input)
}

// MemoryBytes is the size of the instance's linear memory now: what the guest has grown it to,
// which is the instance's share of the memory cap.
func (i *Instance) MemoryBytes() uint64 {
	if mem := i.in.mod.Memory(); mem != nil {
		return uint64(mem.Size())
	}
	return 0
}

// Release returns the instance to its pool (or closes it, if a failure discarded it).
// Releasing twice is harmless.
func (i *Instance) Release() {
	if i.released || i.hook {
		return
	}
	i.released = true
	i.in.m.release(i.in)
}

// Module returns the plugin version the instance belongs to.
func (i *Instance) Module() *Module { return i.in.m }

// Generation numbers the instances of a Module in creation order, from 1 (the probe Load
// creates). A new number means a fresh instance that has lost any state its predecessor kept.
func (i *Instance) Generation() uint64 { return i.in.gen }

// Value returns what SetValue stored on this instance, nil for a fresh one.
func (i *Instance) Value() any { return i.in.value }

// SetValue stores v on the instance for whoever acquires it next.
func (i *Instance) SetValue(v any) { i.in.value = v }

// instance is one wazero module instance and the state of the call it is serving.
type instance struct {
	m      *Module
	mod    api.Module
	mem    *memlimit.Memory
	alloc  api.Function
	fns    map[string]api.Function // operation exports
	stack  [2]uint64
	gen    uint64
	value  any
	stdout *lineWriter
	stderr *lineWriter

	// The call being served; set by the host functions.
	result   []byte
	tooLarge uint64

	broken *PluginError // why the instance was discarded
	closed bool
	wire   tripwire
	// ctx is what guest code runs under: it carries the instance to the host functions.
	// Deadlines and cancellation reach the guest through wire, not through wazero.
	ctx context.Context
	// callerCtx is the context of the call being served, for the host functions' logs.
	callerCtx context.Context
}

type instanceKey struct{}

// newInstance instantiates the module and brings the instance up: _initialize (Go's and C's
// reactors initialize their runtime there; _start is never called), the ABI version check for
// the probe, tug_configure, OnNewInstance.
func (m *Module) newInstance(ctx context.Context, probe bool) (*instance, error) {
	in := &instance{
		m:      m,
		gen:    m.gens.Add(1),
		mem:    memlimit.New(uint64(m.opts.MemoryLimitPages) * pageSize),
		stdout: &lineWriter{log: m.log, level: slog.LevelInfo, stream: "stdout"},
		stderr: &lineWriter{log: m.log, level: slog.LevelWarn, stream: "stderr", keep: true},
	}
	in.ctx = context.WithValue(context.Background(), instanceKey{}, in)
	d := m.opts.InitDeadline
	ictx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	in.callerCtx = ictx
	cfg := m.config.WithStdout(in.stdout).WithStderr(in.stderr)
	mod, err := m.rt.wz.InstantiateModule(experimental.WithMemoryAllocator(in.ctx, in.mem.Allocator()), m.code.cm, cfg)
	if err != nil {
		pe, _ := m.failure(in, "instantiation", d, err, ictx.Err())
		return nil, pe
	}
	in.mod = mod
	m.live.Add(1)
	m.gauge.Inc()
	fail := func(err error) (*instance, error) {
		in.close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := in.wire.init(mod); err != nil {
		return fail(fmt.Errorf("plugin %q (%s): %w", m.name, shortDigest(m.Digest()), err))
	}

	if m.info.initialize {
		if why, err := in.wire.guard(ictx, d, func() error {
			_, err := mod.ExportedFunction("_initialize").Call(in.ctx)
			return err
		}); err != nil {
			pe, _ := m.failure(in, "_initialize", d, err, why)
			return fail(pe)
		}
	}
	if probe {
		var res []uint64
		why, err := in.wire.guard(ictx, d, func() (err error) {
			res, err = mod.ExportedFunction(hostabi.ExportABIVersion).Call(in.ctx)
			return err
		})
		if err != nil {
			pe, _ := m.failure(in, hostabi.ExportABIVersion, d, err, why)
			return fail(pe)
		}
		v := uint32(res[0])
		if major, minor := v>>16, v&0xffff; major != hostabi.Major || minor > hostabi.Minor {
			serves := fmt.Sprintf("%d.0", hostabi.Major)
			if hostabi.Minor > 0 {
				serves += fmt.Sprintf(" to %d.%d", hostabi.Major, hostabi.Minor)
			}
			return fail(fmt.Errorf("plugin %q (%s): %w: it speaks ABI %d.%d (%s returned %#x); this host serves %s",
				m.name, shortDigest(m.Digest()), ErrInvalidModule, major, minor, hostabi.ExportABIVersion, v, serves))
		}
	}
	in.alloc = mod.ExportedFunction(hostabi.ExportAlloc)
	in.fns = make(map[string]api.Function, len(m.info.ops))
	for op := range m.info.ops {
		in.fns[op] = mod.ExportedFunction(op)
	}
	if in.fns[hostabi.ExportConfigure] != nil {
		_, status, err := m.invoke(ictx, in, hostabi.ExportConfigure, m.opts.Config)
		if err != nil {
			var pe *PluginError
			if errors.As(err, &pe) && pe.Cause == nil && status == hostabi.StatusInvalidConfig {
				pe.Reason = "refused its configuration: " + pe.Reason
				pe.Cause = ErrInvalidConfig
			}
			return fail(err)
		}
		// Configuration is per version: a new one is a Swap, never a call.
		delete(in.fns, hostabi.ExportConfigure)
	}
	if probe && m.info.hosted {
		out, _, err := m.invoke(ictx, in, hostabi.ExportSchedPlugins, nil)
		if err != nil {
			return fail(err)
		}
		hosted, err := m.checkHosted(out)
		if err != nil {
			return fail(fmt.Errorf("plugin %q (%s): %w: %s: %w", m.name, shortDigest(m.Digest()), ErrInvalidModule, hostabi.ExportSchedPlugins, err))
		}
		m.hosted = hosted
	}
	if hook := m.opts.OnNewInstance; hook != nil {
		if err := hook(ictx, &Instance{in: in, hook: true}); err != nil {
			return fail(fmt.Errorf("plugin %q (%s): OnNewInstance: %w", m.name, shortDigest(m.Digest()), err))
		}
		if in.broken != nil {
			return fail(in.broken)
		}
	}
	m.log.Debug("instance started", "generation", in.gen, "memory", size(uint64(mod.Memory().Size())))
	return in, nil
}

// close closes the wazero instance. The instance is never used again.
func (in *instance) close(ctx context.Context) {
	if in.closed {
		return
	}
	in.closed = true
	in.wire.stop()
	in.stdout.flush()
	in.stderr.flush()
	_ = in.mod.Close(ctx)
	in.m.live.Add(-1)
	in.m.gauge.Dec()
}

// interrupt stops a call in flight on the instance (Module.Close past its context) and any
// later call; the caller's goroutine sees the call fail and closes the instance on release.
func (in *instance) interrupt() { in.wire.close() }

// invoke makes one call of export on in: tug_alloc(len), copy the input, export(ptr, len),
// under the call's deadline; it classifies what happened and discards the instance after
// any failure of the instance itself.
func (m *Module) invoke(ctx context.Context, in *instance, export string, input []byte) ([]byte, hostabi.Status, error) {
	if in.broken != nil {
		return nil, hostabi.StatusError, &PluginError{Plugin: m.name, Version: m.Digest(), Export: export,
			Status: hostabi.StatusError, Reason: "instance discarded after an earlier failure: " + in.broken.Reason, Cause: in.broken.Cause}
	}
	fn := in.fns[export]
	if fn == nil {
		reason := "not exported by the plugin"
		if !slices.Contains(operations, export) {
			reason = "not an operation of ABI v1"
		}
		m.callsVec.WithLabelValues(export, resultNotImplemented).Inc()
		return nil, hostabi.StatusUnsupported, &PluginError{Plugin: m.name, Version: m.Digest(), Export: export,
			Status: hostabi.StatusUnsupported, Reason: reason}
	}
	if uint64(len(input)) > math.MaxUint32 {
		return nil, hostabi.StatusInvalidInput, &PluginError{Plugin: m.name, Version: m.Digest(), Export: export,
			Status: hostabi.StatusInvalidInput, Reason: fmt.Sprintf("input of %d bytes does not fit a 32-bit memory", len(input))}
	}

	d := m.opts.deadline(ctx, export)
	start := time.Now()
	in.result, in.tooLarge = nil, 0
	in.mem.TakeRefused()
	in.stderr.lines = in.stderr.lines[:0]
	in.callerCtx = ctx
	var code uint32
	why, err := in.wire.guard(ctx, d, func() (err error) {
		code, err = in.run(in.ctx, fn, input)
		return err
	})
	elapsed := time.Since(start)
	out := in.result
	in.result = nil

	var (
		status = hostabi.Status(int32(code))
		pe     *PluginError
		label  string
	)
	switch {
	case err != nil:
		pe, label = m.failure(in, export, d, err, why)
		status = hostabi.StatusError
		out = nil
	case status < hostabi.StatusOK || status > hostabi.StatusUnsupported:
		label = resultBadStatus
		pe = &PluginError{Status: hostabi.StatusError, Cause: ErrBadStatus,
			Reason: fmt.Sprintf("returned %d, which is not a status (treated as ERROR)", int32(code))}
		if len(out) > 0 {
			pe.Reason += ": " + reasonText(out)
		}
		status = hostabi.StatusError
	case status != hostabi.StatusOK:
		label = statusLabel(status)
		pe = &PluginError{Status: status, Reason: reasonText(out)}
	default:
		label = resultOK
	}
	m.observe(export, label, elapsed)
	if pe == nil {
		return out, status, nil
	}
	pe.Plugin, pe.Version, pe.Export = m.name, m.Digest(), export
	if pe.Cause != nil { // the instance itself failed: discard it
		in.broken = pe
		m.log.Warn("instance discarded", "generation", in.gen, "export", export, "reason", pe.Reason)
	}
	return out, status, pe
}

// run is the call itself. It returns the export's raw return value.
func (in *instance) run(ctx context.Context, fn api.Function, input []byte) (uint32, error) {
	n := uint32(len(input))
	in.stack[0] = uint64(n)
	if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, fmt.Errorf("%s(%d): %w", hostabi.ExportAlloc, n, err)
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 && n > 0 {
		return 0, errAllocFailed
	}
	if n > 0 && !in.mod.Memory().Write(ptr, input) {
		return 0, fmt.Errorf("%s(%d) returned %#x, past the end of its %s memory", hostabi.ExportAlloc, n, ptr, size(uint64(in.mod.Memory().Size())))
	}
	in.stack[0], in.stack[1] = uint64(ptr), uint64(n)
	if err := fn.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, err
	}
	return uint32(in.stack[0]), nil
}

var errAllocFailed = fmt.Errorf("%s returned 0: out of memory", hostabi.ExportAlloc)

// failure classifies an error from running guest code; why is what fired the instance's
// tripwire (or ended the call's context), nil if nothing did. d is the call's deadline.
func (m *Module) failure(in *instance, what string, d time.Duration, err, why error) (*PluginError, string) {
	pe := &PluginError{Plugin: m.name, Version: m.Digest(), Export: what, Status: hostabi.StatusError}
	switch refused := in.mem.TakeRefused(); {
	case in.tooLarge > 0:
		pe.Reason = fmt.Sprintf("result of %d bytes exceeds the %s limit", in.tooLarge, size(uint64(m.opts.MaxResultBytes)))
		pe.Cause = ErrResultTooLarge
		return pe, resultTooLarge
	case refused > 0 || errors.Is(err, errAllocFailed):
		pe.Reason = fmt.Sprintf("exceeded its %s memory limit", size(in.mem.Limit))
		if refused > 0 {
			pe.Reason += fmt.Sprintf(" (memory.grow to %s refused)", size(refused))
		}
		pe.Reason += ": " + in.describe(err)
		pe.Cause = fmt.Errorf("%w: %w", ErrMemoryLimit, err)
		return pe, resultMemoryLimit
	case why == errDeadlinePassed:
		pe.Reason = fmt.Sprintf("exceeded its %s deadline", d)
		pe.Cause = fmt.Errorf("%w: %w", ErrDeadline, err)
		return pe, resultDeadline
	case why == errInterrupted:
		pe.Reason = errInterrupted.Error()
		pe.Cause = fmt.Errorf("%w: %w", ErrClosed, err)
		return pe, resultCanceled
	case why != nil:
		pe.Reason = "interrupted: " + why.Error()
		pe.Cause = fmt.Errorf("call interrupted: %w", why)
		return pe, resultCanceled
	}
	pe.Reason = "trapped: " + in.describe(err)
	pe.Cause = fmt.Errorf("%w: %w", ErrTrap, err)
	if first, _, _ := strings.Cut(err.Error(), "\n"); strings.HasSuffix(first, "(recovered by wazero)") {
		// Not the guest's fault (wazero reports a guest trap as "wasm error: …"): Go code of
		// the host panicked under the call. Keep the stack.
		m.log.Error("host panicked during a plugin call", "export", what, "error", err.Error())
	}
	return pe, resultTrap
}

// describe renders a guest failure in one line: wazero's message without the stack trace,
// and for an exit, the guest's last words on stderr (a Go panic's "panic: …").
func (in *instance) describe(err error) string {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		s := fmt.Sprintf("exited with code %d", exit.ExitCode())
		if line := in.stderr.lastWords(); line != "" {
			s += ": " + line
		}
		return s
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	msg = strings.TrimSuffix(msg, " (recovered by wazero)")
	// A Go reactor does not exit on a panic: it prints it and executes unreachable.
	if line := in.stderr.lastWords(); line != "" {
		msg += " (" + line + ")"
	}
	return msg
}

func statusLabel(s hostabi.Status) string {
	switch s {
	case hostabi.StatusInvalidInput:
		return resultInvalidInput
	case hostabi.StatusInvalidConfig:
		return resultInvalidConfig
	case hostabi.StatusUnsupported:
		return resultUnsupported
	}
	return resultError
}

// maxReason bounds the reason carried in a PluginError; the full bytes are still returned.
const maxReason = 1024

// reasonText makes a guest's reason fit for events and API errors: UTF-8, bounded.
func reasonText(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), maxReason)]), "\uFFFD")
	if len(b) > maxReason {
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}
