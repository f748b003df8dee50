package memlimit

import "testing"

func TestMemory(t *testing.T) {
	const page = 65536
	m := New(4 * page)
	lm := m.Allocator().Allocate(page, 1<<32)
	b := lm.Reallocate(page)
	if len(b) != page {
		t.Fatalf("initial: %d bytes", len(b))
	}
	b[page-1] = 7
	b = lm.Reallocate(3 * page)
	if len(b) != 3*page || b[page-1] != 7 || b[2*page] != 0 {
		t.Fatalf("grown: %d bytes, contents not preserved or not zeroed", len(b))
	}
	if cap(b) > 4*page {
		t.Errorf("capacity %d past the limit", cap(b))
	}
	if m.Refused() != 0 {
		t.Errorf("refused %d before any refusal", m.Refused())
	}
	if b := lm.Reallocate(5 * page); b != nil {
		t.Fatalf("growth past the limit returned %d bytes", len(b))
	}
	if got := m.TakeRefused(); got != 5*page {
		t.Errorf("TakeRefused = %d, want %d", got, 5*page)
	}
	if m.Refused() != 0 {
		t.Error("TakeRefused did not reset")
	}
	if b := lm.Reallocate(4 * page); len(b) != 4*page || b[page-1] != 7 {
		t.Errorf("growth to exactly the limit: %d bytes", len(b))
	}
	lm.Free()
}
