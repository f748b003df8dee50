package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// freeAddr returns a loopback HOST:PORT nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startEmbedded(t *testing.T, cfg EmbedConfig) *Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	return e
}

func newClient(t *testing.T, e *Embedded) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   e.Endpoints(),
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("clientv3.New: %v", err)
	}
	return c
}

// TestEmbedPersistsAcrossRestart writes a key, stops the member, starts a new one on the same
// data dir, and reads the key back.
func TestEmbedPersistsAcrossRestart(t *testing.T) {
	var logs bytes.Buffer
	cfg := EmbedConfig{
		Name:         "test",
		DataDir:      filepath.Join(t.TempDir(), "etcd"), // new, so created 0700: no permission warning
		ClientListen: freeAddr(t),
		PeerListen:   freeAddr(t),
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	e := startEmbedded(t, cfg)
	if got, want := e.Endpoints(), []string{"http://" + cfg.ClientListen}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("Endpoints() = %v, want %v", got, want)
	}
	c := newClient(t, e)
	put, err := c.Put(ctx, "/tug/test/key", "value-1")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	c.Close()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case err := <-e.Err():
		t.Fatalf("Err() reported %v after a clean Close", err)
	default:
	}

	e = startEmbedded(t, cfg)
	defer e.Close()
	c = newClient(t, e)
	defer c.Close()
	resp, err := c.Get(ctx, "/tug/test/key")
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "value-1" {
		t.Fatalf("get after restart = %v, want value-1", resp.Kvs)
	}
	if resp.Kvs[0].ModRevision != put.Header.Revision {
		t.Errorf("mod revision after restart = %d, want %d", resp.Kvs[0].ModRevision, put.Header.Revision)
	}
	// Info-level chatter, benign startup warnings and the noise of a clean Close are dropped:
	// a clean start, stop and restart log nothing at info level.
	if logs.Len() > 0 {
		t.Errorf("etcd logged during a clean start, stop and restart:\n%s", logs.String())
	}
}

// TestEmbedSurvivesKill9 writes a key from a child process, kills it with SIGKILL right after
// the write is acknowledged, and reads the key back from a new member on the same data dir.
func TestEmbedSurvivesKill9(t *testing.T) {
	if os.Getenv("TUG_EMBED_HELPER") != "" {
		t.Skip("running as helper")
	}
	cfg := EmbedConfig{Name: "kill9", DataDir: t.TempDir(), ClientListen: freeAddr(t), PeerListen: freeAddr(t)}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbedHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TUG_EMBED_HELPER="+strings.Join([]string{cfg.DataDir, cfg.ClientListen, cfg.PeerListen}, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var rev int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "put-rev=%d", &rev); err == nil {
			break
		}
	}
	if rev == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper exited without acknowledging its write (scan err %v)", sc.Err())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	e := startEmbedded(t, cfg)
	defer e.Close()
	c := newClient(t, e)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Get(ctx, "/tug/test/kill9")
	if err != nil {
		t.Fatalf("get after kill -9: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "acknowledged" || resp.Kvs[0].ModRevision != rev {
		t.Fatalf("get after kill -9 = %v, want value acknowledged at revision %d", resp.Kvs, rev)
	}
}

// TestEmbedHelperProcess is the child of TestEmbedSurvivesKill9: it writes one key, reports the
// revision and waits to be killed.
func TestEmbedHelperProcess(t *testing.T) {
	env := os.Getenv("TUG_EMBED_HELPER")
	if env == "" {
		t.Skip("helper for TestEmbedSurvivesKill9; runs only as its child process")
	}
	parts := strings.Split(env, ",")
	e := startEmbedded(t, EmbedConfig{Name: "kill9", DataDir: parts[0], ClientListen: parts[1], PeerListen: parts[2]})
	c := newClient(t, e)
	resp, err := c.Put(context.Background(), "/tug/test/kill9", "acknowledged")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	fmt.Printf("put-rev=%d\n", resp.Header.Revision)
	os.Stdout.Sync()
	time.Sleep(time.Minute)
	t.Fatal("helper was not killed")
}

func TestEmbedPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = StartEmbedded(context.Background(), EmbedConfig{
		DataDir:      t.TempDir(),
		ClientListen: l.Addr().String(),
		PeerListen:   freeAddr(t),
	})
	if err == nil {
		t.Fatal("StartEmbedded on a busy client port succeeded")
	}
	if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name the busy address %s", err, l.Addr())
	}
}

func TestEmbedNotReadyWithoutQuorum(t *testing.T) {
	peer := freeAddr(t)
	_, err := StartEmbedded(context.Background(), EmbedConfig{
		Name:           "a",
		DataDir:        t.TempDir(),
		ClientListen:   freeAddr(t),
		PeerListen:     peer,
		InitialCluster: "a=http://" + peer + ",b=http://" + freeAddr(t) + ",c=http://" + freeAddr(t),
		ReadyTimeout:   2 * time.Second,
	})
	if !errors.Is(err, ErrEmbedNotReady) {
		t.Fatalf("StartEmbedded without quorum: err = %v, want ErrEmbedNotReady", err)
	}
}

func TestEmbedConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  EmbedConfig
		want string
	}{
		{"no data dir", EmbedConfig{}, "data dir is required"},
		{"url instead of host:port", EmbedConfig{DataDir: "d", ClientListen: "http://127.0.0.1:2379"}, "not a URL"},
		{"missing port", EmbedConfig{DataDir: "d", PeerListen: "127.0.0.1"}, "missing port"},
		{"missing host", EmbedConfig{DataDir: "d", ClientListen: ":2379"}, "missing host"},
		{"wildcard without advertise", EmbedConfig{DataDir: "d", PeerListen: "0.0.0.0:2380"}, "wildcard"},
		{"bad cluster state", EmbedConfig{DataDir: "d", ClusterState: "joining"}, "cluster state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := embedConfig(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("embedConfig: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEmbedConfigDefaults(t *testing.T) {
	ec, endpoints, err := embedConfig(EmbedConfig{DataDir: "d", ClientListen: "0.0.0.0:2379", ClientAdvertise: "10.0.0.5:2379"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"endpoints", endpoints[0], "http://10.0.0.5:2379"},
		{"name", ec.Name, DefaultEmbedName},
		{"initial cluster", ec.InitialCluster, "tug=http://127.0.0.1:2380"},
		{"cluster state", ec.ClusterState, "new"},
		{"token", ec.InitialClusterToken, "tug"},
		{"compaction mode", ec.AutoCompactionMode, "periodic"},
		{"compaction retention", ec.AutoCompactionRetention, "5m"},
		{"quota", ec.QuotaBackendBytes, int64(8 << 30)},
		{"max request", ec.MaxRequestBytes, uint(10 << 20)},
		{"fsync", ec.UnsafeNoFsync, false},
		{"metrics listeners", len(ec.ListenMetricsUrls), 0},
		{"listen client", ec.ListenClientUrls[0].String(), "http://0.0.0.0:2379"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestZapLogger(t *testing.T) {
	tests := []struct {
		name    string
		min     zapcore.Level
		log     func(*zap.Logger)
		want    []string
		notWant []string
	}{
		{
			name:    "below min dropped",
			min:     zapcore.WarnLevel,
			log:     func(l *zap.Logger) { l.Info("chatty") },
			notWant: []string{"chatty"},
		},
		{
			name: "fields and level carried",
			min:  zapcore.WarnLevel,
			log: func(l *zap.Logger) {
				l.With(zap.String("member", "m1")).Warn("slow apply", zap.Duration("took", time.Second), zap.Error(errors.New("boom")))
			},
			want: []string{"level=WARN", `msg="slow apply"`, "member=m1", "took=1s", "error=boom"},
		},
		{
			name: "error level",
			min:  zapcore.WarnLevel,
			log:  func(l *zap.Logger) { l.Error("failed") },
			want: []string{"level=ERROR", "msg=failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(ZapLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), tt.min))
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q lacks %q", buf.String(), w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(buf.String(), w) {
					t.Errorf("log %q contains %q", buf.String(), w)
				}
			}
		})
	}
}
