package runtime

import (
	"context"
	"testing"
)

// TestInstanceMemoryBytes: an instance reports its linear memory, non-zero and within its cap.
func TestInstanceMemoryBytes(t *testing.T) {
	ctx := context.Background()
	inst, err := good.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	n := inst.MemoryBytes()
	if n == 0 || n%65536 != 0 || n > 1024*65536 {
		t.Fatalf("MemoryBytes = %d, want a non-zero multiple of 64 KiB within the 64 MiB default cap", n)
	}
}
