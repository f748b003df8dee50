// Package runtime is tug's WebAssembly host: it loads policy plugins, checks them against the
// host ABI (hostabi/ABI.md), runs them sandboxed on wazero, and swaps them on a running system.
//
// The package is named runtime, like the standard library's; import it as tugruntime:
//
//	import tugruntime "github.com/tugboat-io/tug/runtime"
//
// # Lifecycle
//
// A Runtime is one wazero engine (the optimizing compiler where supported, else the
// interpreter) with the import modules guests may use: tug:host/v1 and a sandboxed WASI
// preview 1 (no filesystem, environment, arguments or network; fake clocks and deterministic
// randomness unless granted; stdout and stderr go to the log).
//
//	rt, err := tugruntime.New(ctx, tugruntime.Config{CacheDir: dir, Logger: log, Registerer: reg})
//	defer rt.Close(ctx)
//
// Runtime.Load compiles a module (once per sha256 digest), refuses it if its interface is
// wrong — missing or mistyped exports, imports other than tug:host/v1 and WASI, no plugin
// kind — then brings up a probe instance: _initialize (reactors; _start is never called),
// tug_abi_version (major 1, minor up to hostabi.Minor), tug_configure with the plugin's
// configuration. The probe stays in the Module's pool, warm.
//
//	m, err := rt.Load(ctx, "gpu-filter", wasm, tugruntime.PluginOptions{Config: cfg})
//	out, status, err := m.Call(ctx, hostabi.ExportSchedFilter, nodes)
//
// # Calls and failures
//
// A Module keeps a pool of up to PoolSize instances, created on demand; a call takes one (or
// waits for one), copies its input in with tug_alloc, and calls the export under a deadline
// that interrupts a looping guest. A trap, a deadline overrun, memory exhaustion (the cap is
// per plugin), a result over the limit or a status that is not one discards the instance —
// the next call gets a fresh one — and returns a *PluginError that names the plugin and what
// happened and wraps one of ErrTrap, ErrDeadline, ErrMemoryLimit, ErrResultTooLarge,
// ErrBadStatus. A guest's own non-zero status comes back as a *PluginError with its reason.
// The runtime does not apply the failure policy; callers read Module.Ignore.
//
// # Resident state
//
// Instances keep state between calls, and a scheduling cycle's calls (prefilter, filter,
// score) must reach the same instance. Module.Acquire (or Slot.Acquire) holds one instance for
// such a sequence. A discarded instance loses its state; PluginOptions.OnNewInstance runs on
// every fresh instance before it serves, to replay it in full, and Instance.Value/SetValue
// let a caller remember per instance what it has already sent (e.g. a node-state revision).
// Instance.Generation tells fresh instances apart.
//
// # Hot swap
//
// A Slot holds the active version of a named plugin. Slot.Swap loads and probes the new
// version, switches atomically, then drains and closes the old one; every call runs wholly
// on one version, and a failed swap leaves the old version active (Slot.Status reports it).
//
// # Metrics
//
// tug_plugin_calls_total{plugin,version,export,result}, tug_plugin_call_duration_seconds
// {plugin,export} and tug_plugin_instances{plugin,version}, on Config.Registerer. The version
// label and log attribute is "sha256:" and the first 12 hex digits of the digest.
//
// Decisions and their reasons are in RATIONALE.md.
package runtime
