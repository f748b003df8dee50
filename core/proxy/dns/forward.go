package dns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// forwarder sends queries for names outside the zone to the upstream resolvers, in order.
type forwarder struct {
	upstreams []string // host:port
	timeout   time.Duration
	metrics   *metrics
}

// exchange forwards req over network ("udp" or "tcp") and returns the first reply an upstream
// gives, with req's ID. Replies with an error code (SERVFAIL, REFUSED) are answers too and are
// passed on; only failures to get a reply move on to the next upstream.
func (f *forwarder) exchange(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, ErrNoUpstream
	}
	var errs []error
	for _, up := range f.upstreams {
		resp, err := f.try(ctx, req, up, network)
		if err == nil {
			return resp, nil
		}
		f.metrics.upstreamErrors.WithLabelValues(up).Inc()
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dns: forward: %w", errors.Join(errs...))
}

// try asks one upstream. A UDP reply with TC set is asked again over TCP: the upstream may
// have cut it to less than the asker can take, and the server cuts it again if needed.
func (f *forwarder) try(ctx context.Context, req *dns.Msg, up, network string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	m := req.Copy()
	// A fresh ID for each upstream query, rather than the asker's: replies are matched on it,
	// and it should not be for anyone else to choose.
	m.Id = dns.Id()
	c := &dns.Client{Net: network, Timeout: f.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, up)
	if err == nil && network == "udp" && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, up)
	}
	if err != nil {
		return nil, err
	}
	resp.Id = req.Id
	return resp, nil
}
