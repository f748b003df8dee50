package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tugboat-io/tug/runtime/internal/interrupt"
)

// tripwire stops an instance's guest code: it sets the interrupt flag that package interrupt's
// instrumentation checks, so the guest traps within interrupt.Period loop heads. It is armed
// only while guest code runs. A call's deadline uses one timer per instance, reset per call,
// so a call with a plain context allocates nothing here; a cancellable context adds a
// context.AfterFunc. Each arming has its own number and deadline, so a late fire meant for a
// finished call can never stop the next one.
type tripwire struct {
	flag  api.MutableGlobal
	timer *time.Timer // fires fireDeadline

	mu       sync.Mutex
	armed    uint64 // number of the current arming; 0 when disarmed
	last     uint64
	deadline time.Time // of the current arming
	why      error     // what fired the current arming, nil if nothing did
	closed   bool      // the plugin version was closed past its drain: nothing runs again
}

// Why a wire fired, besides the caller's context ending (whose context.Cause is kept).
var (
	errDeadlinePassed = errors.New("deadline passed")
	errInterrupted    = errors.New("interrupted: the plugin version was closed")
)

func (w *tripwire) init(mod api.Module) error {
	g, ok := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
	if !ok {
		return fmt.Errorf("instrumented module exports no mutable %q", interrupt.Export)
	}
	w.flag = g
	return nil
}

// guard runs f, guest code, with the wire armed for d and until ctx ends. It returns what
// fired the wire (nil if nothing did) and f's error; once the version is closed it runs
// nothing.
func (w *tripwire) guard(ctx context.Context, d time.Duration, f func() error) (why, err error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errInterrupted, errInterrupted
	}
	w.last++
	k := w.last
	w.armed, w.why, w.deadline = k, nil, time.Now().Add(d)
	w.flag.Set(0)
	w.mu.Unlock()

	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fireDeadline)
	} else {
		w.timer.Reset(d)
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { w.fire(k, context.Cause(ctx)) })
	}
	err = f()
	w.timer.Stop()
	if stop != nil {
		stop()
	}

	w.mu.Lock()
	w.armed = 0
	why = w.why
	w.mu.Unlock()
	return why, err
}

func (w *tripwire) fireDeadline() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed != 0 && !time.Now().Before(w.deadline) {
		w.setLocked(errDeadlinePassed)
	}
}

// fire fires arming k, if it is still current, for cause.
func (w *tripwire) fire(k uint64, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed == k {
		w.setLocked(cause)
	}
}

// close fires any arming and keeps the instance from running again.
func (w *tripwire) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.armed != 0 {
		w.setLocked(errInterrupted)
	}
}

func (w *tripwire) setLocked(why error) {
	if w.why == nil {
		w.why = why
		w.flag.Set(1)
	}
}

// stop releases the timer of a closed instance.
func (w *tripwire) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
