// Package memstats lets the benchmark harness ask a plugin how much memory it holds: a
// configuration of {"memstats": true} (sent with tug_configure at any time) makes the plugin
// log its Go runtime's memory statistics. It is for the benchmark modules only.
package memstats

import (
	"bytes"
	"runtime"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Register installs the configure hook; call it once, from init.
func Register() {
	tug.RegisterConfigure(func(raw []byte) error {
		if bytes.Contains(raw, []byte(`"memstats"`)) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			tug.Logf(tug.LevelInfo, "memstats sys=%d heap_sys=%d heap_inuse=%d", m.Sys, m.HeapSys, m.HeapInuse)
		}
		return nil
	})
}
