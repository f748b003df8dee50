// Command tug-log-driver is the log driver containerd's shims start for each of tug's
// containers: it writes the container's stdout and stderr to its log file in the CRI format
// (core/kubelet/logs). The shim runs it as `tug-log-driver log-driver PATH`, the same argument
// shape as the hidden `tug log-driver` command, so either serves the same log URI.
//
// It is its own small program because the shim starts one per container start: the whole tug
// binary costs about 50 ms of CPU and 55 MB of RSS to start, most of it initialising packages a
// log driver never uses, which a burst of pod starts on a small node pays in latency. `make
// build` builds it into cmd/tug/internal/logdriver, and tug carries it inside its own binary
// and writes it out under the node's data directory (as k3s does with the programs it ships).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tugboat-io/tug/core/kubelet/logs"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "log-driver" {
		fmt.Fprintln(os.Stderr, "usage: tug-log-driver log-driver PATH (started by a containerd shim)")
		os.Exit(2)
	}
	// The shim sends SIGTERM when the container is gone; the driver then drains what the
	// pipes still hold before it exits.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := logs.RunBinaryLogger(ctx, os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "tug-log-driver: %v\n", err)
		stop()
		os.Exit(1)
	}
}
