// Package interrupt makes a compiled wasm module stoppable at a cost a hot loop can afford.
//
// The sandbox needs a per-call deadline that stops a guest stuck in a loop. wazero offers
// one (RuntimeConfig.WithCloseOnContextDone), but it implements the check as a call out of
// guest code into Go at every loop head. Go-compiled guests loop at every jump (the Go wasm
// backend dispatches basic blocks through one loop per function), so that check made them
// 3–10× slower (docs/BENCHMARKS.md).
//
// Instrument instead rewrites the module before it is compiled. It adds two mutable i32
// globals — a flag, exported, and a budget — and at the head of every loop counts the budget
// down; once in Period loop heads it leaves compiled code for Go (memory.grow(0), the
// cheapest exit that needs no import) and traps if the flag is set:
//
//	loop bt
//	  budget--; if budget == 0 { budget = Period; drop(memory.grow(0)); if flag { unreachable } }
//	  ...
//
// The host sets the flag from another goroutine when a call's deadline passes; the guest
// traps within Period loop heads. The visit to Go is needed as much as the flag: compiled
// guest code cannot be preempted, so a guest that never left it would stall every
// stop-the-world phase of the Go runtime (the GC's among them) — including the timer that
// would set the flag. A guest cannot reach or change either global: they are new, and
// nothing in the original code names their indexes. Straight-line code needs no check,
// since it ends; unbounded recursion ends in wazero's stack limit. A module without memory
// looks at the flag at every loop head instead.
package interrupt
