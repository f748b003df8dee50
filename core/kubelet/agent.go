package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/kubelet/container"
)

// Config configures an agent.
type Config struct {
	// NodeName is the Node this agent registers and runs pods for.
	NodeName string
	Client   kubernetes.Interface
	// EventClient writes the agent's events; nil means Client. Kubelet gives events their own
	// client and rate limit, so a burst of events never delays a status write.
	EventClient kubernetes.Interface
	// Runtimes run the pods; the first is the default for pods that name no RuntimeClass.
	Runtimes []container.Runtime
	// RootDir holds the agent's state: pod volumes and container logs.
	RootDir string
	// NodeIP is the node's address (InternalIP); the kubelet API is reached on it.
	NodeIP netip.Addr
	// Labels and Taints are put on the Node when it registers.
	Labels map[string]string
	Taints []corev1.Taint
	// Capacity overrides what is read off the machine (cpu, memory, pods, ephemeral-storage).
	Capacity corev1.ResourceList
	// ClientCA, when set, secures the kubelet API as kubelet's --client-ca-file,
	// --authentication-token-webhook and --authorization-mode=Webhook do: HTTPS with a
	// serving certificate the cluster signs (see servingcert.go), callers authenticated by a
	// client certificate of ClientCA or a bearer token the API server vouches for
	// (TokenReview), every request but /healthz authorized by the API server
	// (SubjectAccessReview). Nil serves plain HTTP to anyone (tug's --secure=false).
	ClientCA *x509.CertPool
	// Listen and HealthzListen are where the kubelet API and its health check are served
	// (":10250" and "127.0.0.1:10248" by default; "-" turns the health check off).
	Listen, HealthzListen string
	// LeaseDuration is the Node Lease's duration; the agent renews it four times per
	// duration, as kubelet does (40 s by default).
	LeaseDuration time.Duration
	// StatusInterval is how often node status is written even when unchanged (1 min).
	StatusInterval time.Duration
	// ResyncInterval is how often a pod worker looks at its pod without being woken (10 s).
	ResyncInterval time.Duration
	// Backoff overrides the crash-loop back-off (10 s doubling to 5 min).
	Backoff *Backoff
	// PodManifestPath, when set, is a directory of static pod manifests.
	PodManifestPath string
	// ClusterDNS are the addresses of the cluster's DNS server: the nameservers of pods with
	// dnsPolicy ClusterFirst (kubelet's --cluster-dns). With none, such pods fall back to
	// dnsPolicy Default, with a MissingClusterDNS warning event.
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster's DNS domain, which ClusterFirst pods search and pod
	// FQDNs end in (DefaultClusterDomain when empty).
	ClusterDomain string
	// MemoryBackedVolumes keeps Secret, projected (service account tokens), downward API
	// and medium-Memory emptyDir volumes on a tmpfs at <RootDir>/memory, as kubelet does, so
	// secrets never reach the disk (and writing them costs no disk journal). Where no tmpfs
	// can be mounted (not root, not Linux) they are written with the other volumes, and the
	// agent says so at start.
	MemoryBackedVolumes bool
	// ResolvConf is the node's resolver configuration, which pods with dnsPolicy Default
	// inherit and whose search domains ClusterFirst pods add to theirs
	// (DefaultResolvConf when empty; NoResolvConf inherits nothing, as kubelet's
	// --resolv-conf="").
	ResolvConf string
	Logger     *slog.Logger
}

// Defaults and special values of Config's DNS fields.
const (
	DefaultClusterDomain = "cluster.local"
	DefaultResolvConf    = "/etc/resolv.conf"
	// NoResolvConf as Config.ResolvConf makes pods inherit nothing from the node's resolver
	// configuration: Default pods get the node's loopback as nameserver.
	NoResolvConf = "-"
)

// Backoff configures the crash-loop back-off: restarts after the first wait Initial, doubling
// up to Max.
type Backoff struct{ Initial, Max time.Duration }

// Agent is a running node agent.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	client  kubernetes.Interface
	backoff backoff
	events  *recorder
	// memoryRoot is the tmpfs memory-backed volumes live on, "" when there is none.
	memoryRoot string
	// reads collapses concurrent reads of one ConfigMap or Secret (every pod of a namespace
	// mounts kube-root-ca.crt) into one request.
	reads singleflight.Group

	mu      sync.Mutex
	workers map[types.UID]*worker
	wg      sync.WaitGroup

	pods         cache.Indexer
	runtimeClass func(name string) (*nodev1.RuntimeClass, error)
	// services lists Services for the containers' service link variables (nil: none).
	services      func(namespace string) ([]*corev1.Service, error)
	kubeletPort   int32
	ready         chan struct{}
	defaultRT     container.Runtime
	runtimes      map[string]container.Runtime
	staticSources *staticPods
	// nodeHosts is the node's hosts file, which hostNetwork pods get.
	nodeHosts string
	// tokens are the service account tokens of projected volumes.
	tokens *tokenCache
	// serving is the kubelet API's serving certificate (with Config.ClientCA).
	serving atomic.Pointer[tls.Certificate]
}

// New checks cfg and returns an agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" || cfg.Client == nil || len(cfg.Runtimes) == 0 || cfg.RootDir == "" {
		return nil, errors.New("kubelet: a node name, a client, a runtime and a root directory are required")
	}
	if cfg.Listen == "" {
		cfg.Listen = ":10250"
	}
	if cfg.HealthzListen == "" {
		cfg.HealthzListen = "127.0.0.1:10248"
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = time.Minute
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 10 * time.Second
	}
	if !cfg.NodeIP.IsValid() {
		cfg.NodeIP = DetectNodeIP()
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	cfg.ClusterDomain = strings.TrimSuffix(cfg.ClusterDomain, ".")
	if msgs := validation.IsDNS1123Subdomain(cfg.ClusterDomain); len(msgs) > 0 {
		return nil, fmt.Errorf("kubelet: cluster domain %q: %s", cfg.ClusterDomain, strings.Join(msgs, "; "))
	}
	dnsIPs := make([]netip.Addr, 0, len(cfg.ClusterDNS))
	for _, ip := range cfg.ClusterDNS {
		if !ip.IsValid() {
			return nil, errors.New("kubelet: a cluster DNS address is not a valid IP address")
		}
		dnsIPs = append(dnsIPs, ip.Unmap())
	}
	cfg.ClusterDNS = dnsIPs
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "kubelet", "node", cfg.NodeName)
	bo := defaultBackoff
	if cfg.Backoff != nil {
		bo.Initial, bo.Max = cfg.Backoff.Initial, cfg.Backoff.Max
	}
	a := &Agent{
		cfg: cfg, log: log, client: cfg.Client, backoff: bo, tokens: newTokenCache(cfg.Client),
		workers: map[types.UID]*worker{}, ready: make(chan struct{}),
		runtimes: map[string]container.Runtime{}, defaultRT: cfg.Runtimes[0], nodeHosts: nodeHostsFile,
	}
	for _, rt := range cfg.Runtimes {
		a.runtimes[rt.Handler()] = rt
	}
	eventClient := cfg.EventClient
	if eventClient == nil {
		eventClient = cfg.Client
	}
	a.events = newRecorder(eventClient, cfg.NodeName, log)
	if cfg.MemoryBackedVolumes {
		dir := filepath.Join(cfg.RootDir, memoryDir)
		if err := mountMemory(dir); err != nil {
			log.Info("secret, token and downward API volumes are written to disk: no tmpfs for them", "dir", dir, "err", err)
		} else {
			a.memoryRoot = dir
		}
	}
	if err := os.MkdirAll(a.podsDir(), 0o750); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	return a, nil
}

func (a *Agent) podsDir() string { return filepath.Join(a.cfg.RootDir, "pods") }

// memoryDir is where, under RootDir, the tmpfs of memory-backed volumes is mounted.
const memoryDir = "memory"

// Run serves the kubelet API, registers the Node and runs the node's pods until ctx ends.
// Containers keep running when it returns (a containerd runtime's outlive the agent).
func (a *Agent) Run(ctx context.Context) error {
	go a.events.run(ctx)
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("kubelet: listen on %s: %w", a.cfg.Listen, err)
	}
	a.kubeletPort = int32(ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: a.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	if a.cfg.ClientCA != nil {
		srv.Handler = a.authFilter(authn.Union(&authn.X509{Roots: a.cfg.ClientCA}, authn.Bearer(tokenReviewer{a.client})), accessReviewer{a.client}, srv.Handler)
		// Client certificates are asked for, not required: a caller may bring a token
		// instead. The X509 authenticator verifies what is presented.
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: a.getCertificate, ClientAuth: tls.RequestClientCert}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	defer srv.Close()
	if a.cfg.HealthzListen != "-" {
		hln, err := net.Listen("tcp", a.cfg.HealthzListen)
		if err != nil {
			return fmt.Errorf("kubelet: listen on %s: %w", a.cfg.HealthzListen, err)
		}
		hs := &http.Server{Handler: a.healthzHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(hln) }()
		defer hs.Close()
	}

	if err := a.registerNode(ctx); err != nil {
		return err
	}
	a.log.Info("node registered", "address", a.cfg.NodeIP, "kubelet-port", a.kubeletPort, "kubelet-https", a.cfg.ClientCA != nil)
	if a.cfg.ClientCA != nil {
		// The signer checks the certificate's names against the registered Node's addresses.
		go a.keepServingCert(ctx)
	}

	podFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
	}))
	podInf := podFactory.Core().V1().Pods().Informer()
	a.pods = podInf.GetIndexer()
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.podChanged(ctx, o) },
		UpdateFunc: func(_, o any) { a.podChanged(ctx, o) },
		DeleteFunc: func(o any) { a.podDeleted(ctx, o) },
	}); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(a.client, 0)
	rcLister := factory.Node().V1().RuntimeClasses().Lister()
	a.runtimeClass = rcLister.Get
	svcLister := factory.Core().V1().Services().Lister()
	a.services = func(ns string) ([]*corev1.Service, error) { return svcLister.Services(ns).List(labels.Everything()) }
	podFactory.Start(ctx.Done())
	factory.Start(ctx.Done())
	defer podFactory.Shutdown()
	defer factory.Shutdown()
	for typ, ok := range podFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("kubelet: %v informer did not sync", typ)
		}
	}
	factory.WaitForCacheSync(ctx.Done())

	if err := a.adoptOrphans(ctx); err != nil {
		a.log.Warn("cleaning up containers of pods that are gone", "err", err)
	}
	if a.cfg.PodManifestPath != "" {
		a.staticSources = newStaticPods(a, a.cfg.PodManifestPath)
		go a.staticSources.run(ctx)
	}
	close(a.ready)

	go a.heartbeat(ctx)
	<-ctx.Done()
	a.mu.Lock()
	ws := make([]*worker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	for _, w := range ws {
		w.poke()
	}
	a.wg.Wait()
	return nil
}

// podChanged hands a pod to its worker, starting one for a pod seen the first time.
func (a *Agent) podChanged(ctx context.Context, o any) {
	pod, ok := o.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName || isMirror(pod) {
		return
	}
	a.hand(ctx, pod, false)
}

// hand gives a pod to its worker, starting one for a pod seen the first time.
func (a *Agent) hand(ctx context.Context, pod *corev1.Pod, static bool) {
	a.mu.Lock()
	w, ok := a.workers[pod.UID]
	if !ok {
		w = newWorker(a, pod)
		w.static = static
		a.workers[pod.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run(ctx)
		}()
	}
	a.mu.Unlock()
	if ok {
		w.update(pod)
	}
}

// podDeleted tells a pod's worker that the API no longer has the pod: its containers stop.
func (a *Agent) podDeleted(_ context.Context, o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok || isMirror(pod) {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.gone()
	}
}

// wake pokes the worker of a pod (a container exited, a probe changed its mind).
func (a *Agent) wake(uid types.UID) {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w != nil {
		w.poke()
	}
}

// OnContainerExit is what a runtime calls when a container of the pod exits by itself.
func (a *Agent) OnContainerExit(uid types.UID) { a.wake(uid) }

func (a *Agent) forget(uid types.UID) {
	a.mu.Lock()
	delete(a.workers, uid)
	a.mu.Unlock()
}

// adoptOrphans stops and removes what the runtimes hold for pods the API no longer binds to
// this node; containers of pods that still exist are left for their workers to adopt.
func (a *Agent) adoptOrphans(ctx context.Context) error {
	known := map[types.UID]bool{}
	for _, o := range a.pods.List() {
		known[o.(*corev1.Pod).UID] = true
	}
	var errs []error
	for _, rt := range a.cfg.Runtimes {
		cs, err := rt.Containers(ctx, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cs {
			if known[c.PodUID] || a.isStatic(c.PodUID) {
				continue
			}
			a.log.Info("removing a container of a pod that is gone", "pod", c.PodNamespace+"/"+c.PodName, "container", c.Name)
			if err := rt.StopContainer(ctx, c.ID, 2*time.Second); err != nil {
				errs = append(errs, err)
			}
			if err := rt.RemoveContainer(ctx, c.ID); err != nil {
				errs = append(errs, err)
			}
		}
		sbs, err := rt.Sandboxes(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, sb := range sbs {
			if !known[sb.PodUID] && !a.isStatic(sb.PodUID) {
				if err := rt.RemoveSandbox(ctx, sb.PodUID); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) isStatic(uid types.UID) bool {
	return a.staticSources != nil && a.staticSources.has(uid)
}

// runtimeFor picks the runtime for a pod: its RuntimeClass's handler, else a runtime that
// holds the image as one of its own kind (a wasm image runs on the wasm runtime), else the
// default.
func (a *Agent) runtimeFor(ctx context.Context, pod *corev1.Pod) (container.Runtime, error) {
	if name := pod.Spec.RuntimeClassName; name != nil && *name != "" {
		rc, err := a.runtimeClass(*name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("RuntimeClass %q not found", *name)
			}
			return nil, err
		}
		rt, ok := a.runtimes[rc.Handler]
		if !ok {
			return nil, fmt.Errorf("RuntimeClass %q has handler %q, which this node does not run", *name, rc.Handler)
		}
		return rt, nil
	}
	if len(a.cfg.Runtimes) > 1 && len(pod.Spec.Containers) > 0 {
		for _, rt := range a.cfg.Runtimes[1:] {
			if _, err := rt.EnsureImage(ctx, pod.Spec.Containers[0].Image, corev1.PullNever); err == nil {
				return rt, nil
			}
		}
	}
	return a.defaultRT, nil
}
