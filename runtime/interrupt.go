package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/tugboat-io/tug/runtime/internal/interrupt"
)

// tripwire stops an instance's guest code when its context ends: it sets the interrupt
// global that package interrupt checks at every loop head, so the guest traps at the next
// one. It is armed only while guest code runs, and each arming has its own number, so a
// late trip of a finished call can never stop the next one.
type tripwire struct {
	flag api.MutableGlobal

	mu      sync.Mutex
	armed   uint64 // number of the current arming; 0 when disarmed
	last    uint64
	tripped bool // the current arming fired
	closed  bool // the plugin version was closed past its drain: nothing runs again
}

func (w *tripwire) init(mod api.Module) error {
	g, ok := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
	if !ok {
		return fmt.Errorf("instrumented module exports no mutable %q", interrupt.Export)
	}
	w.flag = g
	return nil
}

// guard runs f, guest code, with the wire armed until ctx ends. It reports whether the wire
// fired, and refuses to run f at all once the version was closed.
func (w *tripwire) guard(ctx context.Context, f func() error) (tripped bool, err error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return true, errInterrupted
	}
	w.last++
	k := w.last
	w.armed, w.tripped = k, false
	w.flag.Set(0)
	w.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { w.trip(k, false) })
	err = f()
	stop()

	w.mu.Lock()
	w.armed = 0
	tripped = w.tripped
	w.mu.Unlock()
	return tripped, err
}

// trip fires arming k if it is still current; close (k == 0) fires any arming and keeps
// the instance from running again.
func (w *tripwire) trip(k uint64, close bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if close {
		w.closed = true
	}
	if w.armed != 0 && (close || w.armed == k) {
		w.tripped = true
		w.flag.Set(1)
	}
}

var errInterrupted = fmt.Errorf("interrupted: the plugin version was closed")
