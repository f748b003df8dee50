package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults for an embedded etcd member. Everything listens on loopback unless told otherwise.
const (
	DefaultEmbedName         = "tug"
	DefaultEmbedClientListen = "127.0.0.1:2379"
	DefaultEmbedPeerListen   = "127.0.0.1:2380"
	DefaultEmbedClusterToken = "tug"
	DefaultEmbedReadyTimeout = 60 * time.Second

	// embedQuotaBackendBytes is the backend size at which etcd raises a NOSPACE alarm.
	embedQuotaBackendBytes = 8 << 30
	// embedMaxRequestBytes caps one etcd request; Kubernetes objects can be large (a ConfigMap
	// holds up to 1 MiB of data, a List-then-Txn more).
	embedMaxRequestBytes = 10 << 20
	// embedCompactionRetention keeps five minutes of history. The watch cache resumes from its
	// own window and re-lists when etcd reports a compacted revision.
	embedCompactionMode      = "periodic"
	embedCompactionRetention = "5m"
)

// ErrEmbedNotReady is returned (wrapped) by StartEmbedded when the member did not become ready
// in time, typically because it cannot reach a quorum of the members named in InitialCluster.
var ErrEmbedNotReady = errors.New("store: embedded etcd not ready")

// EmbedConfig configures one embedded etcd member.
type EmbedConfig struct {
	// Name is the member name; it must match this member's entry in InitialCluster.
	// Empty means DefaultEmbedName.
	Name string
	// DataDir holds the member's WAL and snapshots. It is created with mode 0700.
	DataDir string
	// ClientListen and PeerListen are HOST:PORT; empty means 127.0.0.1:2379 and :2380.
	ClientListen, PeerListen string
	// ClientAdvertise and PeerAdvertise are the HOST:PORT other processes use to reach this
	// member; empty means the listen address. They must be set when listening on 0.0.0.0 or ::.
	ClientAdvertise, PeerAdvertise string
	// InitialCluster is "n1=http://127.0.0.1:2380,n2=…"; empty means a single-member cluster.
	// It is only read when the data dir is new.
	InitialCluster string
	// ClusterState is "new" or "existing" (joining a running cluster); empty means "new".
	ClusterState string
	// ClusterToken separates clusters bootstrapped from the same peer URLs; empty means "tug".
	ClusterToken string
	// ReadyTimeout bounds the wait for the member to join its cluster; 0 means 60s.
	ReadyTimeout time.Duration
	// Logger receives etcd's warnings and errors (its info when Logger is enabled for debug).
	// Nil discards them.
	Logger *slog.Logger
}

// Embedded is a running embedded etcd member.
type Embedded struct {
	etcd      *embed.Etcd
	endpoints []string
	errc      chan error
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	// stopping is set during Close, so the log adapter can quiet etcd's reports of its own
	// listeners closing.
	stopping *atomic.Bool
}

// StartEmbedded starts an etcd member and waits until it has joined its cluster and serves
// clients. Data is fsynced: it survives the process being killed at any point.
func StartEmbedded(ctx context.Context, cfg EmbedConfig) (*Embedded, error) {
	stopping := new(atomic.Bool)
	ecfg, endpoints, err := embedConfig(cfg, stopping)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd data dir: %w", err)
	}
	e, err := embed.StartEtcd(ecfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}

	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultEmbedReadyTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	abort := func() {
		stopping.Store(true)
		e.Server.HardStop() // a member without quorum would block in Close's graceful stop
		e.Close()
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		abort()
		if err == nil {
			err = errors.New("server stopped")
		}
		return nil, fmt.Errorf("embedded etcd %s failed while starting: %w", ecfg.Name, err)
	case <-e.Server.StopNotify():
		abort()
		return nil, fmt.Errorf("embedded etcd %s stopped while starting (see its log for why)", ecfg.Name)
	case <-timer.C:
		abort()
		return nil, fmt.Errorf("%w after %s: member %q (peer %s) could not join cluster %q; are a quorum of its members running and reachable?",
			ErrEmbedNotReady, timeout, ecfg.Name, ecfg.AdvertisePeerUrls[0].String(), ecfg.InitialCluster)
	case <-ctx.Done():
		abort()
		return nil, fmt.Errorf("embedded etcd %s: %w", ecfg.Name, ctx.Err())
	}

	m := &Embedded{
		etcd:      e,
		endpoints: endpoints,
		errc:      make(chan error, 1),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		stopping:  stopping,
	}
	go m.watch()
	return m, nil
}

// watch turns a serving failure or an unexpected stop of the server into one error on Err.
func (m *Embedded) watch() {
	defer close(m.done)
	var err error
	select {
	case <-m.closing:
		return
	case err = <-m.etcd.Err():
		if err == nil {
			err = errors.New("a listener stopped")
		}
	case <-m.etcd.Server.StopNotify():
		err = errors.New("server stopped (see its log; was this member removed from the cluster?)")
	}
	select {
	case <-m.closing:
	default:
		m.errc <- fmt.Errorf("embedded etcd: %w", err)
	}
}

// Endpoints are the client URLs of this member, for clientv3.Config.Endpoints.
func (m *Embedded) Endpoints() []string { return append([]string(nil), m.endpoints...) }

// Err reports at most one error: the member stopped serving without Close being called.
func (m *Embedded) Err() <-chan error { return m.errc }

// Close stops the member gracefully: in-flight requests finish (bounded by etcd's request
// timeout), then raft stops and the WAL is closed. It is safe to call more than once.
func (m *Embedded) Close() error {
	m.closeOnce.Do(func() {
		close(m.closing)
		m.stopping.Store(true)
		m.etcd.Close()
		<-m.done
	})
	return nil
}

// embedConfig translates an EmbedConfig into etcd's, returning the client endpoints too.
func embedConfig(cfg EmbedConfig, stopping *atomic.Bool) (*embed.Config, []string, error) {
	if cfg.DataDir == "" {
		return nil, nil, errors.New("embedded etcd: data dir is required")
	}
	name := cfg.Name
	if name == "" {
		name = DefaultEmbedName
	}
	clientListen := orDefault(cfg.ClientListen, DefaultEmbedClientListen)
	peerListen := orDefault(cfg.PeerListen, DefaultEmbedPeerListen)

	lc, err := hostPortURL("client listen", clientListen)
	if err != nil {
		return nil, nil, err
	}
	lp, err := hostPortURL("peer listen", peerListen)
	if err != nil {
		return nil, nil, err
	}
	ac, err := advertiseURL("client", cfg.ClientAdvertise, lc)
	if err != nil {
		return nil, nil, err
	}
	ap, err := advertiseURL("peer", cfg.PeerAdvertise, lp)
	if err != nil {
		return nil, nil, err
	}

	ec := embed.NewConfig()
	ec.Name = name
	ec.Dir = cfg.DataDir
	ec.ListenClientUrls = []url.URL{*lc}
	ec.AdvertiseClientUrls = []url.URL{*ac}
	ec.ListenPeerUrls = []url.URL{*lp}
	ec.AdvertisePeerUrls = []url.URL{*ap}
	ec.InitialClusterToken = orDefault(cfg.ClusterToken, DefaultEmbedClusterToken)
	if cfg.InitialCluster == "" {
		ec.InitialCluster = ec.InitialClusterFromName(name)
	} else {
		ec.InitialCluster = cfg.InitialCluster
	}
	switch cs := orDefault(cfg.ClusterState, embed.ClusterStateFlagNew); cs {
	case embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting:
		ec.ClusterState = cs
	default:
		return nil, nil, fmt.Errorf("embedded etcd: cluster state %q: want %q or %q", cs, embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting)
	}

	ec.AutoCompactionMode = embedCompactionMode
	ec.AutoCompactionRetention = embedCompactionRetention
	ec.QuotaBackendBytes = embedQuotaBackendBytes
	ec.MaxRequestBytes = embedMaxRequestBytes
	ec.UnsafeNoFsync = false
	ec.ListenMetricsUrls = nil
	ec.EnablePprof = false

	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	minLevel := zapcore.WarnLevel
	if lg.Enabled(context.Background(), slog.LevelDebug) {
		minLevel = zapcore.InfoLevel
	}
	ec.Logger = "zap"
	ec.LogLevel = "warn" // read by etcd for pprof and grpc logging decisions only
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(&slogCore{h: lg.Handler(), min: minLevel, stopping: stopping}))

	return ec, []string{ac.String()}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// hostPortURL turns HOST:PORT into http://HOST:PORT, rejecting URLs and missing ports.
func hostPortURL(what, hostPort string) (*url.URL, error) {
	if strings.Contains(hostPort, "://") {
		return nil, fmt.Errorf("embedded etcd: %s %q: want HOST:PORT, not a URL", what, hostPort)
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %s %q: %w", what, hostPort, err)
	}
	if port == "" {
		return nil, fmt.Errorf("embedded etcd: %s %q: missing port", what, hostPort)
	}
	if host == "" {
		return nil, fmt.Errorf("embedded etcd: %s %q: missing host (use 127.0.0.1 for loopback or 0.0.0.0 for all interfaces)", what, hostPort)
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}, nil
}

// advertiseURL is the URL peers and clients dial: adv if given, else the listen URL, which must
// then name a concrete host.
func advertiseURL(what, adv string, listen *url.URL) (*url.URL, error) {
	if adv != "" {
		return hostPortURL(what+" advertise", adv)
	}
	if ip := net.ParseIP(listen.Hostname()); ip != nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("embedded etcd: %s listen %s is a wildcard address; set the %s advertise address other members and clients dial", what, listen.Host, what)
	}
	return listen, nil
}

// ZapLogger returns a zap logger that writes to l, dropping entries below min. etcd's server
// and client libraries log through zap; this routes them to tug's slog output.
func ZapLogger(l *slog.Logger, min zapcore.Level) *zap.Logger {
	return zap.New(&slogCore{h: l.Handler(), min: min})
}

// benignEtcdWarnings are etcd warnings that say nothing actionable about tug's setup; they are
// logged at debug instead.
var benignEtcdWarnings = map[string]bool{
	// Clients and peers share one port per scheme on purpose: fewer ports to move.
	"Running http and grpc server on single port. This is not recommended for production.": true,
	// etcd's own auth is off; tug authenticates API requests itself.
	"simple token is not cryptographically signed": true,
	// A brand-new member's storage-version monitor can run before the first raft term is
	// persisted ("missing term information"); etcd tries again on its next tick.
	"Failed to detect schema version":  true,
	"failed to update storage version": true,
}

// etcdStopMessages are what etcd logs, as warnings and errors, when Close shuts its listeners.
// During a Close they are logged at debug.
var etcdStopMessages = map[string]bool{
	"setting up serving from embedded etcd failed.":      true,
	"stopping insecure grpc server due to error":         true,
	"stopped insecure grpc server due to error":          true,
	"stopping secure grpc server due to error":           true,
	"stopped secure grpc server due to error":            true,
	"closed TCP streaming connection with remote peer":   true,
	"lost TCP streaming connection with remote peer":     true,
	"peer became inactive (message send to peer failed)": true,
	"failed to find remote peer in cluster":              true,
}

// canceledCall reports the etcd client's warning about a call its caller cancelled (an API
// request whose client went away, a component stopping): nothing failed.
func canceledCall(e zapcore.Entry, fields []zapcore.Field) bool {
	if e.Message != "retrying of unary invoker failed" {
		return false
	}
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType && strings.Contains(err.Error(), "code = Canceled") {
			return true
		}
	}
	return false
}

// slogCore is a zapcore.Core over a slog.Handler.
type slogCore struct {
	h   slog.Handler
	min zapcore.Level
	// stopping, if set and true, quiets etcdStopMessages.
	stopping *atomic.Bool
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= c.min && c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h.WithAttrs(zapAttrs(fields)), min: c.min, stopping: c.stopping}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slogLevel(e.Level)
	if benignEtcdWarnings[e.Message] || canceledCall(e, fields) || c.stopping != nil && c.stopping.Load() && etcdStopMessages[e.Message] {
		level = slog.LevelDebug
		if !c.h.Enabled(context.Background(), level) {
			return nil
		}
	}
	r := slog.NewRecord(e.Time, level, e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(zapAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// zapAttrs encodes zap fields into slog attributes, sorted by key for stable output.
func zapAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
