package apiserver

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// serveExec is pods/exec (kubectl exec): it checks the request, then proxies it — upgraded to
// a WebSocket that speaks kube's remote command protocol (v5.channel.k8s.io) — to the node
// agent's /exec, over the agent's authenticated connection (kubelet.go). The agent runs the
// command and reports its end on the protocol's error channel; the server only carries bytes.
// SPDY upgrades (kubectl 1.29 and older) are refused with a Status saying so, after the checks,
// so a newer kubectl that falls back to SPDY when the WebSocket fails still sees the real
// error first.
func (r *resource) serveExec(rc *reqCtx) error {
	ctx := rc.r.Context()
	// A WebSocket upgrade is a GET, which the request path authorized as get; as kube does
	// (AuthorizePodWebsocketUpgradeCreatePermission), exec also needs create.
	if rc.ri.Verb == "get" {
		a := Attributes{User: rc.user, Verb: "create", Group: rc.ri.APIGroup, Version: rc.ri.APIVersion, Resource: rc.ri.Resource,
			Subresource: rc.ri.Subresource, Namespace: rc.ri.Namespace, Name: rc.ri.Name, ResourceRequest: true, Path: rc.ri.Path}
		if err := rc.s.authorize(ctx, a); err != nil {
			return err
		}
	}
	pod, name, err := r.podAndContainer(rc)
	if err != nil {
		return err
	}
	q := rc.r.URL.Query()
	cmd := q["command"]
	switch {
	case len(cmd) == 0:
		return badRequest("you must specify at least one command for the container")
	case !isTrue(q.Get("stdin")) && !isTrue(q.Get("stdout")) && !isTrue(q.Get("stderr")):
		return badRequest("you must specify at least 1 of stdin, stdout, stderr")
	case isTrue(q.Get("tty")) && isTrue(q.Get("stderr")):
		return badRequest("tty and stderr cannot both be true")
	case pod.Spec.NodeName == "":
		return badRequest("pod %s is not yet scheduled to a node", pod.Name)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return badRequest("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	if up := rc.r.Header.Get("Upgrade"); !strings.EqualFold(up, "websocket") {
		return badRequest("exec needs a WebSocket upgrade (v5.channel.k8s.io); %q is not supported: use kubectl 1.30 or newer", up)
	}
	pass := url.Values{"command": cmd}
	for _, p := range []string{"stdin", "stdout", "stderr", "tty"} {
		if v := q.Get(p); v != "" {
			pass.Set(p, v)
		}
	}
	u, err := rc.s.kubeletURL(ctx, pod.Spec.NodeName, kubeletPodPath("exec", pod, name), pass)
	if err != nil {
		return err
	}
	node := pod.Spec.NodeName
	proxy := &httputil.ReverseProxy{
		Transport: rc.s.kubelet.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			to := *u
			pr.Out.URL, pr.Out.Host, pr.Out.Method = &to, to.Host, http.MethodGet
			pr.Out = pr.Out.WithContext(withKubeletNode(pr.Out.Context(), node))
			// Only what the WebSocket handshake needs goes on: the caller's credentials are
			// not the agent's business, the server's own certificate is.
			h := http.Header{}
			for k, v := range pr.In.Header {
				if strings.HasPrefix(http.CanonicalHeaderKey(k), "Sec-Websocket-") || k == "Upgrade" || k == "Connection" {
					h[k] = v
				}
			}
			pr.Out.Header = h
		},
		// An agent that does not upgrade answers with an error of its own: a Status for the
		// client, as pods/log's.
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusSwitchingProtocols {
				return kubeletError(resp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			var st *statusErr
			if !errors.As(err, &st) {
				err = kubeletUnavailable(node, err)
			}
			writeStatus(w, statusFor(err, r.gr, pod.Name))
		},
	}
	proxy.ServeHTTP(rc.w, rc.r)
	return nil
}
