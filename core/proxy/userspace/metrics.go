package userspace

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tugboat-io/tug/internal/promreg"
)

// metrics are the proxier's Prometheus collectors. No label names a service: a node has as
// many service ports as the cluster, and per-service traffic is what a mesh is for. With a
// nil Registerer they are created but not registered, so updating them needs no nil checks.
type metrics struct {
	active     *prometheus.GaugeVec   // protocol: open TCP connections, live UDP sessions
	bytes      *prometheus.CounterVec // protocol, direction
	noEndpoint *prometheus.CounterVec // protocol: TCP connections reset, UDP datagrams dropped
	dialErrors prometheus.Counter
	syncErrors prometheus.Counter

	// Resolved once: UDP adds to them per datagram.
	udpToEndpoint, udpToClient prometheus.Counter
	tcpToEndpoint, tcpToClient prometheus.Counter
}

const (
	protoTCP = "tcp"
	protoUDP = "udp"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tug_proxy_userspace_active_connections",
			Help: "TCP connections being proxied and UDP sessions alive, by protocol.",
		}, []string{"protocol"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tug_proxy_userspace_bytes_total",
			Help: "Bytes proxied, by protocol and direction (to_endpoint, to_client); TCP counts a direction when it ends.",
		}, []string{"protocol", "direction"}),
		noEndpoint: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tug_proxy_userspace_no_endpoint_total",
			Help: "TCP connections reset and UDP datagrams dropped because no endpoint could be reached, by protocol.",
		}, []string{"protocol"}),
		dialErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tug_proxy_userspace_dial_errors_total",
			Help: "Failed connection attempts to an endpoint (the next endpoint is tried).",
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tug_proxy_userspace_sync_errors_total",
			Help: "Syncs that left part of the state unprogrammed (a listener or a cluster IP).",
		}),
	}
	if reg != nil {
		var err error
		if m.active, err = promreg.Register(reg, m.active); err != nil {
			return nil, fmt.Errorf("userspace proxy: metrics: %w", err)
		}
		if m.bytes, err = promreg.Register(reg, m.bytes); err != nil {
			return nil, fmt.Errorf("userspace proxy: metrics: %w", err)
		}
		if m.noEndpoint, err = promreg.Register(reg, m.noEndpoint); err != nil {
			return nil, fmt.Errorf("userspace proxy: metrics: %w", err)
		}
		if m.dialErrors, err = promreg.Register(reg, m.dialErrors); err != nil {
			return nil, fmt.Errorf("userspace proxy: metrics: %w", err)
		}
		if m.syncErrors, err = promreg.Register(reg, m.syncErrors); err != nil {
			return nil, fmt.Errorf("userspace proxy: metrics: %w", err)
		}
	}
	m.udpToEndpoint = m.bytes.WithLabelValues(protoUDP, "to_endpoint")
	m.udpToClient = m.bytes.WithLabelValues(protoUDP, "to_client")
	m.tcpToEndpoint = m.bytes.WithLabelValues(protoTCP, "to_endpoint")
	m.tcpToClient = m.bytes.WithLabelValues(protoTCP, "to_client")
	return m, nil
}
