//go:build !wasip1

package host

import (
	"fmt"
	"os"
	"sync"
)

var (
	mu   sync.Mutex
	sink = func(level int32, msg string) {
		fmt.Fprintf(os.Stderr, "tug plugin: %s %s\n", LevelName(level), msg)
	}
)

// Log sends a message to the current sink: stderr, or what SetLogSink installed.
func Log(level int32, msg string) {
	mu.Lock()
	s := sink
	mu.Unlock()
	s(level, msg)
}

// SetLogSink makes f receive log messages and returns a function that restores the
// previous sink.
func SetLogSink(f func(level int32, msg string)) (restore func()) {
	mu.Lock()
	defer mu.Unlock()
	prev := sink
	sink = f
	return func() {
		mu.Lock()
		defer mu.Unlock()
		sink = prev
	}
}
