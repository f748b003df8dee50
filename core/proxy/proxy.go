package proxy

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/internal/promreg"
)

// Config configures a Proxy.
type Config struct {
	// Client watches Services and EndpointSlices.
	Client kubernetes.Interface
	// NodeName is this node (internalTrafficPolicy Local picks its endpoints).
	NodeName  string
	Dataplane Dataplane
	// ResyncInterval is how often the data plane is handed the State even when nothing
	// changed (default 30 s), so that it can repair what someone else changed on its own
	// schedule: the nftables one replaces its whole table every FullSyncInterval.
	ResyncInterval time.Duration
	// RetryInterval is the wait after a failed sync (default 1 s).
	RetryInterval time.Duration
	Logger        *slog.Logger
	// Metrics, when set, receives the proxy's sync metrics.
	Metrics prometheus.Registerer
}

// Proxy keeps a data plane in step with the cluster's Services and EndpointSlices.
type Proxy struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	changed  chan struct{}
	log      *slog.Logger

	syncSeconds  prometheus.Histogram
	syncErrors   prometheus.Counter
	servicePorts prometheus.Gauge
}

// New makes a Proxy; Run starts it.
func New(cfg Config) (*Proxy, error) {
	if cfg.Client == nil || cfg.Dataplane == nil {
		return nil, errors.New("proxy: a client and a data plane are required")
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 30 * time.Second
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxy{cfg: cfg, changed: make(chan struct{}, 1), log: cfg.Logger.With("component", "proxy"),
		factory: informers.NewSharedInformerFactory(cfg.Client, 0)}
	svcInf := p.factory.Core().V1().Services()
	sliceInf := p.factory.Discovery().V1().EndpointSlices()
	p.services, p.slices = svcInf.Lister(), sliceInf.Lister()
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return nil, err
		}
		p.synced = append(p.synced, inf.HasSynced)
	}
	p.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tug_proxy_sync_duration_seconds",
		Help: "Time to program the data plane with the whole state.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)})
	p.syncErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "tug_proxy_sync_errors_total", Help: "Failed data plane syncs."})
	p.servicePorts = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tug_proxy_service_ports", Help: "Service ports last programmed."})
	if reg := cfg.Metrics; reg != nil {
		var err error
		if p.syncSeconds, err = promreg.Register(reg, p.syncSeconds); err != nil {
			return nil, err
		}
		if p.syncErrors, err = promreg.Register(reg, p.syncErrors); err != nil {
			return nil, err
		}
		if p.servicePorts, err = promreg.Register(reg, p.servicePorts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Listers are the proxy's caches of Services and EndpointSlices, for cluster DNS to read, and
// whether both have synced.
func (p *Proxy) Listers() (corelisters.ServiceLister, discoverylisters.EndpointSliceLister, func() bool) {
	return p.services, p.slices, func() bool {
		for _, s := range p.synced {
			if !s() {
				return false
			}
		}
		return true
	}
}

func (p *Proxy) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Run programs the data plane until ctx ends. It does not clean up when it returns: the rules
// keep traffic flowing while a restarted proxy starts (the next process's first sync replaces
// them).
func (p *Proxy) Run(ctx context.Context) error {
	p.factory.Start(ctx.Done())
	defer p.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return ctx.Err()
	}
	p.log.Info("proxy caches synced")
	var last *State
	resync := time.NewTicker(p.cfg.ResyncInterval)
	defer resync.Stop()
	force := true
	for {
		st, err := p.state()
		if err == nil && (force || last == nil || !reflect.DeepEqual(*last, st)) {
			start := time.Now()
			err = p.cfg.Dataplane.Sync(ctx, st)
			p.syncSeconds.Observe(time.Since(start).Seconds())
			if err == nil {
				last, force = &st, false
				p.servicePorts.Set(float64(len(st.Services)))
				p.log.Debug("data plane synced", "servicePorts", len(st.Services), "took", time.Since(start))
			}
		}
		var retry <-chan time.Time
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.syncErrors.Inc()
			p.log.Warn("data plane sync failed; retrying", "err", err, "in", p.cfg.RetryInterval)
			retry = time.After(p.cfg.RetryInterval)
			force = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.changed:
		case <-retry:
		case <-resync.C:
			force = true
		}
	}
}

func (p *Proxy) state() (State, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return State{}, err
	}
	sl, err := p.slices.List(labels.Everything())
	if err != nil {
		return State{}, err
	}
	return BuildState(p.cfg.NodeName, svcs, sl), nil
}
