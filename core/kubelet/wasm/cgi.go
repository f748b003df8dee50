package wasm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// maxResponse bounds what one CGI instance may write as its response.
const maxResponse = 64 << 20

// serve listens on the pod's address and each port, and answers every request with a fresh
// instance of the module (CGI/1.1, RFC 3875).
func (r *Runtime) serve(c *wasmContainer, sb container.Sandbox, ports []int32, rt wazero.Runtime, compiled wazero.CompiledModule, base wazero.ModuleConfig) error {
	var lns []net.Listener
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(sb.IP.String(), strconv.Itoa(int(p))))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen on port %d: %w", p, err)
		}
		lns = append(lns, ln)
	}
	sem := make(chan struct{}, r.cfg.MaxConcurrentRequests)
	c.lns = lns
	c.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			select {
			case sem <- struct{}{}:
			case <-req.Context().Done():
				return
			}
			defer func() { <-sem }()
			r.handle(w, req, c, rt, compiled, base)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan struct{}, len(lns))
	for _, ln := range lns {
		go func() {
			_ = c.server.Serve(ln)
			served <- struct{}{}
		}()
	}
	go func() {
		for range lns {
			<-served
		}
		c.exited(0, "Completed", "")
		c.logf.Close()
		close(c.done)
	}()
	return nil
}

// handle runs one instance for one request.
func (r *Runtime) handle(w http.ResponseWriter, req *http.Request, c *wasmContainer, rt wazero.Runtime, compiled wazero.CompiledModule, base wazero.ModuleConfig) {
	var out bytes.Buffer
	mc := base.WithStdin(req.Body).WithStdout(&limitWriter{w: &out, n: maxResponse})
	for k, v := range cgiEnv(req) {
		mc = mc.WithEnv(k, v)
	}
	mod, err := rt.InstantiateModule(req.Context(), compiled, mc)
	if mod != nil {
		mod.Close(context.Background())
	}
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		fmt.Fprintf(c.logf.Stream("stderr"), "wasm: %s %s: %v\n", req.Method, req.URL.RequestURI(), err)
		http.Error(w, "the module failed to answer", http.StatusBadGateway)
		return
	}
	if err := writeCGIResponse(w, &out); err != nil {
		fmt.Fprintf(c.logf.Stream("stderr"), "wasm: %s %s: %v\n", req.Method, req.URL.RequestURI(), err)
		http.Error(w, "the module's answer is not a CGI response", http.StatusBadGateway)
	}
}

// cgiEnv is the request's meta-variables (RFC 3875 §4.1), with every header as HTTP_*.
func cgiEnv(req *http.Request) map[string]string {
	host, port, _ := net.SplitHostPort(req.Host)
	if host == "" {
		host = req.Host
	}
	laddr, _ := req.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if laddr != nil {
		if _, p, err := net.SplitHostPort(laddr.String()); err == nil {
			port = p
		}
	}
	raddr, rport, _ := net.SplitHostPort(req.RemoteAddr)
	env := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "tug",
		"SERVER_NAME":       host,
		"SERVER_PORT":       port,
		"SERVER_PROTOCOL":   req.Proto,
		"REQUEST_METHOD":    req.Method,
		"REQUEST_URI":       req.URL.RequestURI(),
		"SCRIPT_NAME":       "",
		"PATH_INFO":         req.URL.Path,
		"QUERY_STRING":      req.URL.RawQuery,
		"REMOTE_ADDR":       raddr,
		"REMOTE_HOST":       raddr,
		"REMOTE_PORT":       rport,
		"HTTP_HOST":         req.Host,
	}
	if req.ContentLength >= 0 && (req.ContentLength > 0 || req.Body != http.NoBody) {
		env["CONTENT_LENGTH"] = strconv.FormatInt(req.ContentLength, 10)
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		env["CONTENT_TYPE"] = ct
	}
	for k, vs := range req.Header {
		k = strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if k == "PROXY" {
			continue // httpoxy: never hand a client's Proxy header on as HTTP_PROXY
		}
		env["HTTP_"+k] = strings.Join(vs, ", ")
	}
	return env
}

// writeCGIResponse turns a CGI response (header lines, a blank line, the body) into the HTTP
// response.
func writeCGIResponse(w http.ResponseWriter, out *bytes.Buffer) error {
	tp := textproto.NewReader(bufio.NewReader(out))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(hdr) > 0) {
		return fmt.Errorf("read response header: %w", err)
	}
	code := http.StatusOK
	if s := hdr.Get("Status"); s != "" {
		n, _, _ := strings.Cut(s, " ")
		if code, err = strconv.Atoi(n); err != nil || code < 100 || code > 999 {
			return fmt.Errorf("bad Status %q", s)
		}
		hdr.Del("Status")
	} else if hdr.Get("Location") != "" {
		code = http.StatusFound
	}
	if len(hdr) == 0 {
		return errors.New("no header")
	}
	for k, vs := range hdr {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(code)
	_, err = io.Copy(w, tp.R)
	return err
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errors.New("response too large")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}
