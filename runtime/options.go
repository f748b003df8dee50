package runtime

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"strings"
	"time"
)

// FailurePolicy says what an ERROR from a plugin (including a trap, a timeout, …) means for
// the caller. The runtime only reports it; the caller (scheduler, admission) applies it. The
// values are those of Kubernetes admission webhooks, so they can be read from YAML as they are.
type FailurePolicy string

const (
	// Fail closes: the pod stays unscheduled, the request is denied. It is the default.
	Fail FailurePolicy = "Fail"
	// Ignore skips the plugin for that call.
	Ignore FailurePolicy = "Ignore"
)

// Capabilities grant a plugin what its sandbox withholds by default.
type Capabilities struct {
	// Clock grants the real wall and monotonic clocks. Without it the guest sees wazero's fake
	// clocks: a fixed wall time and a monotonic clock that advances only as the guest reads it.
	Clock bool
	// Random grants crypto/rand. Without it random bytes come from a deterministic source.
	Random bool
}

// Defaults of PluginOptions.
const (
	DefaultMemoryLimitPages = 1024 // 64 MiB
	DefaultSchedDeadline    = 100 * time.Millisecond
	DefaultDeadline         = time.Second
	DefaultInitDeadline     = 5 * time.Second
	DefaultMaxResultBytes   = 16 << 20
)

// PluginOptions configure one loaded plugin. The zero value means every default.
type PluginOptions struct {
	// MemoryLimitPages caps the guest's linear memory, in 64 KiB pages (default 1024: 64 MiB).
	MemoryLimitPages uint32
	// Deadline bounds each call (tug_alloc, the copy and the export). Zero means 100ms for the
	// scheduler's exports (tug_sched_*) and 1s for the others. A caller can override it for
	// one call with WithCallDeadline.
	Deadline time.Duration
	// InitDeadline bounds bringing up an instance: instantiation, _initialize, tug_configure
	// and OnNewInstance (default 5s).
	InitDeadline time.Duration
	// FailurePolicy is reported by Module.Ignore and Module.FailurePolicy (default Fail).
	FailurePolicy FailurePolicy
	// Capabilities grant real clocks and randomness.
	Capabilities Capabilities
	// Config is the plugin's configuration, JSON, handed to tug_configure on every fresh
	// instance. Empty means {}.
	Config []byte
	// PoolSize is the most instances that run at once, so the most calls in parallel
	// (default runtime.GOMAXPROCS(0)). Instances are created lazily, up to this many.
	PoolSize int
	// MaxResultBytes caps what one call may pass to set_result (default 16 MiB).
	MaxResultBytes int
	// OnNewInstance, if set, runs once on every fresh instance after tug_configure and before
	// the instance serves any call — including the probe instance Load creates. Instances keep
	// state (a scheduler plugin's resident nodes, ABI.md §4.1) and a discarded instance loses
	// it, so this is where a caller replays that state in full, with inst.Call. An error
	// discards the instance and fails the call that needed it (or Load).
	OnNewInstance func(ctx context.Context, inst *Instance) error
}

// withDefaults validates o and fills in the defaults.
func (o PluginOptions) withDefaults() (PluginOptions, error) {
	if o.MemoryLimitPages == 0 {
		o.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if o.MemoryLimitPages > 65536 {
		return o, fmt.Errorf("memory limit of %d pages is more than a 32-bit memory can hold (65536)", o.MemoryLimitPages)
	}
	if o.Deadline < 0 || o.InitDeadline < 0 {
		return o, fmt.Errorf("negative deadline")
	}
	if o.InitDeadline == 0 {
		o.InitDeadline = DefaultInitDeadline
	}
	switch o.FailurePolicy {
	case "":
		o.FailurePolicy = Fail
	case Fail, Ignore:
	default:
		return o, fmt.Errorf("unknown failure policy %q (want %q or %q)", o.FailurePolicy, Fail, Ignore)
	}
	if len(bytes.TrimSpace(o.Config)) == 0 {
		o.Config = []byte("{}")
	}
	if o.PoolSize < 0 {
		return o, fmt.Errorf("negative pool size %d", o.PoolSize)
	}
	if o.PoolSize == 0 {
		o.PoolSize = goruntime.GOMAXPROCS(0)
	}
	if o.MaxResultBytes < 0 {
		return o, fmt.Errorf("negative result limit %d", o.MaxResultBytes)
	}
	if o.MaxResultBytes == 0 {
		o.MaxResultBytes = DefaultMaxResultBytes
	}
	return o, nil
}

// deadline is the deadline of one call of export.
func (o *PluginOptions) deadline(ctx context.Context, export string) time.Duration {
	if d, ok := ctx.Value(callDeadlineKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	if o.Deadline > 0 {
		return o.Deadline
	}
	if strings.HasPrefix(export, "tug_sched_") {
		return DefaultSchedDeadline
	}
	return DefaultDeadline
}

type callDeadlineKey struct{}

// WithCallDeadline returns a context whose plugin calls run under deadline d instead of the
// plugin's own. (Cancelling ctx, or ctx's own deadline, still interrupts a call too; only d is
// reported as the plugin exceeding its deadline.)
func WithCallDeadline(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, callDeadlineKey{}, d)
}
