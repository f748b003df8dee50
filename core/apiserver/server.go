package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
)

// Server is the API server. New prepares it (watch caches loaded, default namespaces present);
// Run serves until its context ends.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	registry *api.Registry
	echo     *echo.Echo
	authn    Authenticator
	authz    Authorizer
	admit    Admission
	alloc    *allocator
	// kubelet reaches node agents (pods/log, pods/exec).
	kubelet *http.Client

	mu        sync.RWMutex
	resources map[*api.Kind]*resource
	// crds serves the custom resources of established CustomResourceDefinitions.
	crds *crdController
	// terminating holds the UIDs of namespaces this server marked for deletion, so creates
	// into them are refused before the watch cache has seen the change.
	terminating sync.Map

	ctx     context.Context
	started time.Time
	ready   chan struct{}
}

// New builds a server over cfg.Etcd: it registers the kinds, loads one watch cache per resource
// and makes sure the namespaces every cluster has exist.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Etcd == nil {
		return nil, errors.New("apiserver: no etcd client")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:6443"
	}
	if cfg.MaxRequestBodyBytes <= 0 {
		cfg.MaxRequestBodyBytes = 3 << 20
	}
	if cfg.WatchCacheSize <= 0 {
		cfg.WatchCacheSize = 10000
	}
	if cfg.ServiceClusterIPRange == "" {
		cfg.ServiceClusterIPRange = "10.96.0.0/12"
	}
	if cfg.ServiceNodePortRange == "" {
		cfg.ServiceNodePortRange = "30000-32767"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "apiserver"),
		store:     store.New(cfg.Etcd, "/registry", store.WithTransformer(cfg.Transformer)),
		registry:  cfg.Registry,
		authn:     cfg.Authn,
		authz:     cfg.Authz,
		admit:     cfg.Admission,
		kubelet:   newKubeletClient(cfg.KubeletTLS),
		resources: map[*api.Kind]*resource{},
		ctx:       ctx,
		started:   time.Now(),
		ready:     make(chan struct{}),
	}
	if s.registry == nil {
		s.registry = api.NewRegistry()
		if err := s.registry.Add(api.Builtin()...); err != nil {
			return nil, err
		}
	}
	if s.authn == nil {
		s.authn = allowAll{}
	}
	if s.authz == nil {
		s.authz = allowAll{}
	}
	if s.admit == nil {
		s.admit = allowAll{}
	}
	alloc, err := newAllocator(cfg.ServiceClusterIPRange, cfg.ServiceNodePortRange)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	s.alloc = alloc
	for _, k := range s.registry.All() {
		if _, err := s.resourceFor(ctx, k); err != nil {
			return nil, err
		}
	}
	if err := s.ensureSystemNamespaces(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureClusterDNSService(ctx); err != nil {
		return nil, err
	}
	// Custom resources defined before a restart are served from the first request on; the
	// controller then keeps following the definitions.
	s.crds = newCRDController(s)
	if err := s.crds.restore(ctx); err != nil {
		return nil, err
	}
	go s.crds.run(ctx)
	s.echo = s.routes()
	close(s.ready)
	return s, nil
}

// resourceFor returns the serving state of a kind, starting its watch cache on first use (kinds
// registered after start, such as custom resources, come up lazily).
func (s *Server) resourceFor(ctx context.Context, k *api.Kind) (*resource, error) {
	s.mu.RLock()
	r, ok := s.resources[k]
	s.mu.RUnlock()
	if ok {
		return r, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.resources[k]; ok {
		return r, nil
	}
	// A request may hold a kind that was unregistered meanwhile (its CRD deleted): it must
	// not bring the kind's cache back.
	if cur, ok := s.registry.Lookup(k.GroupVersion().WithResource(k.Resource)); !ok || cur != k {
		return nil, apierrors.NewNotFound(k.GroupResource(), "")
	}
	r = newResource(s, k)
	cctx, cancel := context.WithCancel(s.ctx)
	if err := r.cache.Start(cctx); err != nil {
		cancel()
		return nil, err
	}
	r.stop = cancel
	s.resources[k] = r
	return r, nil
}

// dropResource stops serving a kind that left the registry: its watch cache stops and the
// watches it serves end, so their clients re-list and find the kind gone (or changed).
func (s *Server) dropResource(k *api.Kind) {
	s.mu.Lock()
	r, ok := s.resources[k]
	delete(s.resources, k)
	s.mu.Unlock()
	if ok && r.stop != nil {
		r.stop()
	}
}

// Handler is the server's HTTP handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Run serves on cfg.Listen until ctx ends, then drains requests for up to 10 s. Watches are
// long-lived, so they are ended by cancelling their context rather than waited for.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("apiserver: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	serve := func() error { return srv.Serve(ln) }
	if s.cfg.TLS != nil {
		// HTTP/2 is negotiated by ALPN, as client-go and kubectl expect of a kube-apiserver.
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = s.cfg.TLS.Clone()
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	} else {
		// Without TLS, HTTP/2 for clients that speak it with prior knowledge: many requests
		// multiplexed on one connection, as clients get over TLS.
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go s.progressLoop(ctx)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	s.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("apiserver: %w", err)
	case <-ctx.Done():
	}
	cancelBase() // end watches and other long requests
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("apiserver: shutdown: %w", err)
	}
	return nil
}

// progressLoop asks etcd for progress notifications so watch caches of quiet resources advance
// their revision, which drives bookmarks and consistent reads from the cache.
func (s *Server) progressLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.store.RequestProgress(ctx)
		}
	}
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	var reg prometheus.Registerer = prometheus.DefaultRegisterer
	var gather prometheus.Gatherer = prometheus.DefaultGatherer
	if s.cfg.Metrics != nil {
		reg, gather = s.cfg.Metrics, s.cfg.Metrics
	}
	e.Use(s.recoverPanics)
	e.Use(newRequestMetrics(reg).middleware)
	e.Use(s.authenticate)
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			st := &metav1.Status{Status: metav1.StatusFailure, Code: int32(he.Code), Message: fmt.Sprint(he.Message), Reason: reasonForCode(he.Code)}
			writeStatus(c.Response(), st)
			return
		}
		writeStatus(c.Response(), statusFor(err, schema.GroupResource{}, ""))
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		e.GET(p, s.health)
		e.GET(p+"/*", s.health)
	}
	e.GET("/metrics", metricsHandler(gather))
	if s.cfg.Profiling {
		e.GET("/debug/pprof/*", echo.WrapHandler(http.HandlerFunc(servePprof)))
	}
	e.GET("/version", s.version)
	e.GET("/version/", s.version)
	e.GET("/api", s.discoveryCore)
	e.GET("/api/", s.discoveryCore)
	e.GET("/apis", s.discoveryGroups)
	e.GET("/apis/", s.discoveryGroups)
	e.GET("/openapi/v3", s.openAPIRoot)
	e.GET("/openapi/v3/*", s.openAPIGroupVersion)
	e.GET("/openapi/v2", s.openAPIv2)
	e.Any("/api/*", s.serveAPI)
	e.Any("/apis/*", s.serveAPI)
	e.RouteNotFound("/*", func(c echo.Context) error { return notFoundPath(c.Request().URL.Path) })
	return e
}

func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusRequestEntityTooLarge:
		return metav1.StatusReasonRequestEntityTooLarge
	case http.StatusUnsupportedMediaType:
		return metav1.StatusReasonUnsupportedMediaType
	}
	return metav1.StatusReasonUnknown
}

func (s *Server) health(c echo.Context) error {
	path := c.Request().URL.Path
	if strings.HasPrefix(path, "/readyz") {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if _, err := s.store.Revision(ctx); err != nil {
			return c.String(http.StatusServiceUnavailable, "[-]etcd failed: "+err.Error()+"\nreadyz check failed\n")
		}
	}
	if c.Request().URL.Query().Has("verbose") {
		return c.String(http.StatusOK, "[+]ping ok\n[+]etcd ok\n"+strings.TrimPrefix(path, "/")+" check passed\n")
	}
	return c.String(http.StatusOK, "ok")
}

// requestInfoKey holds a request's parsed RequestInfo in its echo context.
const requestInfoKey = "tug.requestInfo"

// serveAPI runs the request stages for every /api and /apis path.
func (s *Server) serveAPI(c echo.Context) error {
	req := c.Request()
	ri := parseRequestInfo(req)
	c.Set(requestInfoKey, ri)
	user := requestUser(req.Context())
	attrs := Attributes{User: user, Verb: ri.Verb, Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource,
		Subresource: ri.Subresource, Namespace: ri.Namespace, Name: ri.Name, ResourceRequest: ri.IsResourceRequest, Path: ri.Path}
	if err := s.authorize(req.Context(), attrs); err != nil {
		return err
	}
	if !ri.IsResourceRequest {
		return s.discoveryVersion(c, ri)
	}
	if review := reviewFor(ri); review != nil {
		if ri.Verb != "create" {
			return methodNotAllowed(ri.Verb, schema.GroupResource{Group: ri.APIGroup, Resource: ri.Resource})
		}
		return review(s, c, user)
	}
	gvr := schema.GroupVersionResource{Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource}
	kind, ok := s.registry.Lookup(gvr)
	if !ok {
		return notFoundPath(req.URL.Path)
	}
	res, err := s.resourceFor(req.Context(), kind)
	if err != nil {
		return err
	}
	rc := &reqCtx{c: c, r: req, w: c.Response(), ri: ri, user: user, res: res, kind: kind, s: s}
	rc.r = req.WithContext(context.WithValue(req.Context(), warningsKey{}, rc))
	return res.serve(rc)
}

// recoverPanics turns a panic in a handler into a 500 Status for that request alone, logged
// with its stack, so one bad request never takes the server down.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("handler panic", "method", c.Request().Method, "path", c.Request().URL.Path,
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = apierrors.NewInternalError(fmt.Errorf("internal error serving %s", c.Request().URL.Path))
			}
		}()
		return next(c)
	}
}
