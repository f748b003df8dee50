package main

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tugboat-io/tug/cmd/tug/internal/defaultplugins"
	"github.com/tugboat-io/tug/core/admission"
	"github.com/tugboat-io/tug/core/controller"
	"github.com/tugboat-io/tug/core/leader"
	"github.com/tugboat-io/tug/core/plugins"
	"github.com/tugboat-io/tug/core/scheduler"
	tugruntime "github.com/tugboat-io/tug/runtime"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"

	"github.com/tugboat-io/tug/cmd/tug/internal/kubeconfig"
	"github.com/tugboat-io/tug/cmd/tug/internal/lockfile"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/user"
	"github.com/tugboat-io/tug/core/store"
)

const (
	// shutdownTimeout bounds the API server's graceful stop (it drains requests for up to 10 s).
	shutdownTimeout = 30 * time.Second
	// etcdMaxCallSendBytes lets the client send what the embedded etcd accepts (10 MiB) plus
	// gRPC framing.
	etcdMaxCallSendBytes = 12 << 20
)

// addDataDirFlag adds --data-dir.
func addDataDirFlag(f *pflag.FlagSet) {
	f.String("data-dir", "./.tug", "directory holding everything this process keeps (env TUG_DATA_DIR)")
}

// addAPIServerFlags adds the flags `tug up` and `tug server` share.
func addAPIServerFlags(f *pflag.FlagSet) {
	addDataDirFlag(f)
	f.String("listen", "127.0.0.1:6443", "HOST:PORT the API server listens on")
	f.String("service-cluster-ip-range", "10.96.0.0/12", "CIDR that Service ClusterIPs are allocated from")
	f.String("service-node-port-range", "30000-32767", "MIN-MAX range that Service NodePorts are allocated from")
	f.Int("watch-cache-size", 10000, "recent events kept per resource for watches to resume from")
	f.Int64("max-request-bytes", 3<<20, "largest request body accepted, in bytes")
	f.Bool("profiling", true, "serve Go's profiles under /debug/pprof/ to callers allowed to get that path (system:masters by default), as kube-apiserver does")
	f.Bool("scheduler", true, "run the scheduler (leader-elected: one of several servers schedules)")
	f.String("scheduler-module", "", "wasm module of the default scheduling plugins (default: the one built into this binary by make build)")
	f.String("scheduler-listen", "127.0.0.1:0", "address of the scheduler's explain endpoint (tug explain pod; port 0: any free port, advertised on its Lease)")
	f.String("scheduler-config", "", "YAML file of scheduler profiles (default: one, default-scheduler, with every default plugin; see docs/SCHEDULER.md)")
	f.Bool("controllers", true, "run the controller manager (leader-elected: one of several servers runs it)")
	f.Bool("admission", true, "run the admission policies (AdmissionPolicy objects; tug's built-in ones are created when missing)")
	f.String("admission-module", "", "wasm module of the built-in admission policies (default: the one built into this binary by make build)")
	f.String("controllers-module", "", "wasm module of the default controllers (default: the one built into this binary by make build)")
	f.Duration("node-monitor-grace-period", 40*time.Second, "how long a node may go without a heartbeat before it is marked Unknown and its pods evicted")
	addSecurityFlags(f)
	addEncryptionFlags(f)
}

// apiOptions are the resolved API server settings.
type apiOptions struct {
	listen, clusterIPRange, nodePortRange string
	watchCacheSize                        int
	maxRequestBytes                       int64
	profiling                             bool
}

func (a *app) apiOptions() (apiOptions, error) {
	s := a.settings
	cacheSize, err := s.Int64("watch-cache-size")
	if err != nil {
		return apiOptions{}, err
	}
	maxBytes, err := s.Int64("max-request-bytes")
	if err != nil {
		return apiOptions{}, err
	}
	profiling, err := s.Bool("profiling")
	if err != nil {
		return apiOptions{}, err
	}
	if cacheSize < 1 || maxBytes < 1024 {
		return apiOptions{}, fmt.Errorf("--watch-cache-size must be at least 1 and --max-request-bytes at least 1024")
	}
	return apiOptions{
		listen:          s.String("listen"),
		clusterIPRange:  s.String("service-cluster-ip-range"),
		nodePortRange:   s.String("service-node-port-range"),
		watchCacheSize:  int(cacheSize),
		profiling:       profiling,
		maxRequestBytes: maxBytes,
	}, nil
}

// openDataDir makes the data dir (absolute, created 0700) and locks it for this process. The
// caller releases the lock last, after everything using the dir has stopped.
func (a *app) openDataDir() (string, *lockfile.Lock, error) {
	dir := a.settings.String("data-dir")
	if dir == "" {
		return "", nil, errors.New("--data-dir is empty")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockfile.Acquire(dir)
	if err != nil {
		return "", nil, err
	}
	return dir, lock, nil
}

// releaseLock releases the data-dir lock, logging a failure (the kernel drops it at exit anyway).
func (a *app) releaseLock(lock *lockfile.Lock) {
	if err := lock.Release(); err != nil {
		a.logger("tug").Warn("release data dir lock", "err", err)
	}
}

// checkListenFree fails early, before anything is started, when addr is taken.
func checkListenFree(what, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, addr, err)
	}
	return ln.Close()
}

// newEtcdClient returns a client for endpoints whose logs go to log at warn and above.
func newEtcdClient(endpoints []string, tlsCfg *tls.Config, log *slog.Logger) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		MaxCallSendMsgSize:   etcdMaxCallSendBytes,
		TLS:                  tlsCfg,
		Logger:               store.ZapLogger(log, zapcore.WarnLevel),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}

// waitEtcd blocks until a linearizable read succeeds (a quorum of the cluster is up), ctx ends,
// or timeout passes.
func waitEtcd(ctx context.Context, cli *clientv3.Client, timeout time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cli.Get(rctx, "/tug-probe", clientv3.WithCountOnly())
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd at %v not reachable within %s: %w", cli.Endpoints(), timeout, err)
		}
		log.Warn("waiting for etcd", "endpoints", cli.Endpoints(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// etcdTLS builds the client TLS config from PEM files; all empty means plain HTTP.
func etcdTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--etcd-certfile and --etcd-keyfile must be given together")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-cafile %s: no PEM certificates found", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// serveAPI builds the API server over cli and runs it until ctx ends (then stops it and returns
// nil), it fails, or storeErr reports the store failed. Once the server answers, it writes
// <dataDir>/kubeconfig and prints banner with the kubeconfig path to stdout.
// With withNode, a node agent runs in this process too (tug up).
func (a *app) serveAPI(ctx context.Context, o apiOptions, dataDir string, cli *clientv3.Client, storeErr <-chan error, banner string, withNode bool) error {
	log := a.logger("tug")
	secure, err := a.settings.Bool("secure")
	if err != nil {
		return err
	}
	serverURL, err := kubeconfig.ServerURL(o.listen, secure)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if secure {
		if a.sec, err = a.newSecurity(ctx, dataDir, o, cli); err != nil {
			return fmt.Errorf("security: %w", err)
		}
	} else {
		log.Warn("--secure=false: plain HTTP, and anyone who reaches the server may do anything")
	}

	// The server outlives ctx until stop: its clients (plugin manager, scheduler) stop first.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var admit apiserver.Admission
	if on, err := a.settings.Bool("admission"); err != nil {
		return err
	} else if on {
		a.admission = admission.New(admission.Config{Logger: a.log, ServiceAccountTokenVolume: a.sec != nil})
		admit = a.admission
	}
	encryption, err := a.storeTransformer(dataDir)
	if err != nil {
		return err
	}
	cfg := apiserver.Config{
		Listen:                o.listen,
		Etcd:                  cli,
		ServiceClusterIPRange: o.clusterIPRange,
		ServiceNodePortRange:  o.nodePortRange,
		WatchCacheSize:        o.watchCacheSize,
		MaxRequestBodyBytes:   o.maxRequestBytes,
		Profiling:             o.profiling,
		Logger:                a.log, // the server adds component=apiserver
		Admission:             admit,
		Transformer:           encryption,
	}
	a.sec.configure(&cfg)
	srv, err := apiserver.New(runCtx, cfg)
	if err != nil {
		return fmt.Errorf("api server: %w", err)
	}
	if a.sec != nil {
		a.sec.objects.r = srv.ObjectReader()
	}
	if a.admission != nil {
		a.admission.UseReader(srv.AdmissionReader())
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(runCtx) }()

	ready := make(chan struct{})
	go func() {
		if waitReady(runCtx, serverURL, a.sec.caPEM()) == nil {
			close(ready)
		}
	}()

	// stopClients stops what talks to the server (the plugin manager, the scheduler) and waits
	// for it, so that nothing calls a server that is going away.
	stopClients := func() {}
	// stop cancels the server and waits for it; it returns the server's shutdown error.
	stop := func() error {
		stopClients()
		cancel()
		select {
		case err := <-runErr:
			if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-time.After(shutdownTimeout):
			return fmt.Errorf("api server did not stop within %s", shutdownTimeout)
		}
	}

	for {
		select {
		case <-ready:
			ready = nil
			path := filepath.Join(dataDir, "kubeconfig")
			// The default roles exist before anyone is told the server is up: without
			// them every user but the masters is refused everything.
			if a.sec != nil {
				if err := a.ensureRBAC(runCtx, serverURL); err != nil {
					return errors.Join(err, stop())
				}
			}
			if err := kubeconfig.Write(path, serverURL, a.sec.adminCredentials()); err != nil {
				return errors.Join(err, stop())
			}
			log.Info("api server ready", "url", serverURL, "kubeconfig", path)
			stopPlugins, err := a.startPlugins(runCtx, srv, dataDir, serverURL)
			if err != nil {
				return errors.Join(err, stop())
			}
			stopClients = stopPlugins
			if withNode {
				stopNode, err := a.startNode(runCtx, serverURL, dataDir)
				if err != nil {
					return errors.Join(err, stop())
				}
				stopClients = func() { stopNode(); stopPlugins() }
			}
			fmt.Fprintf(a.stdout, "%s: export KUBECONFIG=%s\n", banner, path)
			fmt.Fprintf(a.stdout, "then try: kubectl get namespaces\n")
		case err := <-runErr:
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			return fmt.Errorf("api server: %w", err)
		case err := <-storeErr:
			log.Error("store failed; stopping the api server", "err", err)
			return errors.Join(err, stop())
		case <-ctx.Done():
			log.Info("shutting down (signal again to force)")
			if err := stop(); err != nil {
				return fmt.Errorf("api server shutdown: %w", err)
			}
			log.Info("api server stopped")
			return nil
		}
	}
}

// startNode runs a node agent in this process (tug up) until the returned stop is called.
func (a *app) startNode(ctx context.Context, serverURL, dataDir string) (stop func(), err error) {
	nodeName := a.settings.String("node-name")
	cfg, err := a.sec.clientConfig(serverURL, user.NodeUser(nodeName), user.NodesGroup)
	if err != nil {
		return nil, err
	}
	agent, release, err := a.newAgent(ctx, cfg, dataDir)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	nctx, cancel := context.WithCancel(ctx)
	proxyDone, err := a.startProxy(nctx, cfg)
	if err != nil {
		cancel()
		release()
		return nil, fmt.Errorf("service proxy: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := agent.Run(nctx); err != nil && nctx.Err() == nil {
			a.logger("kubelet").Error("node agent stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(shutdownTimeout):
			a.logger("tug").Warn("node agent did not stop in time", "timeout", shutdownTimeout)
		}
		<-proxyDone
		release()
	}, nil
}

// waitReady polls serverURL/readyz until it answers 200, or the ctx ends. caPEM is the CA
// the server's certificate is checked against (nil for plain HTTP).
func waitReady(ctx context.Context, serverURL string, caPEM []byte) error {
	client := &http.Client{Timeout: 3 * time.Second}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// closeEtcdClient closes cli, logging a failure.
func (a *app) closeEtcdClient(cli *clientv3.Client) {
	if err := cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		a.logger("tug").Warn("close etcd client", "err", err)
	}
}

// startPlugins starts the wasm runtime (compilation cache in <dataDir>/wasm-cache), the
// manager that loads the cluster's WasmPlugins into it, and the scheduler. The returned stop
// ends them and waits (up to shutdownTimeout); ctx ending stops them too.
func (a *app) startPlugins(ctx context.Context, srv *apiserver.Server, dataDir, serverURL string) (stop func(), err error) {
	rt, err := tugruntime.New(ctx, tugruntime.Config{CacheDir: filepath.Join(dataDir, "wasm-cache"), Logger: a.log,
		Registerer: prometheus.DefaultRegisterer}) // served by the API server's /metrics
	if err != nil {
		return nil, fmt.Errorf("wasm runtime: %w", err)
	}
	loopback, err := a.sec.loopback(serverURL)
	if err != nil {
		_ = rt.Close(context.Background())
		return nil, err
	}
	mgr, err := plugins.New(rt, loopback, a.log)
	if err != nil {
		_ = rt.Close(context.Background())
		return nil, err
	}
	sched, explainLn, err := a.newScheduler(ctx, rt, mgr, serverURL)
	if err != nil {
		_ = rt.Close(context.Background())
		return nil, err
	}
	ctrls, err := a.newControllers(ctx, rt, mgr, serverURL)
	if err != nil {
		_ = rt.Close(context.Background())
		return nil, err
	}
	if err := a.loadAdmission(ctx, rt, mgr); err != nil {
		_ = rt.Close(context.Background())
		return nil, err
	}
	var explainSrv *http.Server
	if explainLn != nil {
		explainSrv = &http.Server{Handler: sched.Handler(), ReadHeaderTimeout: 10 * time.Second}
		if a.sec != nil {
			explainSrv.Handler, explainSrv.TLSConfig = srv.Guard(explainSrv.Handler, explainAttrs), a.sec.tls
			go func() { _ = explainSrv.ServeTLS(explainLn, "", "") }()
		} else {
			go func() { _ = explainSrv.Serve(explainLn) }()
		}
	}
	pctx, pcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = mgr.Run(pctx)
	}()
	if a.admission != nil {
		dyn, err := dynamic.NewForConfig(loopback)
		if err != nil {
			pcancel()
			_ = rt.Close(context.Background())
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.admission.Run(pctx, dyn); err != nil && pctx.Err() == nil {
				a.logger("admission").Error("admission policies not followed", "err", err)
			}
		}()
	}
	if a.sec != nil {
		signer, err := a.sec.csrSigner(loopback, a.log)
		if err != nil {
			pcancel()
			_ = rt.Close(context.Background())
			return nil, err
		}
		publisher, err := a.sec.rootCAPublisher(loopback, a.log)
		if err != nil {
			pcancel()
			_ = rt.Close(context.Background())
			return nil, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := signer.Run(pctx); err != nil && pctx.Err() == nil {
				a.logger("csrsigner").Error("certificate signer stopped", "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := publisher.Run(pctx); err != nil && pctx.Err() == nil {
				a.logger("rootca").Error("cluster CA publisher stopped", "err", err)
			}
		}()
	}
	if ctrls != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ctrls.Run(pctx); err != nil {
				a.logger("controller-manager").Error("controller manager stopped", "err", err)
			}
		}()
	}
	if sched != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sched.Run(pctx); err != nil {
				a.logger("scheduler").Error("scheduler stopped", "err", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		_ = rt.Close(context.Background())
		close(done)
	}()
	return func() {
		if explainSrv != nil {
			_ = explainSrv.Close()
		}
		pcancel()
		select {
		case <-done:
		case <-time.After(shutdownTimeout):
			a.logger("tug").Warn("plugins and scheduler did not stop in time", "timeout", shutdownTimeout)
		}
	}, nil
}

// newScheduler loads the default scheduling plugins and returns the scheduler that runs them
// in the profiles of --scheduler-config (default: default-scheduler with every plugin), or nil
// when --scheduler is off or this build has no module (a plain go build; make build embeds
// one).
func (a *app) newScheduler(ctx context.Context, rt *tugruntime.Runtime, slots scheduler.Slots, serverURL string) (*scheduler.Scheduler, net.Listener, error) {
	log := a.logger("scheduler")
	if on, err := a.settings.Bool("scheduler"); err != nil || !on {
		return nil, nil, err
	}
	wasm, ok := defaultplugins.Module()
	if path := a.settings.String("scheduler-module"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--scheduler-module: %w", err)
		}
		wasm, ok = b, true
	}
	if !ok {
		log.Warn("no scheduler: this binary has no default plugins built in (build it with make build, or pass --scheduler-module)")
		return nil, nil, nil
	}
	cfg := scheduler.DefaultConfig()
	if path := a.settings.String("scheduler-config"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--scheduler-config: %w", err)
		}
		if cfg, err = scheduler.ParseConfig(data); err != nil {
			return nil, nil, fmt.Errorf("--scheduler-config %s: %w", path, err)
		}
	}
	// One instance of the module per profile: its configuration says which plugins run. The
	// plugins keep every node and pod resident; 512 MiB holds thousands of nodes.
	builder, err := scheduler.NewProfileBuilder(ctx, rt, wasm, tugruntime.PluginOptions{MemoryLimitPages: 8192, PoolSize: 1}, slots)
	if err != nil {
		return nil, nil, err
	}
	var profiles []*scheduler.Profile
	for i := range cfg.Profiles {
		prof, _, err := builder.Build(ctx, &cfg.Profiles[i]) // released with the runtime
		if err != nil {
			return nil, nil, fmt.Errorf("scheduler profile %s: %w", cfg.Profiles[i].SchedulerName, err)
		}
		log.Info("scheduler profile", "schedulerName", prof.SchedulerName, "plugins", len(prof.Plugins))
		profiles = append(profiles, prof)
	}
	restConfig, err := a.sec.clientConfig(serverURL, user.KubeScheduler)
	if err != nil {
		return nil, nil, err
	}
	restConfig.QPS, restConfig.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", a.settings.String("scheduler-listen"))
	if err != nil {
		return nil, nil, fmt.Errorf("--scheduler-listen: %w", err)
	}
	scheme := "http://"
	if a.sec != nil {
		scheme = "https://" // served with the API server's certificate, behind its stages (apiserver.Server.Guard)
	}
	return scheduler.New(scheduler.Config{Client: client, Profiles: profiles, Logger: a.log, ExplainURL: scheme + ln.Addr().String(),
		Watch:    &scheduler.ProfileWatch{Config: restConfig, Build: builder.Build},
		Election: &leader.Config{Namespace: "kube-system", Name: schedulerLease, Identity: candidateID(), Logger: a.log}}), ln, nil
}

// controllerMemoryPages caps each built-in controller instance's memory: 256 MiB. A Go
// guest collects only near 80% of its cap (ABI.md §6), so this is also about what a busy
// instance holds; a 1000-pod ReplicaSet's reconcile needs some 20 MiB live.
const controllerMemoryPages = 4096

// controllersLease is the Lease the controller managers of a cluster elect their leader by.
const controllersLease = "tug-controller-manager"

// newControllers loads the default controllers module once per controller (the runtime
// compiles it once) and returns the manager running them, or nil when --controllers is off
// or this build has no module.
func (a *app) newControllers(ctx context.Context, rt *tugruntime.Runtime, wasmPlugins *plugins.Manager, serverURL string) (*controller.Manager, error) {
	log := a.logger("controller-manager")
	if on, err := a.settings.Bool("controllers"); err != nil || !on {
		return nil, err
	}
	wasm, ok := defaultplugins.Controllers()
	if path := a.settings.String("controllers-module"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--controllers-module: %w", err)
		}
		wasm, ok = b, true
	}
	if !ok {
		log.Warn("no controllers: this binary has no default controllers built in (build it with make build, or pass --controllers-module)")
		return nil, nil
	}
	grace, err := a.settings.Duration("node-monitor-grace-period")
	if err != nil {
		return nil, err
	}
	var ctrls []controller.Controller
	for _, def := range controller.Builtins() {
		slot := rt.NewSlot("controller/" + def.Name)
		cfg, _ := json.Marshal(map[string]string{"controller": def.Name, "nodeMonitorGracePeriod": grace.String()})
		// A reconcile holds its parent's every child: a 1000-pod ReplicaSet's input is over
		// a megabyte of JSON, which a Go guest decodes into several times that.
		if err := slot.Swap(ctx, wasm, tugruntime.PluginOptions{Config: cfg, PoolSize: max(def.Workers, 2), Deadline: 5 * time.Second,
			MemoryLimitPages: controllerMemoryPages}); err != nil {
			return nil, fmt.Errorf("controller %s: %w", def.Name, err)
		}
		ctrls = append(ctrls, controller.Controller{Definition: def, Plugin: slot})
	}
	lookup := func(name string) (controller.Plugin, bool) {
		slot, ok := wasmPlugins.Slot(name)
		if !ok {
			return nil, false
		}
		return slot, true
	}
	// The controller manager hosts users' controller plugins too, whose needs no default
	// role can foresee, so it acts with the masters' rights under its own name (per-plugin
	// identities are future work).
	restConfig, err := a.sec.clientConfig(serverURL, user.KubeControllerManager, user.Masters)
	if err != nil {
		return nil, err
	}
	return controller.New(controller.Config{Rest: restConfig, Builtins: ctrls, Plugins: lookup, Logger: a.log,
		Election: &leader.Config{Namespace: "kube-system", Name: controllersLease, Identity: candidateID(), Logger: a.log}})
}

// admissionMemoryPages caps each instance of the built-in admission module: 128 MiB.
const admissionMemoryPages = 2048

// loadAdmission loads the built-in admission module and hands the chain it and the
// cluster's WasmPlugins. Without a module (a plain go build) the built-in policies are
// skipped, with a warning, as the scheduler and controllers are then off.
func (a *app) loadAdmission(ctx context.Context, rt *tugruntime.Runtime, wasmPlugins *plugins.Manager) error {
	if a.admission == nil {
		return nil
	}
	lookup := func(name string) (admission.Plugin, bool) {
		slot, ok := wasmPlugins.Slot(name)
		if !ok {
			return nil, false
		}
		return slot, true
	}
	wasm, ok := defaultplugins.Admission()
	if path := a.settings.String("admission-module"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--admission-module: %w", err)
		}
		wasm, ok = b, true
	}
	if !ok {
		a.logger("admission").Warn("no built-in admission module: this binary has none built in (build it with make build, or pass --admission-module); the built-in policies are skipped")
		a.admission.SetPlugins(nil, lookup)
		return nil
	}
	slot := rt.NewSlot("admission/builtin")
	if err := slot.Swap(ctx, wasm, tugruntime.PluginOptions{PoolSize: 4, Deadline: time.Second, MemoryLimitPages: admissionMemoryPages}); err != nil {
		return fmt.Errorf("admission module: %w", err)
	}
	a.admission.SetPlugins(slot, lookup)
	return nil
}

// candidateID names this process in a leader election: the host and a random suffix, so
// that two processes on one host are two candidates.
func candidateID() string {
	host, _ := os.Hostname()
	id := make([]byte, 4)
	_, _ = cryptorand.Read(id)
	return fmt.Sprintf("%s-%x", host, id)
}
