package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// Slot holds the active version of a named plugin and swaps it on a running system.
//
// Swap follows Caddy's config reload: build the new (compile, validate, configure a probe
// instance, which stays warm in its pool), switch atomically, then drain and close the old.
// A call — or an Acquire'd instance, for a sequence of calls — runs wholly on the version
// that was active when it started: it holds that version's Module open, and the old version
// is closed only when its last such call is done. If anything about the new version fails,
// the old one stays active and Swap returns the error, which Status reports too.
type Slot struct {
	rt     *Runtime
	name   string
	active atomic.Pointer[Module]
	closed atomic.Bool

	swapMu sync.Mutex // one Swap at a time

	statusMu sync.Mutex
	status   SlotStatus
}

// SlotStatus is what a Slot reports about itself.
type SlotStatus struct {
	Name      string
	Digest    string         // the active version's sha256, hex; "" before the first Swap
	Kinds     []hostabi.Kind // the active version's kinds
	Since     time.Time      // when the active version became active
	Swaps     int            // successful swaps, the first load included
	LastError error          // the error of the last Swap, nil if it succeeded
}

// NewSlot returns an empty Slot for the plugin name; Swap loads its first version.
func (r *Runtime) NewSlot(name string) *Slot {
	return &Slot{rt: r, name: name, status: SlotStatus{Name: name}}
}

// Swap loads wasm with opts (see Runtime.Load) and makes it the active version; then it
// waits, up to ctx, for the calls still running on the previous version to finish, and
// closes it. On any failure of the new version the active one is unchanged and the error is
// returned (and kept in Status). A failure to drain the old version in time is logged, not
// returned: the swap has happened.
func (s *Slot) Swap(ctx context.Context, wasm []byte, opts PluginOptions) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("plugin %q: slot %w", s.name, ErrClosed)
	}
	m, err := s.rt.Load(ctx, s.name, wasm, opts)
	s.statusMu.Lock()
	s.status.LastError = err
	if err == nil {
		s.status.Digest, s.status.Kinds, s.status.Since = m.Digest(), m.Kinds(), time.Now()
		s.status.Swaps++
	}
	s.statusMu.Unlock()
	if err != nil {
		s.rt.log.Error("plugin swap failed; the previous version stays active", "plugin", s.name,
			"active", s.activeVersion(), "error", err)
		return err
	}
	old := s.active.Swap(m)
	if old == nil {
		m.log.Info("plugin version active")
		return nil
	}
	m.log.Info("plugin version active", "previous", shortDigest(old.Digest()))
	if err := old.Close(ctx); err != nil {
		old.log.Warn("previous plugin version did not drain in time", "error", err)
	}
	return nil
}

func (s *Slot) activeVersion() string {
	if m := s.active.Load(); m != nil {
		return shortDigest(m.Digest())
	}
	return ""
}

// Module returns the active version, nil before the first successful Swap.
func (s *Slot) Module() *Module { return s.active.Load() }

// Status reports the active version and the outcome of the last Swap.
func (s *Slot) Status() SlotStatus {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := s.status
	st.Kinds = append([]hostabi.Kind(nil), st.Kinds...)
	return st
}

// Call runs one operation on the active version (see Module.Call), pinning that version for
// the call's duration.
func (s *Slot) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	for {
		m, err := s.current()
		if err != nil {
			return nil, hostabi.StatusError, err
		}
		out, status, err := m.Call(ctx, export, input)
		if errors.Is(err, errRetired) && s.active.Load() != m {
			continue // swapped out before the call began: run it on the new version
		}
		return out, status, err
	}
}

// Acquire takes an instance of the active version for a sequence of calls (see
// Module.Acquire); the version stays open until the instance is released.
func (s *Slot) Acquire(ctx context.Context) (*Instance, error) {
	for {
		m, err := s.current()
		if err != nil {
			return nil, err
		}
		inst, err := m.Acquire(ctx)
		if errors.Is(err, errRetired) && s.active.Load() != m {
			continue
		}
		return inst, err
	}
}

func (s *Slot) current() (*Module, error) {
	if m := s.active.Load(); m != nil {
		return m, nil
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("plugin %q: slot %w", s.name, ErrClosed)
	}
	return nil, fmt.Errorf("plugin %q: %w", s.name, ErrNotLoaded)
}

// Close closes the active version (draining it, up to ctx); later calls fail with ErrClosed.
func (s *Slot) Close(ctx context.Context) error {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	s.closed.Store(true)
	if m := s.active.Swap(nil); m != nil {
		return m.Close(ctx)
	}
	return nil
}
