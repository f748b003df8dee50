package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/typeurl/v2"
	"github.com/moby/sys/signal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/logs"
	"github.com/tugboat-io/tug/core/kubelet/podnet"
)

// Handler is the RuntimeClass handler of this runtime.
const Handler = "runc"

// DefaultAddress is containerd's socket.
const DefaultAddress = "/run/containerd/containerd.sock"

// DefaultNamespace is the containerd namespace tug's images and containers live in.
const DefaultNamespace = "tug"

// Labels the runtime adds beside container's.
const (
	labelNode       = "tug.dev/node"
	labelStartedAt  = "tug.dev/started-at"
	labelFinishedAt = "tug.dev/finished-at"
	labelExitCode   = "tug.dev/exit-code"
	labelReason     = "tug.dev/exit-reason"
)

// Config configures the runtime.
type Config struct {
	// Address is containerd's socket (DefaultAddress when empty); Namespace its namespace.
	Address, Namespace string
	// Node is the node's name; containers carry it, so nodes sharing a containerd keep
	// apart.
	Node string
	// Network attaches pods; StateDir keeps sandbox records.
	Network  *podnet.Network
	StateDir string
	// HostIP is the node's address, a hostNetwork pod's IP.
	HostIP netip.Addr
	// LoggerBinary is the program the shim starts as each container's log driver, with the
	// arguments "log-driver PATH": tug itself or the small tug-log-driver. Empty: the shim
	// writes the raw output itself (no timestamps).
	LoggerBinary string
	// OnExit is called when a container of the pod exits by itself.
	OnExit func(types.UID)
	Logger *slog.Logger
}

// Runtime runs Linux containers through containerd.
type Runtime struct {
	cfg     Config
	client  *containerd.Client
	log     *slog.Logger
	version string

	mu       sync.Mutex
	stopping map[string]bool // containers being stopped by the agent, whose exit is expected
	cancel   context.CancelFunc
	watching chan struct{} // closed when watchExits has returned
}

// New connects to containerd and starts following container exits until ctx ends.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Address == "" {
		cfg.Address = DefaultAddress
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Node == "" || cfg.StateDir == "" || cfg.Network == nil {
		return nil, errors.New("containerd runtime: a node name, a state directory and a network are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	client, err := containerd.New(cfg.Address, containerd.WithDefaultNamespace(cfg.Namespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Address, err)
	}
	v, err := client.Version(ctx)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("containerd at %s: %w", cfg.Address, err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "sandboxes"), 0o700); err != nil {
		client.Close()
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	r := &Runtime{cfg: cfg, client: client, log: log.With("runtime", Handler), version: "containerd://" + v.Version,
		stopping: map[string]bool{}, cancel: cancel, watching: make(chan struct{})}
	go func() {
		defer close(r.watching)
		r.watchExits(wctx)
	}()
	return r, nil
}

// Available says whether a containerd answers at address.
func Available(ctx context.Context, address string) bool {
	if address == "" {
		address = DefaultAddress
	}
	if _, err := os.Stat(address); err != nil {
		return false
	}
	c, err := containerd.New(address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Version(ctx)
	return err == nil
}

// Close stops following events and disconnects from containerd; containers keep running.
func (r *Runtime) Close() error {
	r.cancel()
	<-r.watching
	return r.client.Close()
}

// Version is the runtime version the Node reports.
func (r *Runtime) Version() string { return r.version }

// Handler implements container.Runtime.
func (r *Runtime) Handler() string { return Handler }

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// EnsureImage implements container.Runtime.
func (r *Runtime) EnsureImage(ctx context.Context, name string, policy corev1.PullPolicy) (container.Image, error) {
	ctx = r.ctx(ctx)
	ref, err := normalize(name)
	if err != nil {
		return container.Image{}, fmt.Errorf("%w: %w", container.ErrConfig, err)
	}
	img, err := r.client.GetImage(ctx, ref)
	switch {
	case err == nil && policy != corev1.PullAlways:
	case err != nil && !errdefs.IsNotFound(err):
		return container.Image{}, err
	case policy == corev1.PullNever:
		return container.Image{}, fmt.Errorf("%w: %s is not on the node", container.ErrImageNotPresent, name)
	default:
		pulled, perr := r.client.Pull(ctx, ref, containerd.WithPullUnpack)
		if perr != nil {
			if err == nil {
				break // PullAlways with no registry: the local copy serves
			}
			return container.Image{}, fmt.Errorf("%w: %s: %w", container.ErrImagePull, name, perr)
		}
		img = pulled
	}
	if ok, _ := img.IsUnpacked(ctx, containerd.DefaultSnapshotter); !ok {
		if err := img.Unpack(ctx, containerd.DefaultSnapshotter); err != nil {
			return container.Image{}, fmt.Errorf("unpack %s: %w", name, err)
		}
	}
	return describe(ctx, img)
}

func describe(ctx context.Context, img containerd.Image) (container.Image, error) {
	spec, err := img.Spec(ctx)
	if err != nil {
		return container.Image{}, fmt.Errorf("image %s: %w", img.Name(), err)
	}
	cfg, err := img.Config(ctx)
	if err != nil {
		return container.Image{}, err
	}
	size, _ := img.Size(ctx)
	return container.Image{
		Ref: cfg.Digest.String(), Names: []string{img.Name()}, Size: size,
		Entrypoint: spec.Config.Entrypoint, Cmd: spec.Config.Cmd, Env: spec.Config.Env, WorkingDir: spec.Config.WorkingDir,
	}, nil
}

// Images implements container.Runtime.
func (r *Runtime) Images(ctx context.Context) ([]container.Image, error) {
	ctx = r.ctx(ctx)
	list, err := r.client.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]container.Image, 0, len(list))
	for _, img := range list {
		if d, err := describe(ctx, img); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Import loads an image archive (OCI layout or docker save) into the containerd at address
// and unpacks it, as `ctr images import` does; it needs no running agent.
func Import(ctx context.Context, address, namespace string, rd io.Reader) ([]string, error) {
	client, err := containerd.New(address, containerd.WithDefaultNamespace(namespace))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ctx = namespaces.WithNamespace(ctx, namespace)
	imgs, err := client.Import(ctx, rd, containerd.WithAllPlatforms(false))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, i := range imgs {
		img := containerd.NewImage(client, i)
		if err := img.Unpack(ctx, containerd.DefaultSnapshotter); err != nil {
			return names, fmt.Errorf("unpack %s: %w", i.Name, err)
		}
		names = append(names, i.Name)
	}
	return names, nil
}

// sandboxRecord is what the runtime keeps of a pod's sandbox between restarts.
type sandboxRecord struct {
	PodUID       types.UID            `json:"podUID"`
	PodName      string               `json:"podName"`
	PodNamespace string               `json:"podNamespace"`
	Hostname     string               `json:"hostname"`
	HostNetwork  bool                 `json:"hostNetwork"`
	NetNS        string               `json:"netns,omitempty"`
	IP           string               `json:"ip"`
	Ports        []podnet.PortMapping `json:"ports,omitempty"`
}

func (r *Runtime) sandboxDir(uid types.UID) string {
	return filepath.Join(r.cfg.StateDir, "sandboxes", string(uid))
}

func (r *Runtime) readSandbox(uid types.UID) (*sandboxRecord, error) {
	b, err := os.ReadFile(filepath.Join(r.sandboxDir(uid), "sandbox.json"))
	if err != nil {
		return nil, err
	}
	var rec sandboxRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func (r *Runtime) toSandbox(rec *sandboxRecord) container.Sandbox {
	ip, _ := netip.ParseAddr(rec.IP)
	ready := rec.HostNetwork || r.cfg.Network.Alive(podnet.Attachment{ID: string(rec.PodUID), NetNS: rec.NetNS})
	return container.Sandbox{PodUID: rec.PodUID, PodName: rec.PodName, PodNamespace: rec.PodNamespace,
		ID: string(rec.PodUID), IP: ip, Ready: ready, Runtime: Handler}
}

// RunSandbox implements container.Runtime.
func (r *Runtime) RunSandbox(ctx context.Context, cfg container.SandboxConfig) (container.Sandbox, error) {
	if rec, err := r.readSandbox(cfg.PodUID); err == nil {
		sb := r.toSandbox(rec)
		if sb.Ready {
			return sb, nil
		}
		// A sandbox whose namespace is gone (a reboot) is made again.
		_ = r.RemoveSandbox(ctx, cfg.PodUID)
	}
	rec := &sandboxRecord{PodUID: cfg.PodUID, PodName: cfg.PodName, PodNamespace: cfg.PodNamespace,
		Hostname: cfg.Hostname, HostNetwork: cfg.HostNetwork}
	for _, p := range cfg.PortMappings {
		rec.Ports = append(rec.Ports, podnet.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol), HostIP: p.HostIP})
	}
	if cfg.HostNetwork {
		rec.IP = r.cfg.HostIP.String()
	} else {
		att, err := r.cfg.Network.Add(ctx, string(cfg.PodUID), rec.Ports)
		if err != nil {
			return container.Sandbox{}, err
		}
		rec.NetNS, rec.IP = att.NetNS, att.IP.String()
		r.log.Debug("pod network attached", "pod", cfg.PodNamespace+"/"+cfg.PodName, "ip", rec.IP, "netns", rec.NetNS)
	}
	dir := r.sandboxDir(cfg.PodUID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return container.Sandbox{}, err
	}
	b, _ := json.Marshal(rec)
	tmp := filepath.Join(dir, "sandbox.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return container.Sandbox{}, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "sandbox.json")); err != nil {
		return container.Sandbox{}, err
	}
	return r.toSandbox(rec), nil
}

// RemoveSandbox implements container.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, uid types.UID) error {
	rec, err := r.readSandbox(uid)
	if errors.Is(err, os.ErrNotExist) {
		// No record, but maybe a namespace an agent made before it died.
		return r.cfg.Network.Del(ctx, podnet.Attachment{ID: string(uid), NetNS: r.cfg.Network.NetNSPath(string(uid))}, nil)
	}
	if err == nil && !rec.HostNetwork {
		if err := r.cfg.Network.Del(ctx, podnet.Attachment{ID: string(uid), NetNS: rec.NetNS}, rec.Ports); err != nil {
			return fmt.Errorf("detach pod network: %w", err)
		}
		r.log.Debug("pod network detached", "pod", rec.PodNamespace+"/"+rec.PodName, "ip", rec.IP, "netns", rec.NetNS)
	}
	return os.RemoveAll(r.sandboxDir(uid))
}

// Sandboxes implements container.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]container.Sandbox, error) {
	entries, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "sandboxes"))
	if err != nil {
		return nil, err
	}
	var out []container.Sandbox
	seen := map[string]bool{}
	for _, e := range entries {
		if rec, err := r.readSandbox(types.UID(e.Name())); err == nil {
			out = append(out, r.toSandbox(rec))
			seen[e.Name()] = true
		}
	}
	// A namespace without a record belongs to a sandbox whose making was cut short; it is
	// listed as not ready so that it is made again or removed.
	for _, id := range r.cfg.Network.Attached() {
		if !seen[id] {
			out = append(out, container.Sandbox{PodUID: types.UID(id), ID: id, Runtime: Handler})
		}
	}
	return out, nil
}

// containerID names a container in containerd: short, unique per pod, name and attempt.
func containerID(uid types.UID, name string, attempt int) string {
	h := sha256.Sum256([]byte(string(uid) + "/" + name + "/" + strconv.Itoa(attempt)))
	return "tug-" + hex.EncodeToString(h[:12])
}

// StartContainer implements container.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, sb container.Sandbox, cfg container.ContainerConfig) (string, error) {
	ctx = r.ctx(ctx)
	ref, err := normalize(cfg.ImageName)
	if err != nil {
		return "", fmt.Errorf("%w: %w", container.ErrConfig, err)
	}
	img, err := r.client.GetImage(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%w: %w", container.ErrImagePull, err)
	}
	rec, err := r.readSandbox(sb.PodUID)
	if err != nil {
		return "", fmt.Errorf("pod sandbox: %w", err)
	}
	argv := container.ResolveCommand(cfg.Image, cfg.Command, cfg.Args)
	if len(argv) == 0 {
		return "", fmt.Errorf("%w: no command: the image has no entrypoint and the container no command", container.ErrConfig)
	}
	nodeHostname, _ := os.Hostname()
	opts := append([]oci.SpecOpts{oci.WithImageConfig(img)}, specOpts(rec, cfg, argv, nodeHostname)...)

	labels := map[string]string{
		labelNode: r.cfg.Node, container.LabelPodUID: string(sb.PodUID), container.LabelPodName: sb.PodName,
		container.LabelPodNamespace: sb.PodNamespace, container.LabelContainerName: cfg.Name,
		container.LabelAttempt: strconv.Itoa(cfg.Attempt), container.LabelSpecHash: cfg.SpecHash,
		container.LabelLogPath: cfg.LogPath, container.LabelImageName: cfg.ImageName,
	}
	id := containerID(sb.PodUID, cfg.Name, cfg.Attempt)
	if old, err := r.client.LoadContainer(ctx, id); err == nil {
		// Left by an agent that died while starting this very attempt.
		r.deleteContainer(ctx, old)
	}
	c, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(opts...),
		containerd.WithContainerLabels(labels),
		containerd.WithRuntime("io.containerd.runc.v2", nil))
	if err != nil {
		return "", fmt.Errorf("%w: create container: %w", container.ErrConfig, err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		r.deleteContainer(ctx, c)
		return "", err
	}
	creator := cio.LogFile(cfg.LogPath)
	if r.cfg.LoggerBinary != "" {
		u, err := logs.BinaryURI(r.cfg.LoggerBinary, "log-driver", cfg.LogPath)
		if err != nil {
			r.deleteContainer(ctx, c)
			return "", err
		}
		creator = cio.LogURI(u)
	}
	task, err := c.NewTask(ctx, creator)
	if err != nil {
		r.deleteContainer(ctx, c)
		return "", fmt.Errorf("create task: %w", err)
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		r.deleteContainer(ctx, c)
		return "", fmt.Errorf("start: %w", err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		r.log.Warn("start time not recorded", "container", id, "err", err)
	}
	return id, nil
}

// Files the runtime mounts into every container when the agent gives none: the node's.
const (
	nodeResolvConf = "/etc/resolv.conf"
	nodeHosts      = "/etc/hosts"
)

// specOpts are a container's OCI settings beyond its image's: command, environment
// (HOSTNAME first), namespaces, hostname, mounts and resources. A pod with its own network
// joins the sandbox's network namespace and has its own UTS namespace named after the pod; a
// hostNetwork pod shares the node's network and UTS namespaces, as with kubelet.
func specOpts(rec *sandboxRecord, cfg container.ContainerConfig, argv []string, nodeHostname string) []oci.SpecOpts {
	hostname := rec.Hostname
	if rec.HostNetwork {
		hostname = nodeHostname
	}
	env := make([]string, 0, len(cfg.Env)+1)
	env = append(env, "HOSTNAME="+hostname)
	for _, e := range cfg.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	opts := []oci.SpecOpts{oci.WithProcessArgs(argv...), oci.WithEnv(env)}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if rec.HostNetwork {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: rec.NetNS}),
			oci.WithHostname(rec.Hostname))
	}
	opts = append(opts, oci.WithMounts(containerMounts(cfg)))
	return append(opts, resourceOpts(cfg.Resources)...)
}

// containerMounts are a container's bind mounts: its /etc/resolv.conf and /etc/hosts (the
// agent's files, else the node's), read-only, unless the container mounts something at
// that path itself, and then its volumes, which come after so that a volume over /etc hides
// the files.
func containerMounts(cfg container.ContainerConfig) []specs.Mount {
	var mounts []specs.Mount
	for _, f := range []struct{ dest, src, fallback string }{
		{"/etc/resolv.conf", cfg.ResolvConf, nodeResolvConf},
		{"/etc/hosts", cfg.Hosts, nodeHosts},
	} {
		if mountsAt(cfg.Mounts, f.dest) {
			continue
		}
		src := f.src
		if src == "" {
			src = f.fallback
		}
		mounts = append(mounts, specs.Mount{Destination: f.dest, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
	for _, m := range cfg.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: []string{"rbind", mode}})
	}
	return mounts
}

func mountsAt(mounts []container.Mount, path string) bool {
	for _, m := range mounts {
		if filepath.Clean("/"+m.ContainerPath) == path {
			return true
		}
	}
	return false
}

// MountsNameFiles implements container.NameFiles: containers get the agent's
// /etc/resolv.conf and /etc/hosts.
func (r *Runtime) MountsNameFiles() bool { return true }

// resourceOpts turns requests and limits into cgroup settings, as kubelet does: the memory
// limit, a CFS quota for the cpu limit, and cpu shares from the cpu request.
func resourceOpts(res corev1.ResourceRequirements) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if q, ok := res.Limits[corev1.ResourceMemory]; ok && !q.IsZero() {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	const period = 100000
	if q, ok := res.Limits[corev1.ResourceCPU]; ok && !q.IsZero() {
		opts = append(opts, oci.WithCPUCFS(max(q.MilliValue()*period/1000, 1000), period))
	}
	shares := uint64(2)
	if q, ok := res.Requests[corev1.ResourceCPU]; ok && !q.IsZero() {
		shares = uint64(max(q.MilliValue()*1024/1000, 2))
	} else if q, ok := res.Limits[corev1.ResourceCPU]; ok && !q.IsZero() {
		shares = uint64(max(q.MilliValue()*1024/1000, 2))
	}
	return append(opts, oci.WithCPUShares(min(shares, math.MaxUint32)))
}

// StopContainer implements container.Runtime: the image's stop signal (SIGTERM), then SIGKILL
// once grace has passed.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.stopping[id] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.stopping, id)
		r.mu.Unlock()
	}()
	exited, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	sig := syscall.SIGTERM
	if img, err := c.Image(ctx); err == nil {
		if spec, err := img.Spec(ctx); err == nil && spec.Config.StopSignal != "" {
			if s, err := signal.ParseSignal(spec.Config.StopSignal); err == nil {
				sig = s
			}
		}
	}
	if err := task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("container %s did not die after SIGKILL", id)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	r.recordExit(ctx, c, "")
	return nil
}

// recordExit keeps a stopped task's exit on the container and deletes the task, so the shim
// goes away. It is safe to call more than once.
func (r *Runtime) recordExit(ctx context.Context, c containerd.Container, reason string) {
	task, err := c.Task(ctx, nil)
	if err != nil {
		return
	}
	st, err := task.Status(ctx)
	if err != nil || st.Status != containerd.Stopped {
		return
	}
	labels := map[string]string{
		labelExitCode:   strconv.Itoa(int(st.ExitStatus)),
		labelFinishedAt: st.ExitTime.UTC().Format(time.RFC3339Nano),
	}
	if reason != "" {
		labels[labelReason] = reason
	}
	if _, err := c.SetLabels(ctx, labels); err != nil {
		r.log.Warn("exit not recorded", "container", c.ID(), "err", err)
		return
	}
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		r.log.Warn("task not deleted", "container", c.ID(), "err", err)
	}
}

// watchExits follows containerd's task events: an exit is recorded and the pod's worker
// woken; an OOM kill is remembered as the exit's reason.
func (r *Runtime) watchExits(ctx context.Context) {
	for ctx.Err() == nil {
		evs, errs := r.client.Subscribe(r.ctx(ctx), `topic=="/tasks/exit"`, `topic=="/tasks/oom"`)
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					r.log.Warn("containerd events interrupted; resubscribing", "err", err)
				}
				break loop
			case env := <-evs:
				if env == nil || env.Namespace != r.cfg.Namespace {
					continue
				}
				ev, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				switch e := ev.(type) {
				case *apievents.TaskExit:
					if e.ID == e.ContainerID {
						r.onExit(ctx, e.ContainerID, "")
					}
				case *apievents.TaskOOM:
					r.onExit(ctx, e.ContainerID, "OOMKilled")
				}
			}
		}
		sleep(ctx, time.Second)
	}
}

func (r *Runtime) onExit(ctx context.Context, id, reason string) {
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	labels, err := c.Labels(ctx)
	if err != nil || labels[labelNode] != r.cfg.Node {
		return
	}
	if reason != "" {
		_, _ = c.SetLabels(ctx, map[string]string{labelReason: reason})
		return // the exit event follows
	}
	r.mu.Lock()
	expected := r.stopping[id]
	r.mu.Unlock()
	if expected {
		return // StopContainer records it
	}
	r.recordExit(ctx, c, "")
	if r.cfg.OnExit != nil {
		r.cfg.OnExit(types.UID(labels[container.LabelPodUID]))
	}
}

// RemoveContainer implements container.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	r.deleteContainer(ctx, c)
	return nil
}

func (r *Runtime) deleteContainer(ctx context.Context, c containerd.Container) {
	if task, err := c.Task(ctx, nil); err == nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		r.log.Warn("container not deleted", "container", c.ID(), "err", err)
	}
}

// Containers implements container.Runtime.
func (r *Runtime) Containers(ctx context.Context, pod types.UID) ([]container.Container, error) {
	ctx = r.ctx(ctx)
	filter := fmt.Sprintf(`labels."%s"==%s`, labelNode, r.cfg.Node)
	if pod != "" {
		filter += fmt.Sprintf(`,labels."%s"==%s`, container.LabelPodUID, pod)
	}
	list, err := r.client.Containers(ctx, filter)
	if err != nil {
		return nil, err
	}
	out := make([]container.Container, 0, len(list))
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		l := info.Labels
		attempt, _ := strconv.Atoi(l[container.LabelAttempt])
		ct := container.Container{
			ID: c.ID(), Runtime: Handler, PodUID: types.UID(l[container.LabelPodUID]), PodName: l[container.LabelPodName],
			PodNamespace: l[container.LabelPodNamespace], Name: l[container.LabelContainerName], Attempt: attempt,
			ImageName: l[container.LabelImageName], SpecHash: l[container.LabelSpecHash], LogPath: l[container.LabelLogPath],
			CreatedAt: info.CreatedAt, State: container.StateCreated,
		}
		if img, err := c.Image(ctx); err == nil {
			if d, err := img.Config(ctx); err == nil {
				ct.ImageRef = d.Digest.String()
			}
		}
		ct.StartedAt, _ = time.Parse(time.RFC3339Nano, l[labelStartedAt])
		if code, ok := l[labelExitCode]; ok {
			ct.State = container.StateExited
			ct.ExitCode, _ = strconv.Atoi(code)
			ct.FinishedAt, _ = time.Parse(time.RFC3339Nano, l[labelFinishedAt])
			ct.Reason = l[labelReason]
		} else if task, err := c.Task(ctx, nil); err == nil {
			st, err := task.Status(ctx)
			switch {
			case err != nil:
				ct.State = container.StateUnknown
			case st.Status == containerd.Running || st.Status == containerd.Paused || st.Status == containerd.Pausing:
				ct.State = container.StateRunning
			case st.Status == containerd.Stopped:
				// An exit the agent missed (it was down): record it now.
				r.recordExit(ctx, c, "")
				ct.State, ct.ExitCode, ct.FinishedAt = container.StateExited, int(st.ExitStatus), st.ExitTime
			}
		} else if !ct.StartedAt.IsZero() {
			// Started once, but the task is gone without a recorded exit (containerd lost it,
			// e.g. a reboot): it exited in a way nobody saw.
			ct.State, ct.ExitCode, ct.Reason, ct.FinishedAt = container.StateExited, 255, "Unknown", ct.StartedAt
		}
		out = append(out, ct)
	}
	return out, nil
}

// Exec implements container.Execer.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, s container.Streams) (int, error) {
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return 0, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("container %s is not running: %w", id, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 0, err
	}
	p := *spec.Process
	p.Args, p.Terminal = cmd, false
	stdout, stderr := io.Writer(io.Discard), io.Writer(io.Discard)
	if s.Stdout != nil {
		stdout = s.Stdout
	}
	if s.Stderr != nil {
		stderr = s.Stderr
	}
	execID := "exec-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	proc, err := task.Exec(ctx, execID, &p, cio.NewCreator(cio.WithStreams(s.Stdin, stdout, stderr)))
	if err != nil {
		return 0, err
	}
	defer proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
	exited, err := proc.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := proc.Start(ctx); err != nil {
		return 0, err
	}
	select {
	case st := <-exited:
		code, _, err := st.Result()
		return int(code), err
	case <-ctx.Done():
		_ = proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return 0, ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var (
	_ container.Runtime   = (*Runtime)(nil)
	_ container.Execer    = (*Runtime)(nil)
	_ container.NameFiles = (*Runtime)(nil)
)
