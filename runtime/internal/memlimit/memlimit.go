// Package memlimit backs a guest's linear memory with a cap of its own.
//
// wazero's memory limit is a property of the whole wazero.Runtime; tug wants one per plugin and
// wants to know, when a guest dies, whether it died because a memory.grow was refused. An
// experimental.MemoryAllocator gives both: Reallocate refuses growth past the cap (memory.grow
// then returns -1 to the guest, as the spec says) and records that it did.
package memlimit

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Memory is one instance's linear memory, capped at Limit bytes.
type Memory struct {
	Limit   uint64
	buf     []byte
	refused atomic.Uint64 // the largest size refused, 0 if none
}

// New returns an empty memory capped at limit bytes.
func New(limit uint64) *Memory { return &Memory{Limit: limit} }

// Allocator returns an allocator that hands out m; use it for exactly one instantiation.
func (m *Memory) Allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, _ uint64) experimental.LinearMemory { return m })
}

// Reallocate implements experimental.LinearMemory: it grows the buffer to size bytes, or
// returns nil (memory.grow fails) when size exceeds the cap.
func (m *Memory) Reallocate(size uint64) []byte {
	if size > m.Limit {
		m.refused.Store(size)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		// Bytes past len were zeroed by make and never exposed: memory does not shrink.
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically, so a guest growing page by page costs amortized O(1) copies, but
	// never reserve past the cap.
	c := max(size, 2*uint64(cap(m.buf)))
	c = min(c, m.Limit)
	b := make([]byte, size, c)
	copy(b, m.buf)
	m.buf = b
	return b
}

// Free implements experimental.LinearMemory.
func (m *Memory) Free() { m.buf = nil }

// Refused returns the size in bytes of the largest growth refused because of the cap, or 0.
func (m *Memory) Refused() uint64 { return m.refused.Load() }

// TakeRefused returns Refused and resets it, so that each call sees only its own refusals.
func (m *Memory) TakeRefused() uint64 { return m.refused.Swap(0) }
