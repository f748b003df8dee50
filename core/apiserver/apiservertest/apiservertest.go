// Package apiservertest starts a real API server over a fresh embedded etcd for tests of the
// parts of tug that talk to the API: the plugin manager, and later the scheduler, controllers
// and node agent.
package apiservertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/store"
)

// Server is a running API server; everything stops when the test ends.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Etcd is a client of the server's etcd.
	Etcd *clientv3.Client
	// API is the server itself.
	API *apiserver.Server

	stop func()
}

// Start starts etcd and an API server with cfg (Etcd and Logger are filled in; Logger only if
// nil, with a quiet one). With cfg.TLS, URL is https.
func Start(t testing.TB, cfg apiserver.Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Etcd = StartEtcd(t, cfg.Logger)
	return StartOn(t, cfg)
}

// StartEtcd starts a fresh embedded etcd that logs to log, and returns a client of it.
func StartEtcd(t testing.TB, log *slog.Logger) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := store.StartEmbedded(ctx, store.EmbedConfig{Name: "test", DataDir: t.TempDir(),
		ClientListen: FreeAddr(t), PeerListen: FreeAddr(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	cli, err := clientv3.New(clientv3.Config{Endpoints: m.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// StartOn starts an API server with cfg over the etcd of cfg.Etcd (URL is https with
// cfg.TLS). It stops when the test ends, or at Stop: tests restart a cluster's server with
// another configuration that way.
func StartOn(t testing.TB, cfg apiserver.Config) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := apiserver.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	scheme := "http://"
	if cfg.TLS != nil {
		scheme = "https://"
	}
	return &Server{URL: scheme + ln.Addr().String(), Etcd: cfg.Etcd, API: srv, stop: func() { cancel(); <-done }}
}

// Stop stops the API server (not its etcd) and waits until it has.
func (s *Server) Stop() { s.stop() }

// FreeAddr returns a loopback HOST:PORT nothing listens on at the moment.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
