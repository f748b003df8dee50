package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/logs"
)

// Handler is the RuntimeClass handler of this runtime.
const Handler = "wasm"

// AnnotationMode on a pod overrides how its wasm containers run: "command" or "cgi".
const AnnotationMode = "wasm.tug.dev/mode"

// DefaultAddresses is the loopback range pods get their addresses from.
var DefaultAddresses = netip.MustParsePrefix("127.100.0.0/16")

// Image is a wasm image in a node's local image store.
type Image struct {
	container.Image
	// RootFS is the directory holding the image's unpacked files.
	RootFS string
	// Wasm says the image's platform is wasip1/wasm.
	Wasm bool
}

// Images is where the runtime finds images: the node's local image store.
type Images interface {
	Resolve(ctx context.Context, name string) (Image, error)
	List(ctx context.Context) ([]Image, error)
}

// ErrNoImage is what Images.Resolve returns (wrapped) for an image it does not have.
var ErrNoImage = errors.New("no such image")

// Config configures the runtime.
type Config struct {
	Images Images
	// Addresses is the range pod addresses are taken from (DefaultAddresses when invalid).
	Addresses netip.Prefix
	// HostIP is the address hostNetwork pods serve on.
	HostIP netip.Addr
	// OnExit is called (from any goroutine) when a container of the pod exits by itself.
	OnExit func(podUID types.UID)
	// MaxConcurrentRequests bounds the module instances a CGI container runs at once
	// (default 64); further requests wait.
	MaxConcurrentRequests int
	// CacheDir, when set, keeps compiled modules on disk, so an agent that restarts does not
	// compile them again.
	CacheDir string
	Logger   *slog.Logger
}

// Runtime runs wasm containers in this process. Create it with New; Close stops every
// container.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	cache wazero.CompilationCache

	mu         sync.Mutex
	engines    map[uint32]*engine // by memory limit in pages
	sandboxes  map[types.UID]*container.Sandbox
	containers map[string]*wasmContainer
	usedIPs    map[netip.Addr]types.UID
	lastIP     netip.Addr
	nextID     int
}

// engine is one wazero runtime; containers with the same memory limit share it, because the
// limit is a runtime-wide setting in wazero.
type engine struct {
	rt      wazero.Runtime
	modules map[string]*compiling // by module file path and modification time
}

// compiling is one module's compilation, shared by every container that starts while it runs:
// compiling a large module (a Go one) takes seconds, and doing it once per replica would
// multiply that.
type compiling struct {
	done chan struct{}
	mod  wazero.CompiledModule
	err  error
}

// New makes a runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Images == nil {
		return nil, errors.New("wasm runtime: an image store is required")
	}
	if !cfg.Addresses.IsValid() {
		cfg.Addresses = DefaultAddresses
	}
	if !cfg.HostIP.IsValid() {
		cfg.HostIP = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.MaxConcurrentRequests <= 0 {
		cfg.MaxConcurrentRequests = 64
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	cache := wazero.NewCompilationCache()
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm runtime: compilation cache: %w", err)
		}
		cache = c
	}
	return &Runtime{
		cfg: cfg, log: log.With("runtime", Handler), cache: cache,
		engines: map[uint32]*engine{}, sandboxes: map[types.UID]*container.Sandbox{},
		containers: map[string]*wasmContainer{}, usedIPs: map[netip.Addr]types.UID{},
	}, nil
}

// Handler implements container.Runtime.
func (r *Runtime) Handler() string { return Handler }

// EnsureImage implements container.Runtime. Wasm images come only from the local store:
// there is no registry client for them yet.
func (r *Runtime) EnsureImage(ctx context.Context, name string, policy corev1.PullPolicy) (container.Image, error) {
	img, err := r.cfg.Images.Resolve(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNoImage) {
			if policy == corev1.PullNever {
				return container.Image{}, fmt.Errorf("%w: %s is not in the node's image store", container.ErrImageNotPresent, name)
			}
			return container.Image{}, fmt.Errorf("%w: %s is not in the node's image store and wasm images are not pulled from registries; load it with tug image import", container.ErrImagePull, name)
		}
		return container.Image{}, err
	}
	if !img.Wasm {
		return container.Image{}, fmt.Errorf("%w: image %s is not a wasm image (platform wasip1/wasm)", container.ErrConfig, name)
	}
	return img.Image, nil
}

// Images implements container.Runtime.
func (r *Runtime) Images(ctx context.Context) ([]container.Image, error) {
	list, err := r.cfg.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []container.Image
	for _, img := range list {
		if img.Wasm {
			out = append(out, img.Image)
		}
	}
	return out, nil
}

// RunSandbox implements container.Runtime: a wasm pod's sandbox is only its address.
func (r *Runtime) RunSandbox(_ context.Context, cfg container.SandboxConfig) (container.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb, ok := r.sandboxes[cfg.PodUID]; ok {
		return *sb, nil
	}
	var ip netip.Addr
	if cfg.HostNetwork {
		ip = r.cfg.HostIP
	} else {
		var err error
		if ip, err = r.allocate(cfg.PodUID, cfg.IP); err != nil {
			return container.Sandbox{}, err
		}
	}
	sb := &container.Sandbox{PodUID: cfg.PodUID, PodName: cfg.PodName, PodNamespace: cfg.PodNamespace,
		ID: "wasm-" + string(cfg.PodUID), IP: ip, Ready: true, Runtime: Handler}
	r.sandboxes[cfg.PodUID] = sb
	return *sb, nil
}

// allocate takes a free address, the pod's old one when it is free and in range.
func (r *Runtime) allocate(uid types.UID, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() && r.cfg.Addresses.Contains(want) {
		if owner, used := r.usedIPs[want]; !used || owner == uid {
			r.usedIPs[want] = uid
			return want, nil
		}
	}
	// Round robin from the last address handed out, as CNI's host-local IPAM does, so that a
	// deleted pod's address is not at once another pod's (clients still holding it would
	// reach the wrong pod). The network's own address is skipped.
	first := r.cfg.Addresses.Masked().Addr().Next()
	a := r.lastIP.Next()
	if !r.lastIP.IsValid() || !r.cfg.Addresses.Contains(a) {
		a = first
	}
	for start := a; ; {
		if _, used := r.usedIPs[a]; !used {
			r.usedIPs[a], r.lastIP = uid, a
			return a, nil
		}
		if a = a.Next(); !r.cfg.Addresses.Contains(a) {
			a = first
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("no free pod address in %s", r.cfg.Addresses)
		}
	}
}

// RemoveSandbox implements container.Runtime.
func (r *Runtime) RemoveSandbox(_ context.Context, uid types.UID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb, ok := r.sandboxes[uid]; ok {
		if owner := r.usedIPs[sb.IP]; owner == uid {
			delete(r.usedIPs, sb.IP)
		}
		delete(r.sandboxes, uid)
	}
	return nil
}

// Sandboxes implements container.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]container.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]container.Sandbox, 0, len(r.sandboxes))
	for _, sb := range r.sandboxes {
		out = append(out, *sb)
	}
	return out, nil
}

// Containers implements container.Runtime.
func (r *Runtime) Containers(_ context.Context, pod types.UID) ([]container.Container, error) {
	r.mu.Lock()
	list := make([]*wasmContainer, 0, len(r.containers))
	for _, c := range r.containers {
		if pod == "" || c.info.PodUID == pod {
			list = append(list, c)
		}
	}
	r.mu.Unlock()
	out := make([]container.Container, 0, len(list))
	for _, c := range list {
		out = append(out, c.snapshot())
	}
	return out, nil
}

// wasmContainer is one running or finished module.
type wasmContainer struct {
	info   container.Container // identity; state fields guarded by mu
	cancel context.CancelFunc
	stop   chan struct{} // closed to wake a sleeping module and end it
	done   chan struct{} // closed when it has exited
	server *http.Server
	lns    []net.Listener
	logf   *logs.File

	mu      sync.Mutex
	stopped bool
}

func (c *wasmContainer) snapshot() container.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

func (c *wasmContainer) exited(code int, reason, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info.State == container.StateExited {
		return
	}
	c.info.State, c.info.ExitCode, c.info.FinishedAt = container.StateExited, code, time.Now()
	c.info.Reason, c.info.Message = reason, msg
}

// StartContainer implements container.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, sb container.Sandbox, cfg container.ContainerConfig) (string, error) {
	argv := container.ResolveCommand(cfg.Image, cfg.Command, cfg.Args)
	if len(argv) == 0 {
		return "", fmt.Errorf("%w: no command: the image has no entrypoint and the container no command", container.ErrConfig)
	}
	img, err := r.cfg.Images.Resolve(ctx, cfg.ImageName)
	if err != nil {
		return "", fmt.Errorf("%w: %w", container.ErrImagePull, err)
	}
	modPath, err := securePath(img.RootFS, argv[0])
	if err != nil {
		return "", fmt.Errorf("%w: command %q: %w", container.ErrConfig, argv[0], err)
	}
	limit, err := memoryPages(cfg.Resources)
	if err != nil {
		return "", fmt.Errorf("%w: %w", container.ErrConfig, err)
	}
	eng, err := r.engine(ctx, limit)
	if err != nil {
		return "", err
	}
	compiled, err := r.compile(ctx, eng, modPath)
	if err != nil {
		return "", fmt.Errorf("%w: module %s: %w", container.ErrConfig, argv[0], err)
	}
	logf, err := logs.Open(cfg.LogPath)
	if err != nil {
		return "", fmt.Errorf("open log %s: %w", cfg.LogPath, err)
	}

	r.mu.Lock()
	r.nextID++
	id := fmt.Sprintf("%s-%s-%d-%d", sb.PodUID, cfg.Name, cfg.Attempt, r.nextID)
	r.mu.Unlock()
	c := &wasmContainer{
		info: container.Container{
			ID: id, Runtime: Handler, PodUID: sb.PodUID, PodName: sb.PodName, PodNamespace: sb.PodNamespace,
			Name: cfg.Name, Attempt: cfg.Attempt, ImageName: cfg.ImageName, ImageRef: cfg.Image.Ref,
			SpecHash: cfg.SpecHash, LogPath: cfg.LogPath, State: container.StateRunning,
			CreatedAt: time.Now(), StartedAt: time.Now(),
		},
		stop: make(chan struct{}), done: make(chan struct{}), logf: logf,
	}
	base := r.moduleConfig(img, cfg, argv, c)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel

	ports := tcpPorts(cfg.Ports)
	cgi := len(ports) > 0
	switch cfg.Annotations[AnnotationMode] {
	case "command":
		cgi = false
	case "cgi":
		if len(ports) == 0 {
			cancel()
			logf.Close()
			return "", fmt.Errorf("%w: %s=cgi needs a TCP containerPort to serve", container.ErrConfig, AnnotationMode)
		}
		cgi = true
	}
	if cgi {
		if err := r.serve(c, sb, ports, eng.rt, compiled, base); err != nil {
			cancel()
			logf.Close()
			return "", fmt.Errorf("%w: %w", container.ErrConfig, err)
		}
	} else {
		go r.run(runCtx, c, eng.rt, compiled, base)
	}
	r.mu.Lock()
	r.containers[id] = c
	r.mu.Unlock()
	r.log.Debug("container started", "pod", sb.PodNamespace+"/"+sb.PodName, "container", cfg.Name, "attempt", cfg.Attempt, "cgi", cgi)
	return id, nil
}

// moduleConfig is the configuration every instance of the container starts from: the
// command line, environment, files, clocks and randomness, and a sleep that a stop ends.
func (r *Runtime) moduleConfig(img Image, cfg container.ContainerConfig, argv []string, c *wasmContainer) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().WithName("").
		WithArgs(argv...).
		WithStdin(strings.NewReader("")).
		WithStdout(c.logf.Stream("stdout")).
		WithStderr(c.logf.Stream("stderr")).
		WithSysWalltime().WithSysNanotime().
		WithNanosleep(func(ns int64) {
			t := time.NewTimer(time.Duration(ns))
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.stop:
			}
		}).
		WithRandSource(rand.Reader).
		WithStartFunctions("_start")
	env := append(append([]container.EnvVar{}, splitEnv(img.Env)...), cfg.Env...)
	wd := cfg.WorkingDir
	if wd == "" {
		wd = img.WorkingDir
	}
	if wd != "" {
		// WASI has no working directory; Go's and wasi-libc's runtimes take it from PWD.
		env = append(env, container.EnvVar{Name: "PWD", Value: wd})
	}
	for _, e := range env {
		mc = mc.WithEnv(e.Name, e.Value)
	}
	fsc := wazero.NewFSConfig().WithReadOnlyDirMount(img.RootFS, "/")
	for _, m := range cfg.Mounts {
		if m.ReadOnly {
			fsc = fsc.WithReadOnlyDirMount(m.HostPath, m.ContainerPath)
		} else {
			fsc = fsc.WithDirMount(m.HostPath, m.ContainerPath)
		}
	}
	return mc.WithFSConfig(fsc)
}

// run runs a command container's module to its end.
func (r *Runtime) run(ctx context.Context, c *wasmContainer, rt wazero.Runtime, compiled wazero.CompiledModule, mc wazero.ModuleConfig) {
	defer close(c.done)
	defer c.logf.Close()
	code, reason, msg := 0, "Completed", ""
	mod, err := rt.InstantiateModule(ctx, compiled, mc)
	if mod != nil {
		mod.Close(context.Background())
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		code, reason = 137, "Error"
	case errors.As(err, &exit):
		code = int(exit.ExitCode())
		if code != 0 {
			reason = "Error"
		}
	default:
		// A trap (unreachable, out of bounds, out of memory) ends the module like a crash.
		code, reason, msg = 139, "Error", err.Error()
		if strings.Contains(err.Error(), "memory") {
			reason = "OOMKilled"
		}
		fmt.Fprintf(c.logf.Stream("stderr"), "wasm: %v\n", err)
	}
	c.exited(code, reason, msg)
	if !c.wasStopped() && r.cfg.OnExit != nil {
		r.cfg.OnExit(c.info.PodUID)
	}
}

func (c *wasmContainer) wasStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// StopContainer implements container.Runtime. A command module ends at once (WASI preview 1
// has no signal to ask it first); a CGI server stops accepting and gives requests in flight
// the grace period.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	c, ok := r.containers[id]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	c.mu.Lock()
	already := c.stopped
	c.stopped = true
	c.mu.Unlock()
	if !already {
		if c.server != nil {
			sctx, cancel := context.WithTimeout(ctx, grace)
			_ = c.server.Shutdown(sctx)
			cancel()
		}
		close(c.stop)
		c.cancel()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// RemoveContainer implements container.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	if err := r.StopContainer(ctx, id, 0); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.containers, id)
	r.mu.Unlock()
	return nil
}

// Close stops every container and releases the engines.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	ids := make([]string, 0, len(r.containers))
	for id := range r.containers {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		_ = r.StopContainer(ctx, id, 0)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.engines {
		_ = e.rt.Close(ctx)
	}
	r.engines = map[uint32]*engine{}
	return r.cache.Close(ctx)
}

func (r *Runtime) engine(ctx context.Context, pages uint32) (*engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.engines[pages]; ok {
		return e, nil
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(r.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(true))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	e := &engine{rt: rt, modules: map[string]*compiling{}}
	r.engines[pages] = e
	return e, nil
}

// compile compiles a module file once per engine; the compilation cache shares the machine
// code between engines (and, with CacheDir, across restarts).
func (r *Runtime) compile(ctx context.Context, e *engine, file string) (wazero.CompiledModule, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	key := file + "@" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
	r.mu.Lock()
	c, ok := e.modules[key]
	if !ok {
		c = &compiling{done: make(chan struct{})}
		e.modules[key] = c
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.mod, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(c.done)
	b, err := os.ReadFile(file)
	if err == nil {
		c.mod, err = e.rt.CompileModule(context.WithoutCancel(ctx), b)
	}
	if err != nil {
		// A failure is not kept: the next start tries again (the file may be fixed).
		c.err = err
		r.mu.Lock()
		delete(e.modules, key)
		r.mu.Unlock()
	}
	return c.mod, c.err
}

// memoryPages turns a memory limit into wasm pages of 64 KiB; no limit is wasm32's 4 GiB.
func memoryPages(res corev1.ResourceRequirements) (uint32, error) {
	q, ok := res.Limits[corev1.ResourceMemory]
	if !ok || q.IsZero() {
		return 65536, nil
	}
	pages := q.Value() / 65536
	if pages < 1 {
		return 0, fmt.Errorf("memory limit %s is less than one wasm page (64Ki)", q.String())
	}
	return uint32(min(pages, 65536)), nil
}

// securePath resolves a path inside the image's root directory without leaving it.
func securePath(root, p string) (string, error) {
	clean := path.Clean("/" + p)
	full := filepath.Join(root, filepath.FromSlash(clean))
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", err
	}
	rootResolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	if resolved != rootResolved && !strings.HasPrefix(resolved, rootResolved+string(filepath.Separator)) {
		return "", errors.New("resolves outside the image")
	}
	return resolved, nil
}

func splitEnv(env []string) []container.EnvVar {
	out := make([]container.EnvVar, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, container.EnvVar{Name: k, Value: v})
	}
	return out
}

func tcpPorts(ports []corev1.ContainerPort) []int32 {
	var out []int32
	for _, p := range ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			out = append(out, p.ContainerPort)
		}
	}
	return out
}

var _ container.Runtime = (*Runtime)(nil)
