package store_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/storetest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// embedded starts a single-member embedded etcd for a test and returns a client to it.
func embedded(t *testing.T) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := store.StartEmbedded(ctx, store.EmbedConfig{Name: "test", DataDir: t.TempDir(), ClientListen: freePort(t), PeerListen: freePort(t)})
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

func TestConformanceEmbedded(t *testing.T) {
	storetest.Run(t, store.New(embedded(t), "/registry"))
}
