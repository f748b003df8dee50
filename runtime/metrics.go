package runtime

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tugboat-io/tug/internal/promreg"
)

// metrics are the runtime's Prometheus collectors. With a nil Registerer they are created but
// not registered, so the code that updates them needs no nil checks.
type metrics struct {
	calls     *prometheus.CounterVec   // plugin, version, export, result
	duration  *prometheus.HistogramVec // plugin, export
	instances *prometheus.GaugeVec     // plugin, version

	mu    sync.Mutex
	users map[[2]string]int // open Modules per instances label pair
}

// Values of the result label of tug_plugin_calls_total.
const (
	resultOK             = "ok"
	resultTrap           = "trap"
	resultDeadline       = "deadline"
	resultMemoryLimit    = "memory_limit"
	resultTooLarge       = "result_too_large"
	resultBadStatus      = "bad_status"
	resultCanceled       = "canceled"
	resultInvalidInput   = "invalid_input"
	resultInvalidConfig  = "invalid_config"
	resultUnsupported    = "unsupported"
	resultError          = "error"
	resultNotImplemented = "not_exported"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tug_plugin_calls_total",
			Help: "Calls of plugin exports, by outcome (ok, error, invalid_input, invalid_config, unsupported, trap, deadline, memory_limit, result_too_large, bad_status, canceled, not_exported).",
		}, []string{"plugin", "version", "export", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tug_plugin_call_duration_seconds",
			Help: "Duration of plugin calls, from the input copy to the status, including failed calls.",
			// 10µs … ~2.6s: a trivial call takes microseconds, a deadline is 100ms or 1s.
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10),
		}, []string{"plugin", "export"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tug_plugin_instances",
			Help: "Live wasm instances of a plugin version (idle and busy).",
		}, []string{"plugin", "version"}),
		users: map[[2]string]int{},
	}
	if reg == nil {
		return m, nil
	}
	// Several Runtimes may share a registry (tests, or a process with two): reuse what is there.
	var err error
	m.calls, err = promreg.Register(reg, m.calls)
	if err != nil {
		return nil, err
	}
	m.duration, err = promreg.Register(reg, m.duration)
	if err != nil {
		return nil, err
	}
	m.instances, err = promreg.Register(reg, m.instances)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// open notes a Module using the instances series of (plugin, version).
func (m *metrics) open(plugin, version string) prometheus.Gauge {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[[2]string{plugin, version}]++
	return m.instances.WithLabelValues(plugin, version)
}

// close drops the series once no open Module uses it, so that a cluster swapping versions for
// months does not export a growing number of zeros.
func (m *metrics) close(plugin, version string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{plugin, version}
	if m.users[k]--; m.users[k] <= 0 {
		delete(m.users, k)
		m.instances.DeleteLabelValues(plugin, version)
	}
}
