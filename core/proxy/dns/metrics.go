package dns

import (
	"fmt"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tugboat-io/tug/internal/promreg"
)

// metrics are the server's Prometheus collectors. With a nil Registerer they are created but
// not registered, so the code that updates them needs no nil checks.
type metrics struct {
	requests       *prometheus.CounterVec // zone, type, rcode
	upstreamErrors *prometheus.CounterVec // upstream
}

// Values of the zone label of tug_dns_requests_total.
const (
	zoneCluster = "cluster" // answered from the listers
	zoneForward = "forward" // sent upstream (also reverse names that are no cluster address)
	zoneNone    = "none"    // refused or malformed before either
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tug_dns_requests_total",
			Help: "DNS queries answered, by zone (cluster, forward, none), query type and response code.",
		}, []string{"zone", "type", "rcode"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tug_dns_upstream_errors_total",
			Help: "Forwarded queries an upstream resolver failed to answer (timeout, refused connection, bad reply).",
		}, []string{"upstream"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = promreg.Register(reg, m.requests); err != nil {
		return nil, fmt.Errorf("dns: metrics: %w", err)
	}
	if m.upstreamErrors, err = promreg.Register(reg, m.upstreamErrors); err != nil {
		return nil, fmt.Errorf("dns: metrics: %w", err)
	}
	return m, nil
}

// typeLabel bounds the type label to the common types, since a query can carry any of 65536.
func typeLabel(t uint16) string {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeCNAME, dns.TypeTXT,
		dns.TypeSOA, dns.TypeNS, dns.TypeMX, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB:
		return dns.TypeToString[t]
	}
	return "other"
}

func (m *metrics) observe(zone string, qtype uint16, rcode int) {
	rc, ok := dns.RcodeToString[rcode]
	if !ok {
		rc = "other"
	}
	m.requests.WithLabelValues(zone, typeLabel(qtype), rc).Inc()
}
