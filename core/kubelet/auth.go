package kubelet

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/auth/user"
)

// Securing the kubelet API as kubelet does with --client-ca-file,
// --authentication-token-webhook and --authorization-mode=Webhook: a caller is authenticated
// by a client certificate of the cluster CA or by a bearer token the API server vouches for
// (TokenReview), and each request is authorized by the API server (SubjectAccessReview) as
// an action on the agent's Node: resource nodes, name the node, a subresource by path.

// Authorizer decides whether u may do what attrs describe.
type Authorizer interface {
	Authorize(ctx context.Context, u *user.Info, attrs authorizationv1.ResourceAttributes) (allowed bool, reason string, err error)
}

// requestAttributes are the attributes a request to the kubelet API is authorized as, in the
// order tried: the first allowed lets it through. They are kube's (pkg/kubelet/server/auth.go):
// verb from the HTTP method, resource nodes, subresource stats, metrics or log for those
// paths and proxy for every other — container logs and exec included, so nodes/proxy is the
// right that gives them. /pods is nodes/pods, or nodes/proxy for authorizers that predate it
// (kube's KubeletFineGrainedAuthz).
func requestAttributes(nodeName string, r *http.Request) []authorizationv1.ResourceAttributes {
	verb := ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		verb = "get"
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	if underPath(r.URL.Path, "/exec") || underPath(r.URL.Path, "/attach") || underPath(r.URL.Path, "/portforward") {
		// A websocket upgrade is a GET, but it runs commands: create, as the API server asks
		// of pods/exec, so that get on nodes/proxy (monitoring's right) is not exec.
		verb = "create"
	}
	base := authorizationv1.ResourceAttributes{Verb: verb, Version: "v1", Resource: "nodes", Name: nodeName, Subresource: "proxy"}
	with := func(sub string) authorizationv1.ResourceAttributes { a := base; a.Subresource = sub; return a }
	p := r.URL.Path
	switch {
	case underPath(p, "/stats"):
		return []authorizationv1.ResourceAttributes{with("stats")}
	case underPath(p, "/metrics"):
		return []authorizationv1.ResourceAttributes{with("metrics")}
	case underPath(p, "/logs"):
		return []authorizationv1.ResourceAttributes{with("log")}
	case underPath(p, "/pods"):
		return []authorizationv1.ResourceAttributes{with("pods"), base}
	}
	return []authorizationv1.ResourceAttributes{base}
}

// underPath says whether p is dir or below it.
func underPath(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// authFilter lets a request through to next when it is authenticated and authorized. /healthz
// stays open, as kubelet's. Refusals are kubelet's: 401 Unauthorized, 403 naming the
// attributes that were checked; the reason a credential failed goes to the log.
func (a *Agent) authFilter(authenticator authn.Authenticator, authz Authorizer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		u, ok, err := authenticator.Authenticate(r)
		if err != nil || !ok || u == nil {
			if err != nil {
				a.log.Info("kubelet API: authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			}
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := requestAttributes(a.cfg.NodeName, r)
		var subs []string
		for _, at := range attrs {
			allowed, reason, err := authz.Authorize(r.Context(), u, at)
			if err != nil {
				a.log.Warn("kubelet API: authorization failed", "path", r.URL.Path, "user", u.Name, "err", err)
				http.Error(w, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)", u.Name, at.Verb, at.Resource, at.Subresource), http.StatusInternalServerError)
				return
			}
			if allowed {
				next.ServeHTTP(w, r)
				return
			}
			a.log.Debug("kubelet API: forbidden", "path", r.URL.Path, "user", u.Name, "subresource", at.Subresource, "reason", reason)
			subs = append(subs, at.Subresource)
		}
		http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource(s)=%v)", u.Name, attrs[0].Verb, subs), http.StatusForbidden)
	})
}

// tokenReviewer authenticates bearer tokens with the API server (TokenReview), as kubelet's
// --authentication-token-webhook does.
type tokenReviewer struct{ client kubernetes.Interface }

func (t tokenReviewer) AuthenticateToken(ctx context.Context, token string) (*user.Info, bool, error) {
	review, err := t.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("token review: %w", err)
	}
	if !review.Status.Authenticated {
		if review.Status.Error != "" {
			return nil, false, fmt.Errorf("%w: %s", authn.ErrInvalidCredential, review.Status.Error)
		}
		return nil, false, fmt.Errorf("%w: token not recognised", authn.ErrInvalidCredential)
	}
	ru := review.Status.User
	u := &user.Info{Name: ru.Username, UID: ru.UID, Groups: ru.Groups}
	if len(ru.Extra) > 0 {
		u.Extra = make(map[string][]string, len(ru.Extra))
		for k, v := range ru.Extra {
			u.Extra[k] = v
		}
	}
	return u, true, nil
}

// accessReviewer authorizes with the API server (SubjectAccessReview), as kubelet's
// --authorization-mode=Webhook does.
type accessReviewer struct{ client kubernetes.Interface }

func (s accessReviewer) Authorize(ctx context.Context, u *user.Info, attrs authorizationv1.ResourceAttributes) (bool, string, error) {
	if u == nil {
		return false, "no user", nil
	}
	spec := authorizationv1.SubjectAccessReviewSpec{User: u.Name, UID: u.UID, Groups: u.Groups, ResourceAttributes: &attrs}
	if len(u.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			spec.Extra[k] = v
		}
	}
	review, err := s.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("subject access review: %w", err)
	}
	// As kubelet's webhook authorizer: an evaluation error is part of the reason for a no.
	reason := review.Status.Reason
	if review.Status.EvaluationError != "" {
		reason = strings.TrimSpace(reason + " (evaluation error: " + review.Status.EvaluationError + ")")
	}
	return review.Status.Allowed, reason, nil
}
