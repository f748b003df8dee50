package userspace

import (
	"context"
	"io"
	"sync"
)

// generation owns every goroutine and socket started between two Cleanups, so that Cleanup
// and Close can end them all and wait, while a handler that races with them (accepted just
// before its listener closed) finds the generation closed instead of escaping it.
type generation struct {
	ctx    context.Context // cancelled at close: ends dials in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	closers map[io.Closer]struct{}
}

func newGeneration() *generation {
	ctx, cancel := context.WithCancel(context.Background())
	return &generation{ctx: ctx, cancel: cancel, closers: map[io.Closer]struct{}{}}
}

// track registers c to be closed with the generation; false means it is closed already,
// and the caller must close c itself.
func (g *generation) track(c io.Closer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closers[c] = struct{}{}
	return true
}

func (g *generation) untrack(c io.Closer) {
	g.mu.Lock()
	delete(g.closers, c)
	g.mu.Unlock()
}

// spawn runs f in a goroutine the generation waits for; false means it is closed and f was
// not started. Adding under the lock that close takes keeps Add from racing with Wait.
func (g *generation) spawn(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// close closes everything tracked and waits for every goroutine spawned.
func (g *generation) close() {
	g.cancel()
	g.mu.Lock()
	g.closed = true
	closers := g.closers
	g.closers = nil
	g.mu.Unlock()
	for c := range closers {
		_ = c.Close()
	}
	g.wg.Wait()
}
