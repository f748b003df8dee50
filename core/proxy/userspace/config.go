package userspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClusterIPMode says whether the proxier serves ClusterIPs. Binding to a ClusterIP needs the
// address to be local, which needs CAP_NET_ADMIN to add it to an interface.
type ClusterIPMode int

const (
	// ClusterIPsAuto serves ClusterIPs when the process may add addresses, and otherwise
	// logs once and serves NodePorts only. It is the zero value because this mode exists
	// for machines where the proxy may not be root.
	ClusterIPsAuto ClusterIPMode = iota
	// ClusterIPsOn serves ClusterIPs or says why not: an interface or address that cannot be
	// set up is a Sync error, retried by the next Sync.
	ClusterIPsOn
	// ClusterIPsOff serves NodePorts only and never touches an interface, not even in
	// Cleanup.
	ClusterIPsOff
)

func (m ClusterIPMode) String() string {
	switch m {
	case ClusterIPsAuto:
		return "auto"
	case ClusterIPsOn:
		return "on"
	case ClusterIPsOff:
		return "off"
	}
	return fmt.Sprintf("ClusterIPMode(%d)", int(m))
}

// Defaults for the fields of Config left zero.
const (
	// DefaultInterface is where ClusterIPs are added, as kube-proxy's IPVS mode adds them to
	// kube-ipvs0.
	DefaultInterface = "tug-svc0"
	// DefaultDialTimeout bounds one attempt at one endpoint. A SYN lost once is resent after
	// 1 s, so 2 s lets a healthy endpoint on a busy network answer, while a client whose
	// first choice is a blackholed endpoint waits only that long before the next is tried.
	DefaultDialTimeout = 2 * time.Second
	// DefaultUDPIdleTimeout ends a UDP session this long after its last datagram either way.
	// conntrack keeps unreplied UDP flows 30 s and replied ones 120 s, but a session here
	// holds a socket and a goroutine, and most cluster UDP is DNS: one query, one answer,
	// a fresh source port (so a fresh session) per query. 10 s still covers a resolver's
	// retry of a lost query (5 s by default) and request/response protocols with pauses;
	// a client silent for longer gets a new session, possibly to another endpoint.
	DefaultUDPIdleTimeout = 10 * time.Second
)

// Sentinel errors.
var (
	ErrBadConfig = errors.New("userspace proxy: invalid config")
	ErrClosed    = errors.New("userspace proxy: closed")
	// ErrForeignInterface: the configured interface exists but is not one this proxy made,
	// so it is neither given addresses nor deleted.
	ErrForeignInterface = errors.New("userspace proxy: interface not created by tug")
	// ErrAddrConflict: two service ports want the same listening address.
	ErrAddrConflict = errors.New("userspace proxy: address wanted by two service ports")
)

// Config configures a Proxier; zero fields take the defaults above.
type Config struct {
	// NodeIPs are the addresses NodePorts listen on; empty means all IPv4 addresses
	// (0.0.0.0), as kube-proxy's --nodeport-addresses does when unset.
	NodeIPs []netip.Addr
	// ClusterIPs says whether ClusterIPs are served (see ClusterIPMode).
	ClusterIPs ClusterIPMode
	// Interface is the interface ClusterIPs are added to; it is created when missing and
	// deleted by Cleanup. At most 15 bytes (the kernel's IFNAMSIZ).
	Interface string
	// DialTimeout bounds one connection attempt to one endpoint.
	DialTimeout time.Duration
	// UDPIdleTimeout ends a UDP session silent this long in both directions.
	UDPIdleTimeout time.Duration
	// Logger gets the attributes component=proxy mode=userspace; nil is slog.Default().
	Logger *slog.Logger
	// Metrics registers the proxier's collectors; nil leaves them unregistered.
	Metrics prometheus.Registerer
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Interface == "" {
		cfg.Interface = DefaultInterface
	}
	if len(cfg.Interface) > 15 || strings.ContainsAny(cfg.Interface, "/: \t\n") {
		return cfg, fmt.Errorf("%w: interface name %q (at most 15 bytes, no '/', ':' or space)", ErrBadConfig, cfg.Interface)
	}
	if cfg.ClusterIPs < ClusterIPsAuto || cfg.ClusterIPs > ClusterIPsOff {
		return cfg, fmt.Errorf("%w: %v", ErrBadConfig, cfg.ClusterIPs)
	}
	for _, ip := range cfg.NodeIPs {
		if !ip.IsValid() || ip.Zone() != "" {
			return cfg, fmt.Errorf("%w: node IP %q", ErrBadConfig, ip)
		}
	}
	if cfg.DialTimeout < 0 || cfg.UDPIdleTimeout < 0 {
		return cfg, fmt.Errorf("%w: negative timeout", ErrBadConfig)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.UDPIdleTimeout == 0 {
		cfg.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}
