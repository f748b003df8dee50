package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/cmd/tug/internal/logdriver"
	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/kubelet"
	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/containerd"
	"github.com/tugboat-io/tug/core/kubelet/imagestore"
	"github.com/tugboat-io/tug/core/kubelet/logs"
	"github.com/tugboat-io/tug/core/kubelet/podnet"
	"github.com/tugboat-io/tug/core/kubelet/wasm"
	"github.com/tugboat-io/tug/core/sim"
)

// addNodeFlags adds the node agent's flags (tug node, and tug up's in-process node).
func addNodeFlags(f *pflag.FlagSet) {
	host, _ := os.Hostname()
	f.String("node-name", strings.ToLower(host), "name of this node's Node object")
	f.String("node-ip", "", "the node's address (default: the address of the interface the default route uses)")
	f.String("node-labels", "", "labels to add to the Node when it registers (k=v,…)")
	f.String("register-with-taints", "", "taints the Node registers with (key=value:Effect,…)")
	f.String("kubelet-listen", ":10250", "HOST:PORT of the node agent's API (container logs for kubectl logs; HTTPS with authentication and authorization when the cluster is secure)")
	f.String("kubelet-healthz-listen", "127.0.0.1:10248", `HOST:PORT of the node agent's health check ("-": none)`)
	f.String("wasm-pod-cidr", wasm.DefaultAddresses.String(), "loopback range wasm pods get their addresses from")
	f.String("container-runtime", "auto", `runtime for pods that name no RuntimeClass: "containerd", "wasm", or "auto" (containerd when it answers, else wasm)`)
	f.String("containerd-address", containerd.DefaultAddress, "containerd's socket")
	f.String("containerd-namespace", containerd.DefaultNamespace, "containerd namespace for the node's images and containers")
	f.String("pod-cidr", "10.88.0.0/16", "address range of this node's containerd pods (CNI bridge + host-local IPAM)")
	f.String("cni-bridge", "tug0", "bridge device containerd pods attach to")
	f.String("cni-bin-dir", strings.Join(podnet.DefaultPluginDirs, ":"), "directories holding the CNI plugins (bridge, host-local, loopback, portmap)")
	f.String("pod-manifest-path", "", "directory of static pod manifests the node runs itself")
	f.Duration("crash-loop-backoff", 10*time.Second, "first back-off before restarting a container that keeps exiting (doubles up to --crash-loop-backoff-max)")
	f.Duration("crash-loop-backoff-max", 5*time.Minute, "longest crash-loop back-off")
	f.Duration("node-lease-duration", 40*time.Second, "the Node Lease's duration; renewed four times per duration")
	f.String("cluster-dns", "", "IP addresses (comma-separated) of the cluster DNS server: the nameservers of pods with dnsPolicy ClusterFirst (none: such pods use the node's resolver configuration, as dnsPolicy Default)")
	f.String("cluster-domain", kubelet.DefaultClusterDomain, "the cluster's DNS domain: ClusterFirst pods search <namespace>.svc.<domain>, svc.<domain> and <domain>")
	// A node's pods start at once after a restart or a rollout; each start costs about two
	// requests (its token, its status), so the burst covers a full node of pods without waiting.
	// Kubelet's own defaults (50/100) assume slower starts than in-process wasm pods have.
	f.Float32("kube-api-qps", 200, "requests per second the node agent sends the API server, besides events (kubelet's --kube-api-qps)")
	f.Int("kube-api-burst", 400, "requests the node agent may send at once above --kube-api-qps (kubelet's --kube-api-burst)")
	f.Float32("event-qps", 100, "events per second the node agent writes, on a rate limit of their own (kubelet's --event-qps)")
	f.Int("event-burst", 200, "events the node agent may write at once above --event-qps (kubelet's --event-burst)")
	f.String("resolv-conf", kubelet.DefaultResolvConf, `the node's resolver configuration, which pods with dnsPolicy Default inherit ("" or "-": none)`)
}

func newNodeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node agent that joins a cluster and runs the pods bound to this machine",
		Long: `Run a node agent (tug's kubelet): it registers this machine as a Node of the cluster at
--server, keeps it alive through a Lease and node status, and runs the pods bound to it.

WebAssembly (WASI) workloads run in-process on wazero. Images reach the node with
"tug image import FILE.tar" (no registry is needed); the agent keeps them under
<data-dir>/kubelet/images.`,
		Example: `  tug node --server https://10.0.0.1:6443 --token "$TOKEN" --ca-cert-hash sha256:…   # as tug token create prints
  tug node --server http://127.0.0.1:6443 --node-name n2 --data-dir /tmp/n2 --kubelet-listen :10251 --kubelet-healthz-listen -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runNode(cmd.Context()) },
	}
	f := cmd.Flags()
	addDataDirFlag(f)
	f.String("server", "", "URL of the cluster's API server (required)")
	f.String("token", "", "join token (tug token create) the node asks for its own client certificate with, or a static bearer token")
	f.String("ca-cert-hash", "", "sha256:<hex> of the cluster CA's public key, which the server must present (tug token create prints it)")
	f.String("certificate-authority", "", "PEM file of the cluster CA (instead of --ca-cert-hash)")
	addNodeFlags(f)
	addProxyFlags(f)
	return cmd
}

func (a *app) runNode(ctx context.Context) error {
	server := a.settings.String("server")
	if server == "" {
		return errors.New("--server is required")
	}
	dir, lock, err := a.openDataDir()
	if err != nil {
		return err
	}
	defer a.releaseLock(lock)
	cfg, err := a.nodeCredentials(ctx, server, dir)
	if err != nil {
		return err
	}
	return a.runAgent(ctx, cfg, dir)
}

// runAgent runs a node agent against the API server of cfg until ctx ends, keeping its state
// in <dataDir>/kubelet.
func (a *app) runAgent(ctx context.Context, cfg *rest.Config, dataDir string) error {
	agent, stop, err := a.newAgent(ctx, cfg, dataDir)
	if err != nil {
		return err
	}
	defer stop()
	pctx, cancel := context.WithCancel(ctx)
	proxyDone, err := a.startProxy(pctx, cfg)
	if err != nil {
		cancel()
		return fmt.Errorf("service proxy: %w", err)
	}
	defer func() { cancel(); <-proxyDone }()
	if err := agent.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// newAgent builds a node agent and its runtimes; stop releases the runtimes once Run returned.
func (a *app) newAgent(ctx context.Context, cfg *rest.Config, dataDir string) (*kubelet.Agent, func(), error) {
	s := a.settings
	client, eventClient, err := a.agentClients(cfg)
	if err != nil {
		return nil, nil, err
	}
	// A node that checks the API server against the cluster CA serves its own API over
	// HTTPS to callers of that CA or with tokens the server vouches for; one that reaches the
	// server in plain HTTP (--secure=false) serves plain HTTP too.
	var clientCA *x509.CertPool
	if len(cfg.TLSClientConfig.CAData) > 0 {
		clientCA = x509.NewCertPool()
		if !clientCA.AppendCertsFromPEM(cfg.TLSClientConfig.CAData) {
			return nil, nil, errors.New("node agent: the cluster CA is not PEM")
		}
	}
	root := filepath.Join(dataDir, "kubelet")
	var nodeIP netip.Addr
	if v := s.String("node-ip"); v != "" {
		if nodeIP, err = netip.ParseAddr(v); err != nil {
			return nil, nil, fmt.Errorf("--node-ip: %w", err)
		}
	}
	wasmCIDR, err := netip.ParsePrefix(s.String("wasm-pod-cidr"))
	if err != nil {
		return nil, nil, fmt.Errorf("--wasm-pod-cidr: %w", err)
	}
	if !api.NodeLocalPodIPs.Contains(wasmCIDR.Addr()) || wasmCIDR.Bits() < api.NodeLocalPodIPs.Bits() {
		return nil, nil, fmt.Errorf("--wasm-pod-cidr %s: must be a loopback range within %s (wasm pods' addresses are the node's own)", wasmCIDR, api.NodeLocalPodIPs)
	}
	var taints []corev1.Taint
	list, err := s.List("register-with-taints")
	if err != nil {
		return nil, nil, err
	}
	for _, t := range list {
		taint, err := sim.ParseTaint(t)
		if err != nil {
			return nil, nil, fmt.Errorf("--register-with-taints: %w", err)
		}
		taints = append(taints, taint)
	}
	labels := map[string]string{}
	if list, err = s.List("node-labels"); err != nil {
		return nil, nil, err
	}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--node-labels: %q is not key=value", kv)
		}
		labels[k] = v
	}
	durations := map[string]time.Duration{}
	for _, name := range []string{"crash-loop-backoff", "crash-loop-backoff-max", "node-lease-duration"} {
		if durations[name], err = s.Duration(name); err != nil {
			return nil, nil, err
		}
	}
	var clusterDNS []netip.Addr
	if list, err = s.List("cluster-dns"); err != nil {
		return nil, nil, err
	}
	for _, v := range list {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, nil, fmt.Errorf("--cluster-dns: %q is not an IP address", v)
		}
		clusterDNS = append(clusterDNS, ip)
	}
	if len(clusterDNS) == 0 && a.servesClusterDNS() {
		// The node serves DNS at kube-dns's cluster IP (its proxy sends that to its own
		// server): pods use it unless --cluster-dns names others.
		if ip, err := clusterDNSAddress(ctx, client); err != nil {
			a.logger("kubelet").Warn("no cluster DNS for pods", "err", err)
		} else {
			clusterDNS = []netip.Addr{ip}
		}
	}
	resolvConf := s.String("resolv-conf")
	if resolvConf == "" {
		resolvConf = kubelet.NoResolvConf
	}
	images, err := imagestore.Open(filepath.Join(root, "images"))
	if err != nil {
		return nil, nil, err
	}
	var agent *kubelet.Agent
	wrt, err := wasm.New(wasm.Config{
		Images: wasm.StoreImages(images), Addresses: wasmCIDR, HostIP: nodeIP, CacheDir: filepath.Join(root, "wasm-cache"),
		OnExit: func(uid types.UID) { agent.OnContainerExit(uid) },
		Logger: a.logger("kubelet"),
	})
	if err != nil {
		return nil, nil, err
	}
	runtimes := []container.Runtime{wrt}
	closeCtrd := func() {}
	mode := s.String("container-runtime")
	switch mode {
	case "auto", "containerd", "wasm":
	default:
		return nil, nil, fmt.Errorf(`--container-runtime %q: want "auto", "containerd" or "wasm"`, mode)
	}
	if mode == "containerd" || (mode == "auto" && containerd.Available(ctx, s.String("containerd-address"))) {
		crt, err := a.newContainerd(ctx, root, nodeIP, func(uid types.UID) { agent.OnContainerExit(uid) })
		if err != nil {
			if mode == "containerd" {
				return nil, nil, err
			}
			a.logger("kubelet").Warn("containerd answers but cannot run pods here; running wasm pods only", "err", err)
		} else {
			runtimes = []container.Runtime{crt, wrt}
			closeCtrd = func() { _ = crt.Close() }
		}
	}
	agent, err = kubelet.New(kubelet.Config{
		ClientCA: clientCA,
		NodeName: s.String("node-name"), Client: client, EventClient: eventClient, Runtimes: runtimes, RootDir: root, NodeIP: nodeIP,
		Labels: labels, Taints: taints,
		Listen: s.String("kubelet-listen"), HealthzListen: s.String("kubelet-healthz-listen"),
		LeaseDuration:   durations["node-lease-duration"],
		Backoff:         &kubelet.Backoff{Initial: durations["crash-loop-backoff"], Max: durations["crash-loop-backoff-max"]},
		PodManifestPath: s.String("pod-manifest-path"),
		ClusterDNS:      clusterDNS,
		ClusterDomain:   s.String("cluster-domain"),
		ResolvConf:      resolvConf,
		// Secrets and tokens on a tmpfs, as kubelet keeps them.
		MemoryBackedVolumes: true,
		Logger:              a.log,
	})
	stop := func() {
		_ = wrt.Close(context.Background())
		if len(runtimes) == 1 {
			// Only wasm pods ran, and they ended with the runtime: nothing uses the
			// memory-backed volumes any more. Containerd's containers outlive the agent, and
			// a restarted agent finds their volumes where they were.
			if err := kubelet.UnmountMemory(root); err != nil {
				a.logger("kubelet").Warn("memory-backed volumes not unmounted", "err", err)
			}
		}
		closeCtrd()
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return agent, stop, nil
}

// agentClients are the node agent's clients: one for everything but events, one for events,
// each with its own rate limit (--kube-api-qps/-burst, --event-qps/-burst).
func (a *app) agentClients(cfg *rest.Config) (client, events kubernetes.Interface, err error) {
	s := a.settings
	limits := map[string]float64{}
	for _, name := range []string{"kube-api-qps", "kube-api-burst", "event-qps", "event-burst"} {
		if limits[name], err = s.Float64(name); err != nil {
			return nil, nil, err
		}
		if limits[name] <= 0 {
			return nil, nil, fmt.Errorf("--%s must be positive", name)
		}
	}
	api, ev := rest.CopyConfig(cfg), rest.CopyConfig(cfg)
	api.QPS, api.Burst = float32(limits["kube-api-qps"]), int(limits["kube-api-burst"])
	ev.QPS, ev.Burst = float32(limits["event-qps"]), int(limits["event-burst"])
	if client, err = kubernetes.NewForConfig(api); err != nil {
		return nil, nil, err
	}
	if events, err = kubernetes.NewForConfig(ev); err != nil {
		return nil, nil, err
	}
	return client, events, nil
}

// newContainerd connects the containerd runtime, with the pod network it attaches pods to.
func (a *app) newContainerd(ctx context.Context, root string, nodeIP netip.Addr, onExit func(types.UID)) (*containerd.Runtime, error) {
	s := a.settings
	cidr, err := netip.ParsePrefix(s.String("pod-cidr"))
	if err != nil {
		return nil, fmt.Errorf("--pod-cidr: %w", err)
	}
	if !nodeIP.IsValid() {
		nodeIP = kubelet.DetectNodeIP()
	}
	network, err := podnet.New(podnet.Config{Name: "tug-" + s.String("cni-bridge"), Bridge: s.String("cni-bridge"), Subnet: cidr,
		PluginDirs: filepath.SplitList(s.String("cni-bin-dir")), StateDir: filepath.Join(root, "cni")})
	if err != nil {
		return nil, err
	}
	logger, err := logDriver(root, a.logger("kubelet"))
	if err != nil {
		return nil, err
	}
	return containerd.New(ctx, containerd.Config{
		Address: s.String("containerd-address"), Namespace: s.String("containerd-namespace"), Node: s.String("node-name"),
		Network: network, StateDir: filepath.Join(root, "containerd"), HostIP: nodeIP, LoggerBinary: logger,
		OnExit: onExit, Logger: a.logger("kubelet"),
	})
}

// logDriver returns the program containerd's shims start as each container's log driver: the
// small one this build carries, written out under root, or else tug itself.
func logDriver(root string, log *slog.Logger) (string, error) {
	path, ok, err := logdriver.Install(filepath.Join(root, "bin"))
	if ok && err == nil {
		return path, nil
	}
	if ok {
		log.Warn("the small log driver could not be written out; containers log through tug itself", "err", err)
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the tug binary for the log driver: %w", err)
	}
	return self, nil
}

// newLogDriverCmd is the hidden command containerd's shims start as the log driver of tug's
// containers: it writes their output to the log file in the CRI format.
func newLogDriverCmd() *cobra.Command {
	return &cobra.Command{
		Use: "log-driver PATH", Hidden: true, Args: cobra.ExactArgs(1),
		Short: "Write a container's output to its log file (started by containerd's shim)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return logs.RunBinaryLogger(cmd.Context(), args[0])
		},
	}
}
