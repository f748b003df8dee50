package apiserver

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tugboat-io/tug/internal/promreg"
)

// requestMetrics are kube-apiserver's request counters, by verb, group, resource and code.
type requestMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "API requests, by verb, group, resource, subresource and HTTP code.",
		}, []string{"verb", "group", "resource", "subresource", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "API request latency (watches excluded), by verb, group and resource.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"verb", "group", "resource"}),
	}
	if reg != nil {
		// A second server in one process (tests) shares the first one's collectors.
		m.total, _ = promreg.Register(reg, m.total)
		m.duration, _ = promreg.Register(reg, m.duration)
	}
	return m
}

// middleware records every request under /api and /apis.
func (m *requestMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		ri, ok := c.Get(requestInfoKey).(*RequestInfo) // set by serveAPI, which parsed the path
		if !ok || !ri.IsResourceRequest {
			return err
		}
		code := c.Response().Status
		if err != nil {
			code = int(statusFor(err, ri.groupResource(), ri.Name).Code)
		}
		m.total.WithLabelValues(ri.Verb, ri.APIGroup, ri.Resource, ri.Subresource, strconv.Itoa(code)).Inc()
		if ri.Verb != "watch" {
			m.duration.WithLabelValues(ri.Verb, ri.APIGroup, ri.Resource).Observe(time.Since(start).Seconds())
		}
		return err
	}
}

func metricsHandler(g prometheus.Gatherer) echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}
