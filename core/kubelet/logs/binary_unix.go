//go:build unix

package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// The descriptors containerd's shim hands a binary logger (runtime/v2/logging and
// pkg/process.NewBinaryIO in containerd 1.7): the read ends of the container's stdout and
// stderr pipes, and the write end of a pipe the shim reads from before it starts the
// container.
const (
	fdStdout = 3
	fdStderr = 4
	fdReady  = 5
)

// stopGrace is how long RunBinaryLogger goes on copying after its context ends. The shim
// sends SIGTERM after it has closed its ends of the pipes, typically with the container's
// last output still in them, and kills the logger 12 s later; a writer that outlives the
// container (a daemon that inherited its stdout) must not keep the logger past that.
var stopGrace = 2 * time.Second

// RunBinaryLogger is a containerd binary log driver (see BinaryURI): the whole job of a
// logger process, which should call it once and exit. It opens the log file at path,
// closes descriptor 5 to tell the shim the container may start, and copies descriptors 3
// and 4 — the container's stdout and stderr — into the file as its two streams. It returns
// when both streams have ended, that is once the container and everything that inherited
// its output have exited.
//
// The shim stops the logger with SIGTERM; the caller turns that into the end of ctx. Then
// RunBinaryLogger keeps copying for a short grace period so that what is left in the pipes
// reaches the file, and returns an error wrapping ctx's if the streams have not ended by
// then.
func RunBinaryLogger(ctx context.Context, path string) error {
	// Check all three before touching any: in a process the shim did not start, these
	// numbers may belong to something else, which must not be changed or closed.
	for _, fd := range []int{fdStdout, fdStderr, fdReady} {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return fmt.Errorf("descriptor %d (not run by a containerd shim?): %w", fd, err)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
			return fmt.Errorf("descriptor %d is not a pipe (not run by a containerd shim?)", fd)
		}
	}
	ready := os.NewFile(fdReady, "logger-ready")
	var streams [2]*os.File
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.Close()
			}
		}
	}()
	for i, fd := range []int{fdStdout, fdStderr} {
		// Non-blocking, so that os.NewFile hands the descriptor to the runtime's poller
		// and a read deadline can end a read that waits for a writer that never writes.
		if err := syscall.SetNonblock(fd, true); err != nil {
			ready.Close()
			return fmt.Errorf("container output on descriptor %d: %w", fd, err)
		}
		streams[i] = os.NewFile(uintptr(fd), "container-"+[]string{Stdout, Stderr}[i])
	}

	// Ready once the file is open. A logger that fails here exits, which the shim takes
	// as ready too (it reads EOF either way) and starts the container regardless: the
	// error on the logger's stderr is all there is to see.
	f, err := Open(path)
	if err != nil {
		ready.Close()
		return err
	}
	if err := ready.Close(); err != nil {
		f.Close()
		return fmt.Errorf("signal logger ready: %w", err)
	}

	var wg sync.WaitGroup
	var errs [2]error
	for i, name := range []string{Stdout, Stderr} {
		wg.Go(func() {
			_, err := io.Copy(f.Stream(name), streams[i])
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The deadline is only set once ctx has ended.
				err = fmt.Errorf("stopped before the stream ended: %w", ctx.Err())
			}
			if eerr := f.endStream(name); err == nil {
				err = eerr
			}
			if err != nil {
				errs[i] = fmt.Errorf("copy %s: %w", name, err)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		deadline := time.Now().Add(stopGrace)
		for _, s := range streams {
			// Fails only for a descriptor the poller refused, whose copy then runs
			// until its stream ends.
			_ = s.SetReadDeadline(deadline)
		}
		<-done
	}
	return errors.Join(errs[0], errs[1], f.Close())
}
