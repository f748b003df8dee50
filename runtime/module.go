package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"

	"github.com/tugboat-io/tug/hostabi"
)

const pageSize = 65536

// Module is one loaded plugin version: compiled code, options, and a pool of instances. It is
// safe for concurrent use; each instance serves one call at a time.
type Module struct {
	rt     *Runtime
	name   string
	code   *code
	info   *moduleInfo
	opts   PluginOptions
	log    *slog.Logger
	config wazero.ModuleConfig // base config of every instance

	callsVec  *prometheus.CounterVec // curried: export, result
	durations prometheus.ObserverVec // curried: export
	okCalls   map[string]opMetrics   // per operation, resolved once: the hot path's labels
	hosted    []hostabi.HostedPlugin // set by the probe instance, then read-only
	gauge     prometheus.Gauge       // live instances
	gens      atomic.Uint64          // instances created, for Instance.Generation
	live      atomic.Int64           // instances alive
	tokens    chan struct{}          // one per instance in use: the pool's bound
	closing   chan struct{}          // closed by Close: wakes callers waiting for a token
	mu        sync.Mutex
	idle      []*instance
	inUse     int                    // instances in use or being created for a caller
	busy      map[*instance]struct{} // instances in use
	closed    bool
	drained   chan struct{} // closed when closed and nothing is in use
	closeOnce sync.Once
}

func newModule(r *Runtime, name string, c *code, opts PluginOptions) (*Module, error) {
	info := c.info
	if limit := uint64(opts.MemoryLimitPages); info.minPages > limit {
		return nil, fmt.Errorf("%w: its memory starts at %d pages (%s), over the plugin's limit of %d pages (%s)",
			ErrInvalidModule, info.minPages, size(info.minPages*pageSize), limit, size(limit*pageSize))
	}
	if !info.ops[hostabi.ExportConfigure] && !isEmptyObject(opts.Config) {
		return nil, fmt.Errorf("%w: the plugin has no %s export, so it accepts only {} as configuration",
			ErrInvalidConfig, hostabi.ExportConfigure)
	}
	version := shortDigest(c.digest)
	// No arguments, environment, filesystem or stdin: wazero's defaults. Sleeping stays
	// wazero's no-op even with the clock capability, so that a guest waiting for time spins
	// in its own code, where the deadline can interrupt it, never blocked in the host.
	mc := wazero.NewModuleConfig().
		WithName("").         // anonymous: many instances of one module in one wazero.Runtime
		WithStartFunctions(). // never _start; newInstance calls _initialize
		// The only environment: Go guests' collectors tuned to the plugin's cap — collect
		// when the heap nears 80% of it rather than whenever it doubles (the collector was
		// ~40% of a Go scheduling chain's time, docs/BENCHMARKS.md). Other guests ignore them.
		WithEnv("GOGC", "off").
		WithEnv("GOMEMLIMIT", fmt.Sprintf("%dKiB", uint64(opts.MemoryLimitPages)*pageSize*8/10/1024))
	if opts.Capabilities.Clock {
		mc = mc.WithSysWalltime().WithSysNanotime()
	}
	if opts.Capabilities.Random {
		mc = mc.WithRandSource(rand.Reader)
	}
	m := &Module{
		rt:        r,
		name:      name,
		code:      c,
		info:      info,
		opts:      opts,
		log:       r.log.With("plugin", name, "version", version),
		config:    mc,
		callsVec:  r.metrics.calls.MustCurryWith(prometheus.Labels{"plugin": name, "version": version}),
		durations: r.metrics.duration.MustCurryWith(prometheus.Labels{"plugin": name}),
		gauge:     r.metrics.open(name, version),
		tokens:    make(chan struct{}, opts.PoolSize),
		closing:   make(chan struct{}),
		drained:   make(chan struct{}),
		busy:      map[*instance]struct{}{},
		okCalls:   map[string]opMetrics{},
	}
	for op := range info.ops {
		m.okCalls[op] = opMetrics{ok: m.callsVec.WithLabelValues(op, resultOK), duration: m.durations.WithLabelValues(op)}
	}
	return m, nil
}

// opMetrics are one operation's successful-call counter and duration histogram.
type opMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
}

// observe counts one call of export that ended with result label.
func (m *Module) observe(export, label string, elapsed time.Duration) {
	om, resolved := m.okCalls[export]
	if !resolved {
		om.duration = m.durations.WithLabelValues(export)
	}
	if resolved && label == resultOK {
		om.ok.Inc()
	} else {
		m.callsVec.WithLabelValues(export, label).Inc()
	}
	om.duration.Observe(elapsed.Seconds())
}

// isEmptyObject reports whether config is {} (whitespace aside).
func isEmptyObject(config []byte) bool {
	return string(bytes.Join(bytes.Fields(config), nil)) == "{}"
}

// Name returns the plugin's name, as given to Load.
func (m *Module) Name() string { return m.name }

// Digest returns the sha256 digest of the module's bytes, hex-encoded: its version.
func (m *Module) Digest() string { return m.code.digest }

// Kinds returns the plugin kinds the module implements (at least one).
func (m *Module) Kinds() []hostabi.Kind { return slices.Clone(m.info.kinds) }

// Hosted lists the scheduling plugins the module hosts (ABI.md §4.7), in index order; nil
// for a module that is one plugin.
func (m *Module) Hosted() []hostabi.HostedPlugin { return slices.Clone(m.hosted) }

// checkHosted decodes and checks tug_sched_plugins' answer against the module's exports.
func (m *Module) checkHosted(out []byte) ([]hostabi.HostedPlugin, error) {
	var hp hostabi.HostedPlugins
	if err := json.Unmarshal(out, &hp); err != nil {
		return nil, fmt.Errorf("answer %q is not the plugin list: %w", reasonText(out), err)
	}
	if len(hp.Plugins) == 0 {
		return nil, errors.New("lists no plugins")
	}
	seen := map[string]bool{}
	for i, p := range hp.Plugins {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("plugin %d has no name", i)
		case seen[p.Name]:
			return nil, fmt.Errorf("plugin %q is listed twice", p.Name)
		case !p.Filter && !p.Score && !p.PostFilter && !p.Reserve && !p.Permit && !p.PreBind && !p.PostBind:
			return nil, fmt.Errorf("plugin %q runs at no extension point", p.Name)
		case p.Reserve && (!m.info.ops[hostabi.ExportSchedReserveAt] || !m.info.ops[hostabi.ExportSchedUnreserveAt]):
			return nil, fmt.Errorf("plugin %q reserves but the module does not export %s and %s", p.Name, hostabi.ExportSchedReserveAt, hostabi.ExportSchedUnreserveAt)
		case p.Permit && !m.info.ops[hostabi.ExportSchedPermitAt]:
			return nil, fmt.Errorf("plugin %q permits but the module does not export %s", p.Name, hostabi.ExportSchedPermitAt)
		case p.PreBind && !m.info.ops[hostabi.ExportSchedPreBindAt]:
			return nil, fmt.Errorf("plugin %q pre-binds but the module does not export %s", p.Name, hostabi.ExportSchedPreBindAt)
		case p.PostBind && !m.info.ops[hostabi.ExportSchedPostBindAt]:
			return nil, fmt.Errorf("plugin %q post-binds but the module does not export %s", p.Name, hostabi.ExportSchedPostBindAt)
		case p.PostFilter && !m.info.ops[hostabi.ExportSchedPostFilterAt]:
			return nil, fmt.Errorf("plugin %q chooses preemption candidates but the module does not export %s", p.Name, hostabi.ExportSchedPostFilterAt)
		case p.Filter && !m.info.ops[hostabi.ExportSchedFilterAt]:
			return nil, fmt.Errorf("plugin %q filters but the module does not export %s", p.Name, hostabi.ExportSchedFilterAt)
		case p.Score && !m.info.ops[hostabi.ExportSchedScoreAt]:
			return nil, fmt.Errorf("plugin %q scores but the module does not export %s", p.Name, hostabi.ExportSchedScoreAt)
		case p.Weight < 0 || p.Weight > 100:
			return nil, fmt.Errorf("plugin %q has weight %d, not 1..100", p.Name, p.Weight)
		case p.Normalize && (!p.Score || !m.info.ops[hostabi.ExportSchedNormalizeAt]):
			return nil, fmt.Errorf("plugin %q normalizes but does not score, or the module does not export %s", p.Name, hostabi.ExportSchedNormalizeAt)
		}
		seen[p.Name] = true
	}
	return hp.Plugins, nil
}

// Exports reports whether the module exports the operation op (e.g. the optional
// tug_sched_normalize).
func (m *Module) Exports(op string) bool { return m.info.ops[op] }

// FailurePolicy returns the plugin's failure policy, for the caller to apply to an ERROR.
func (m *Module) FailurePolicy() FailurePolicy { return m.opts.FailurePolicy }

// Ignore reports whether the caller should skip the plugin when a call fails
// (FailurePolicy Ignore) rather than fail closed.
func (m *Module) Ignore() bool { return m.opts.FailurePolicy == Ignore }

// Instances returns the number of live instances, idle and busy.
func (m *Module) Instances() int { return int(m.live.Load()) }

// Call runs one operation on an instance from the pool: it waits (up to ctx) for a free
// instance if PoolSize are busy, creates one if none is idle, copies input into the guest,
// calls export under the plugin's deadline and returns the bytes the guest passed to
// set_result.
//
// With status OK, err is nil. With a valid non-zero status, the result is the guest's reason
// and err is a *PluginError carrying it. A trap, a deadline overrun, memory exhaustion, a
// result over the limit or a status that is not one yields hostabi.StatusError and a
// *PluginError wrapping ErrTrap, ErrDeadline, ErrMemoryLimit, ErrResultTooLarge or
// ErrBadStatus; the instance is then discarded and replaced on demand. Whatever happened, the
// Module keeps serving.
func (m *Module) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	in, err := m.acquire(ctx)
	if err != nil {
		return nil, hostabi.StatusError, err
	}
	defer m.release(in)
	return m.invoke(ctx, in, export, input)
}

// Acquire takes an instance from the pool for a sequence of calls that must reach the same
// instance — a scheduling cycle's prefilter, filter and score, after bringing its node state
// up to date. The caller must Release it. While held, the instance serves nobody else and
// the Module (and a Slot's version) cannot be closed under it.
func (m *Module) Acquire(ctx context.Context) (*Instance, error) {
	in, err := m.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &Instance{in: in}, nil
}

// errRetired is what acquiring from a closed Module returns; a Slot retries on its new
// version when it sees it.
var errRetired = fmt.Errorf("plugin version %w", ErrClosed)

func (m *Module) acquire(ctx context.Context) (*instance, error) {
	select {
	case m.tokens <- struct{}{}:
	case <-m.closing:
		return nil, m.retired()
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %q (%s): waiting for a free instance: %w", m.name, shortDigest(m.Digest()), ctx.Err())
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.tokens
		return nil, m.retired()
	}
	m.inUse++
	var in *instance
	if n := len(m.idle); n > 0 {
		in = m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.busy[in] = struct{}{}
	}
	m.mu.Unlock()
	if in != nil {
		return in, nil
	}
	in, err := m.newInstance(ctx, false)
	m.mu.Lock()
	if err != nil {
		m.inUse--
		m.signalDrained()
	} else {
		m.busy[in] = struct{}{}
	}
	m.mu.Unlock()
	if err != nil {
		<-m.tokens
		return nil, err
	}
	return in, nil
}

func (m *Module) retired() error {
	return fmt.Errorf("plugin %q (%s): %w", m.name, shortDigest(m.Digest()), errRetired)
}

// release returns an instance to the pool, or closes it if it was discarded or the Module
// is closing.
func (m *Module) release(in *instance) {
	m.mu.Lock()
	delete(m.busy, in)
	keep := in.broken == nil && !m.closed
	if keep {
		m.idle = append(m.idle, in)
	} else {
		// Closed before it stops counting as in use, so that a drained Module has no
		// instances left.
		m.mu.Unlock()
		in.close(context.Background())
		m.mu.Lock()
	}
	m.inUse--
	m.signalDrained()
	m.mu.Unlock()
	<-m.tokens
}

// signalDrained closes drained once the Module is closed and nothing is in use. mu is held.
func (m *Module) signalDrained() {
	if m.closed && m.inUse == 0 {
		m.closeOnce.Do(func() { close(m.drained) })
	}
}

// Close stops the Module: callers waiting for an instance get ErrClosed, idle instances are
// closed, calls in flight finish (Close waits for them, and for held Instances to be
// released, up to ctx; past it they are interrupted) and then the compiled code is released.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.drained
		return nil
	}
	m.closeIdleLocked(ctx) // unlocks
	var err error
	select {
	case <-m.drained:
	case <-ctx.Done():
		m.mu.Lock()
		n := m.inUse
		for in := range m.busy {
			in.interrupt()
		}
		m.mu.Unlock()
		err = fmt.Errorf("plugin %q (%s): interrupted %d calls in flight at close: %w", m.name, shortDigest(m.Digest()), n, ctx.Err())
		<-m.drained
	}
	m.finish(ctx)
	return err
}

// closeNow closes a Module that never served (Load failing after newModule).
func (m *Module) closeNow(ctx context.Context) {
	m.mu.Lock()
	m.closeIdleLocked(ctx)
	m.finish(ctx)
}

// closeIdleLocked marks the Module closed, wakes callers waiting for an instance, and closes
// the idle instances. mu is held on entry and released before the instances are closed.
func (m *Module) closeIdleLocked(ctx context.Context) {
	m.closed = true
	close(m.closing)
	idle := m.idle
	m.idle = nil
	m.signalDrained()
	m.mu.Unlock()
	for _, in := range idle {
		in.close(ctx)
	}
}

func (m *Module) finish(ctx context.Context) {
	m.rt.forget(m)
	m.rt.releaseCode(ctx, m.code)
	m.rt.metrics.close(m.name, shortDigest(m.Digest()))
	m.log.Debug("plugin version closed")
}
