package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Reaching node agents (kubelet's API) for pods/log and pods/exec. With Config.KubeletTLS the
// server speaks HTTPS with its kubelet client certificate and checks the agent's serving
// certificate twice: it chains to the cluster CA for the address dialed, and it is the
// certificate of the pod's node (CN system:node:<name>, O system:nodes) — so an agent cannot
// answer for another node at an address it took over.

// kubeletNodeKey carries, in a request's context, the node whose agent the request is for.
type kubeletNodeKey struct{}

// newKubeletClient returns the client that reaches node agents. No overall timeout: a
// followed log streams for as long as the client keeps the request open.
func newKubeletClient(base *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	t := &http.Transport{DialContext: dialer.DialContext, ResponseHeaderTimeout: 30 * time.Second}
	if base != nil {
		// The node checked is per request, so the TLS connection is made here; connections
		// are not reused, since one verified for a node must not serve a request for another
		// node that later has the same address.
		t.DisableKeepAlives = true
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			node, _ := ctx.Value(kubeletNodeKey{}).(string)
			if node == "" {
				return nil, errors.New("apiserver: a kubelet request without its node")
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			cfg := base.Clone()
			cfg.ServerName = host
			cfg.NextProtos = []string{"http/1.1"} // exec upgrades the connection
			cfg.VerifyConnection = func(cs tls.ConnectionState) error { return checkKubeletCert(cs.PeerCertificates, node) }
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn := tls.Client(raw, cfg)
			if err := conn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return conn, nil
		}
	}
	return &http.Client{Transport: t}
}

// checkKubeletCert checks that the (already verified) serving certificate is node's.
func checkKubeletCert(chain []*x509.Certificate, node string) error {
	if len(chain) == 0 {
		return errors.New("the node agent presented no certificate")
	}
	c := chain[0]
	if c.Subject.CommonName != user.NodeUser(node) || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != user.NodesGroup {
		return fmt.Errorf("the node agent's certificate is for %q %q, not node %q", c.Subject.CommonName, c.Subject.Organization, node)
	}
	return nil
}

// kubeletURL is the URL of path on the agent of node, with query.
func (s *Server) kubeletURL(ctx context.Context, node, path string, query url.Values) (*url.URL, error) {
	nk, _ := s.registry.LookupKind(gvkNode)
	nodes, err := s.resourceFor(ctx, nk)
	if err != nil {
		return nil, err
	}
	nobj, _, err := nodes.get(ctx, "", node)
	if err != nil {
		return nil, err
	}
	n := nobj.(*corev1.Node)
	addr := ""
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			addr = a.Address
			break
		}
	}
	port := n.Status.DaemonEndpoints.KubeletEndpoint.Port
	if addr == "" || port == 0 {
		return nil, &statusErr{metav1.Status{Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
			Message: fmt.Sprintf("no node agent is serving node %q: logs and exec need a tug node agent on that node", node)}}
	}
	scheme := "http"
	if s.cfg.KubeletTLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(addr, strconv.Itoa(int(port))), Path: path, RawQuery: query.Encode()}, nil
}

// kubeletPodPath is an agent's path for a pod's container: /<api>/<ns>/<pod>/<container>.
func kubeletPodPath(api string, pod *corev1.Pod, container string) string {
	return "/" + api + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(container)
}

// kubeletRequest is a request to node's agent, carrying the node for the TLS check.
func kubeletRequest(ctx context.Context, method string, u *url.URL, node string) (*http.Request, error) {
	return http.NewRequestWithContext(withKubeletNode(ctx, node), method, u.String(), nil)
}

// withKubeletNode marks ctx as that of a request to node's agent, whose certificate the
// transport then requires to be that node's.
func withKubeletNode(ctx context.Context, node string) context.Context {
	return context.WithValue(ctx, kubeletNodeKey{}, node)
}

// kubeletUnavailable is the Status of an agent that could not be reached.
func kubeletUnavailable(node string, err error) error {
	return &statusErr{metav1.Status{Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf("the node agent of node %q does not answer: %v", node, err)}}
}

// kubeletError turns an agent's error answer into a Status.
func kubeletError(resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	code := resp.StatusCode
	reason := metav1.StatusReasonBadRequest
	switch {
	case code == http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		// The server's own credentials were refused: its problem, not the client's.
		reason, code = metav1.StatusReasonInternalError, http.StatusInternalServerError
		msg = []byte(fmt.Sprintf("the node agent refused the API server (%d): %s", resp.StatusCode, strings.TrimSpace(string(msg))))
	case code >= 500:
		reason = metav1.StatusReasonInternalError
	}
	return &statusErr{metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: strings.TrimSpace(string(msg))}}
}
