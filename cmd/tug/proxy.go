package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/kubelet"
	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/core/proxy/dns"
	"github.com/tugboat-io/tug/core/proxy/nftables"
	"github.com/tugboat-io/tug/core/proxy/userspace"
)

// addProxyFlags adds the service proxy's and cluster DNS's flags (tug node, tug up's node).
func addProxyFlags(f *pflag.FlagSet) {
	f.String("proxy-mode", "auto", `service proxy data plane: "nftables", "userspace", "auto" (nftables when this process can program it, else userspace), or "none"`)
	f.String("proxy-interface", "tug-svc0", "device the userspace proxy puts cluster IPs on, so that it can listen on them (needs root)")
	f.Int("cluster-dns-port", 10053, "port of the node's cluster DNS server, on the node's address (0: no DNS server)")
}

// servesClusterDNS says whether this node runs a cluster DNS server behind its proxy.
func (a *app) servesClusterDNS() bool {
	port, err := a.settings.Int64("cluster-dns-port")
	return err == nil && port > 0 && a.settings.String("proxy-mode") != "none"
}

// clusterDNSAddress is kube-dns's cluster IP, which the API server makes at start.
func clusterDNSAddress(ctx context.Context, client kubernetes.Interface) (netip.Addr, error) {
	var err error
	for range 10 {
		var svc *corev1.Service
		if svc, err = client.CoreV1().Services(dns.ServiceNamespace).Get(ctx, dns.ServiceName, metav1.GetOptions{}); err == nil {
			return netip.ParseAddr(svc.Spec.ClusterIP)
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return netip.Addr{}, fmt.Errorf("service %s/%s: %w", dns.ServiceNamespace, dns.ServiceName, err)
}

// nodeAddress is --node-ip, or the address of the interface the default route uses.
func (a *app) nodeAddress() (netip.Addr, error) {
	if v := a.settings.String("node-ip"); v != "" {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("--node-ip: %w", err)
		}
		return ip, nil
	}
	return kubelet.DetectNodeIP(), nil
}

// startProxy runs the node's service proxy and cluster DNS server until ctx ends; done is
// closed once both have stopped.
func (a *app) startProxy(ctx context.Context, cfg *rest.Config) (done <-chan struct{}, err error) {
	s := a.settings
	log := a.logger("proxy")
	finished := make(chan struct{})
	mode := s.String("proxy-mode")
	if mode == "none" {
		close(finished)
		return finished, nil
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodeIP, err := a.nodeAddress()
	if err != nil {
		return nil, err
	}
	dp, err := a.dataplane(mode)
	if err != nil {
		return nil, err
	}
	if dp == nil {
		close(finished)
		return finished, nil
	}
	nodeName := s.String("node-name")
	p, err := proxy.New(proxy.Config{Client: client, NodeName: nodeName, Dataplane: dp, Logger: a.log, Metrics: prometheus.DefaultRegisterer})
	if err != nil {
		return nil, err
	}
	dnsPort, err := s.Int64("cluster-dns-port")
	if err != nil {
		return nil, err
	}
	if dnsPort < 0 || dnsPort > 65535 {
		return nil, fmt.Errorf("--cluster-dns-port %d: want 0-65535", dnsPort)
	}
	var srv *dns.Server
	if dnsPort > 0 {
		svcs, slices, synced := p.Listers()
		listen := netip.AddrPortFrom(nodeIP, uint16(dnsPort))
		srv, err = dns.New(dns.Config{Listen: []string{listen.String()}, HasSynced: synced, Logger: a.log,
			Metrics: prometheus.DefaultRegisterer}, svcs, slices)
		if err != nil {
			return nil, err
		}
	}
	go func() {
		defer close(finished)
		errc := make(chan error, 2)
		go func() { errc <- p.Run(ctx) }()
		n := 1
		if srv != nil {
			n++
			go func() { errc <- srv.Run(ctx) }()
			go func() {
				select {
				case <-srv.Ready():
				case <-ctx.Done():
					return
				}
				addr := netip.AddrPortFrom(nodeIP, uint16(dnsPort))
				log.Info("cluster DNS serving", "addr", addr.String())
				if err := dns.PublishEndpoint(ctx, client, nodeName, addr); err != nil && ctx.Err() == nil {
					log.Error("publishing the DNS endpoint", "err", err)
				}
			}()
		}
		for range n {
			if err := <-errc; err != nil && ctx.Err() == nil {
				log.Error("stopped", "err", err)
			}
		}
		// The userspace proxy's listeners live in this process: close them, so a node started
		// again in it (tug up) can listen again. Kernel rules stay for the next process.
		if c, ok := dp.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				log.Warn("closing the data plane", "err", err)
			}
		}
	}()
	return finished, nil
}

// dataplane picks the proxy's data plane for mode.
func (a *app) dataplane(mode string) (proxy.Dataplane, error) {
	log := a.logger("proxy")
	podCIDR, _ := netip.ParsePrefix(a.settings.String("pod-cidr"))
	switch mode {
	case "nftables":
		return nftables.New(nftables.Config{PodCIDR: podCIDR, Logger: a.log})
	case "auto":
		if err := nftables.Available(); err == nil {
			log.Info("service proxy: nftables")
			return nftables.New(nftables.Config{PodCIDR: podCIDR, Logger: a.log})
		} else {
			log.Info("service proxy: nftables not usable here; using the userspace proxy", "err", err)
		}
		dp, err := a.userspace()
		if err != nil {
			log.Warn("service proxy: none on this node", "err", err)
			return nil, nil
		}
		return dp, nil
	case "userspace":
		return a.userspace()
	}
	return nil, fmt.Errorf(`--proxy-mode %s: want "nftables", "userspace", "auto" or "none"`, strconv.Quote(mode))
}

func (a *app) userspace() (proxy.Dataplane, error) {
	// NodePorts listen on every address, as kube-proxy's do.
	return userspace.New(userspace.Config{Interface: a.settings.String("proxy-interface"), Logger: a.log, Metrics: prometheus.DefaultRegisterer})
}
