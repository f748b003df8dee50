//go:build !wasip1

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// serve listens on :$PORT until SIGTERM or an interrupt, then lets requests in flight
// finish. PORT=0 picks a free port; the "listening on" line names it.
func serve() error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// Signals are caught before the "listening on" line, so whoever waits for that line
	// may stop the server at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if udp := os.Getenv("UDP_PORT"); udp != "" {
		if err := serveUDP(udp); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: handler(os.Stdout), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Println("stopping")
	// Kubernetes waits terminationGracePeriodSeconds (30 by default) before SIGKILL.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// sleep calls started once signals are caught, then returns when the process gets SIGTERM
// or an interrupt.
func sleep(started func()) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	started()
	<-ctx.Done()
}
