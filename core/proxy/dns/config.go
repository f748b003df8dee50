package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the fields of Config left zero.
const (
	DefaultDomain     = "cluster.local"
	DefaultResolvConf = "/etc/resolv.conf"
	// DefaultTTL is CoreDNS's kubernetes plugin default: short, because endpoints come and go
	// with pods and a client holding a stale address fails its connections.
	DefaultTTL = 5 * time.Second
	// DefaultForwardTimeout bounds one attempt at one upstream. Resolvers usually wait 5 s for
	// an answer, so two upstreams fit in one client attempt.
	DefaultForwardTimeout = 2 * time.Second
)

// SpecVersion is the version of the Kubernetes DNS specification served at
// dns-version.<zone> TXT.
const SpecVersion = "1.1.0"

// Sentinel errors of New and Run.
var (
	ErrNoListen   = errors.New("dns: no listen address")
	ErrBadDomain  = errors.New("dns: invalid domain")
	ErrRunTwice   = errors.New("dns: Run called twice")
	ErrUpstream   = errors.New("dns: invalid upstream")
	ErrNoUpstream = errors.New("dns: no upstream resolver")
)

// Config is the server's configuration; zero fields take the defaults above.
type Config struct {
	// Domain is the cluster zone, e.g. cluster.local.
	Domain string
	// Listen holds host:port addresses; the server binds UDP and TCP on each (port 0 picks
	// one port for both, for tests).
	Listen []string
	// Upstreams are the resolvers for names outside the zone, as host or host:port. Empty
	// means the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read for upstreams when Upstreams is empty.
	ResolvConf string
	// TTL of every answer, and of negative answers through the SOA's minimum.
	TTL time.Duration
	// ForwardTimeout bounds one exchange with one upstream.
	ForwardTimeout time.Duration
	// HasSynced, if set, reports whether the listers' informers have synced; until then names
	// in the zone get SERVFAIL.
	HasSynced func() bool
	// Logger gets the component=dns attribute; nil is slog.Default().
	Logger *slog.Logger
	// Metrics registers the server's collectors; nil leaves them unregistered.
	Metrics prometheus.Registerer
}

// withDefaults validates cfg and fills its zero fields, reading ResolvConf if it must.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Listen) == 0 {
		return cfg, ErrNoListen
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	cfg.Domain = dns.CanonicalName(cfg.Domain)
	if _, ok := dns.IsDomainName(cfg.Domain); !ok || cfg.Domain == "." {
		return cfg, fmt.Errorf("%w: %q", ErrBadDomain, cfg.Domain)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	ups := cfg.Upstreams
	if len(ups) == 0 {
		rc, err := dns.ClientConfigFromFile(cfg.ResolvConf)
		if err != nil {
			return cfg, fmt.Errorf("dns: upstreams from %s: %w", cfg.ResolvConf, err)
		}
		for _, s := range rc.Servers {
			ups = append(ups, net.JoinHostPort(s, rc.Port))
		}
		if len(ups) == 0 {
			return cfg, fmt.Errorf("%w in %s", ErrNoUpstream, cfg.ResolvConf)
		}
	}
	cfg.Upstreams = make([]string, 0, len(ups))
	for _, u := range ups {
		hp, err := hostPort(u)
		if err != nil {
			return cfg, err
		}
		cfg.Upstreams = append(cfg.Upstreams, hp)
	}
	return cfg, nil
}

// hostPort adds port 53 to an upstream written without one: "10.0.0.2", "[fd00::1]" and
// "fd00::1" all name a resolver on 53.
func hostPort(u string) (string, error) {
	if host, port, err := net.SplitHostPort(u); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("%w: %q", ErrUpstream, u)
		}
		return u, nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u, "["), "]")
	if host == "" || strings.ContainsAny(host, "[] ") {
		return "", fmt.Errorf("%w: %q", ErrUpstream, u)
	}
	return net.JoinHostPort(host, "53"), nil
}
