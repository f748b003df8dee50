package podnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// DefaultPluginDirs are where CNI plugin binaries are looked for: Debian's package and the
// upstream default.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config describes a node's pod network.
type Config struct {
	// Name names the network (CNI's cache keys on it); Bridge is the bridge device.
	Name, Bridge string
	// Subnet is the node's pod range.
	Subnet netip.Prefix
	// PluginDirs hold the CNI plugin binaries (DefaultPluginDirs when empty).
	PluginDirs []string
	// StateDir keeps the network's state: host-local's leases, libcni's cache, and the
	// pods' network namespaces.
	StateDir string
}

// Network is a node's pod network.
type Network struct {
	cfg Config
	cni *libcni.CNIConfig
	// plain attaches a pod; withPorts also maps its hostPorts. A pod without hostPorts skips
	// portmap, which would otherwise run (and run iptables) for nothing.
	plain, withPorts *libcni.NetworkConfigList
}

// New checks that the plugins are there, sets up the masquerade for the pod range, and
// returns the network.
func New(cfg Config) (*Network, error) {
	if cfg.Name == "" || cfg.Bridge == "" || !cfg.Subnet.IsValid() || cfg.StateDir == "" {
		return nil, errors.New("podnet: a name, a bridge, a subnet and a state directory are required")
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := findPlugin(cfg.PluginDirs, p); err != nil {
			return nil, err
		}
	}
	bridge := map[string]any{
		// ipMasq is off: one masquerade rule for the whole range replaces its chain per pod.
		"type": "bridge", "bridge": cfg.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": cfg.Subnet.Masked().String()}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": filepath.Join(cfg.StateDir, "ipam"),
		},
	}
	portmap := map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true}
	plain, err := confList(cfg.Name, bridge)
	if err != nil {
		return nil, err
	}
	withPorts, err := confList(cfg.Name, bridge, portmap)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "netns"), 0o700); err != nil {
		return nil, fmt.Errorf("podnet: %w", err)
	}
	if err := ensureMasquerade(cfg.Name, cfg.Subnet); err != nil {
		return nil, fmt.Errorf("podnet: %w", err)
	}
	return &Network{cfg: cfg, cni: libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, filepath.Join(cfg.StateDir, "cache"), nil), plain: plain, withPorts: withPorts}, nil
}

// confList makes a CNI network of the plugins. Both of a node's lists have the same name, so
// libcni's cache knows a pod by its ID whichever attached it.
func confList(name string, plugins ...any) (*libcni.NetworkConfigList, error) {
	b, _ := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": name, "plugins": plugins})
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("podnet: %w", err)
	}
	return list, nil
}

// Close removes what New set up outside the pods (the masquerade rule); the bridge stays, as
// it does when a node stops with pods still running. For tests and for removing a node.
func (n *Network) Close() error { return removeMasquerade(n.cfg.Name) }

// list is the CNI network a pod with these hostPorts is attached through.
func (n *Network) list(ports []PortMapping) *libcni.NetworkConfigList {
	if len(ports) > 0 {
		return n.withPorts
	}
	return n.plain
}

func findPlugin(dirs []string, name string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("podnet: CNI plugin %q not found in %s (Debian: apt install containernetworking-plugins)", name, strings.Join(dirs, ":"))
}

// PortMapping is a hostPort of a pod.
type PortMapping struct {
	HostPort, ContainerPort int32
	Protocol                string // "tcp" or "udp"
	HostIP                  string
}

// Attachment is a pod's place in the network.
type Attachment struct {
	// ID is what CNI knows the attachment by (the pod UID).
	ID string
	// NetNS is the path of the pod's network namespace.
	NetNS string
	IP    netip.Addr
}

// NetNSPath is where the network namespace of attachment id is pinned.
func (n *Network) NetNSPath(id string) string { return filepath.Join(n.cfg.StateDir, "netns", id) }

// Add makes a network namespace for the pod and attaches it; on failure nothing is left. A
// namespace of the same id left by an agent that died half-way is taken down first.
func (n *Network) Add(ctx context.Context, id string, ports []PortMapping) (Attachment, error) {
	att := Attachment{ID: id, NetNS: n.NetNSPath(id)}
	if _, err := os.Lstat(att.NetNS); err == nil {
		if err := n.Del(ctx, att, ports); err != nil {
			return Attachment{}, fmt.Errorf("remove a stale network namespace: %w", err)
		}
	}
	if err := makeNetNS(att.NetNS); err != nil {
		return Attachment{}, fmt.Errorf("make network namespace: %w", err)
	}
	rt := n.runtimeConf(att, ports)
	res, err := n.cni.AddNetworkList(ctx, n.list(ports), rt)
	if err != nil {
		_ = n.cni.DelNetworkList(context.WithoutCancel(ctx), n.list(ports), rt)
		_ = removeNetNS(att.NetNS)
		return Attachment{}, fmt.Errorf("attach to %s: %w", n.cfg.Bridge, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return Attachment{}, err
	}
	for _, ip := range r.IPs {
		if a, ok := netip.AddrFromSlice(ip.Address.IP.To4()); ok {
			att.IP = a
			break
		}
	}
	if !att.IP.IsValid() {
		_ = n.Del(context.WithoutCancel(ctx), att, ports)
		return Attachment{}, errors.New("CNI gave the pod no IPv4 address")
	}
	return att, nil
}

// Del detaches a pod and removes its network namespace. Deleting what is already gone is not
// an error, so it can be repeated after a crash.
func (n *Network) Del(ctx context.Context, att Attachment, ports []PortMapping) error {
	rt := n.runtimeConf(att, ports)
	var errs []error
	if err := n.cni.DelNetworkList(ctx, n.list(ports), rt); err != nil {
		errs = append(errs, err)
	}
	if att.NetNS != "" {
		if err := removeNetNS(att.NetNS); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Alive says whether an attachment's network namespace still exists (it does not survive a
// reboot).
func (n *Network) Alive(att Attachment) bool {
	return att.NetNS != "" && netNSAlive(att.NetNS)
}

// Attached lists the ids that have a network namespace on this node, recorded or not.
func (n *Network) Attached() []string {
	entries, _ := os.ReadDir(filepath.Join(n.cfg.StateDir, "netns"))
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

func (n *Network) runtimeConf(att Attachment, ports []PortMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: att.ID, NetNS: att.NetNS, IfName: "eth0"}
	if len(ports) > 0 {
		pm := make([]map[string]any, 0, len(ports))
		for _, p := range ports {
			proto := strings.ToLower(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			m := map[string]any{"hostPort": p.HostPort, "containerPort": p.ContainerPort, "protocol": proto}
			if p.HostIP != "" {
				m["hostIP"] = p.HostIP
			}
			pm = append(pm, m)
		}
		rt.CapabilityArgs = map[string]any{"portMappings": pm}
	}
	return rt
}
