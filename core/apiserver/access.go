package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tugboat-io/tug/core/api"
)

// userKey holds the authenticated user in a request's context.
type userKey struct{}

// requestUser is the user the authenticate middleware found for the request.
func requestUser(ctx context.Context) *UserInfo {
	u, _ := ctx.Value(userKey{}).(*UserInfo)
	return u
}

// unauthenticated are the paths anyone may read: load balancers and kubelets probe health
// without credentials, as kube-apiserver lets them (system:public-info-viewer).
func unauthenticated(path string) bool {
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// authenticate runs before every handler: it finds who sent the request or answers 401, and
// authorizes the paths that are not resources (discovery, /version, /openapi, /metrics); the
// API paths are authorized in serveAPI, which knows the resource.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if unauthenticated(req.URL.Path) {
			return next(c)
		}
		u, ok, err := s.authn.Authenticate(req)
		if err != nil || !ok || u == nil {
			// The reason stays in the log: telling a caller why its token failed helps an
			// attacker more than it helps the caller.
			if err != nil {
				s.log.Info("authentication failed", "path", req.URL.Path, "remote", req.RemoteAddr, "err", err)
			}
			return apierrors.NewUnauthorized("Unauthorized")
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), userKey{}, u)))
		if p := c.Path(); p != "/api/*" && p != "/apis/*" {
			attrs := Attributes{User: u, Verb: strings.ToLower(req.Method), Path: req.URL.Path}
			if err := s.authorize(req.Context(), attrs); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// Guard puts next, a handler its process serves beside the API (the scheduler's explain
// endpoint), behind the server's own authentication and authorization. attrs says what a
// request asks to do (its User is filled in here), or false for a path anyone may read.
// Refusals are the Statuses the API answers: 401, 403, or 404 when attrs names no target.
func (s *Server) Guard(next http.Handler, attrs func(*http.Request) (Attributes, bool, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, guarded, err := attrs(r)
		if !guarded && err == nil {
			next.ServeHTTP(w, r)
			return
		}
		u, ok, aerr := s.authn.Authenticate(r)
		if aerr != nil || !ok || u == nil {
			writeStatus(w, statusOf(apierrors.NewUnauthorized("Unauthorized")))
			return
		}
		if err == nil {
			a.User = u
			err = s.authorize(r.Context(), a)
		}
		if err != nil {
			writeStatus(w, statusFor(err, schema.GroupResource{}, ""))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize returns nil when the request may proceed, or the Status error to answer.
func (s *Server) authorize(ctx context.Context, a Attributes) error {
	allowed, reason, err := s.authz.Authorize(ctx, a)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if allowed {
		return nil
	}
	if !a.ResourceRequest {
		return apierrors.NewGenericServerResponse(http.StatusForbidden, a.Verb, schema.GroupResource{}, "", reason, 0, false)
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.Group, Resource: a.Resource}, a.Name, errors.New(reason))
}

// A review is a create-only resource that stores nothing: the server answers it from the
// request alone (who am I, may I).
type review func(s *Server, c echo.Context, u *UserInfo) error

// reviewFor returns the handler of a review resource, or nil.
func reviewFor(ri *RequestInfo) review {
	if ri.Subresource != "" || ri.Name != "" {
		return nil
	}
	switch {
	case ri.APIGroup == authorizationv1.GroupName && ri.Resource == "selfsubjectaccessreviews":
		return selfSubjectAccessReview
	case ri.APIGroup == authorizationv1.GroupName && ri.Resource == "selfsubjectrulesreviews":
		return selfSubjectRulesReview
	case ri.APIGroup == authenticationv1.GroupName && ri.Resource == "selfsubjectreviews":
		return selfSubjectReview
	case ri.APIGroup == authorizationv1.GroupName && ri.Resource == "subjectaccessreviews":
		return subjectAccessReview
	case ri.APIGroup == authenticationv1.GroupName && ri.Resource == "tokenreviews":
		return tokenReview
	}
	return nil
}

func init() {
	// The review kinds are not stored kinds, so core/api's table does not hold them; the
	// scheme must still know them to decode requests and encode answers in every format.
	utilruntime.Must(authorizationv1.AddToScheme(api.Scheme))
	utilruntime.Must(authenticationv1.AddToScheme(api.Scheme))
}

// decodeReview reads a review's body (serveAPI lets only creates through) into into, whose
// kind is gvk.
func (s *Server) decodeReview(c echo.Context, into runtime.Object, gvk schema.GroupVersionKind) error {
	req := c.Request()
	body, err := readBody(req, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		return err
	}
	_, err = decodeBody(body, mediaTypeOf(req), into, gvk, fvStrict)
	return err
}

// answerCreated writes the answer of a create that stores nothing (a review, a token) as
// JSON or protobuf, as the client asked.
func answerCreated(c echo.Context, obj runtime.Object, gvk schema.GroupVersionKind) error {
	out, ok := negotiate(c.Request())
	if !ok {
		return notAcceptable()
	}
	if out == outProtobuf {
		return writeProtobuf(c.Response(), http.StatusCreated, obj, gvk)
	}
	b, err := encodeJSON(obj, gvk)
	if err != nil {
		return err
	}
	writeJSON(c.Response(), http.StatusCreated, b)
	return nil
}

// selfSubjectAccessReview answers "may I?" (kubectl auth can-i) with the same authorizer
// the request path uses, for the requesting user.
func selfSubjectAccessReview(s *Server, c echo.Context, u *UserInfo) error {
	gvk := authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview")
	review := &authorizationv1.SelfSubjectAccessReview{}
	if err := s.decodeReview(c, review, gvk); err != nil {
		return err
	}
	a, err := reviewAttributes(gvk, u, review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	if err != nil {
		return err
	}
	review.Status = s.decide(c.Request().Context(), a)
	return answerCreated(c, review, gvk)
}

// selfSubjectRulesReview answers "what may I do in this namespace?" (kubectl auth can-i
// --list) from the rules that allow the requesting user.
func selfSubjectRulesReview(s *Server, c echo.Context, u *UserInfo) error {
	gvk := authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectRulesReview")
	review := &authorizationv1.SelfSubjectRulesReview{}
	if err := s.decodeReview(c, review, gvk); err != nil {
		return err
	}
	if review.Spec.Namespace == "" {
		return apierrors.NewInvalid(gvk.GroupKind(), "", field.ErrorList{field.Required(field.NewPath("spec", "namespace"), "the namespace to list rules in")})
	}
	review.Status = authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{}, NonResourceRules: []authorizationv1.NonResourceRule{}, Incomplete: true}
	if s.cfg.Rules != nil {
		st, err := s.cfg.Rules.RulesFor(c.Request().Context(), u, review.Spec.Namespace)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		review.Status = st
	}
	return answerCreated(c, review, gvk)
}

// subjectAccessReview answers "may this user?" for whoever may create subjectaccessreviews
// (system:auth-delegator, node agents): how a node agent authorizes the callers of its API
// with the cluster's authorizers, as kubelet's --authorization-mode=Webhook does.
func subjectAccessReview(s *Server, c echo.Context, _ *UserInfo) error {
	gvk := authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview")
	review := &authorizationv1.SubjectAccessReview{}
	if err := s.decodeReview(c, review, gvk); err != nil {
		return err
	}
	spec := review.Spec
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(review.ObjectMeta, metav1.ObjectMeta{}) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), review.ObjectMeta, "must be empty"))
	}
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gvk.GroupKind(), "", errs)
	}
	who := &UserInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if len(spec.Extra) > 0 {
		who.Extra = make(map[string][]string, len(spec.Extra))
		for k, v := range spec.Extra {
			who.Extra[k] = v
		}
	}
	a, err := reviewAttributes(gvk, who, spec.ResourceAttributes, spec.NonResourceAttributes)
	if err != nil {
		return err
	}
	review.Status = s.decide(c.Request().Context(), a)
	return answerCreated(c, review, gvk)
}

// reviewAttributes are the attributes an access review asks about, for user u: exactly one
// of resource and non-resource attributes.
func reviewAttributes(gvk schema.GroupVersionKind, u *UserInfo, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) (Attributes, error) {
	if (ra == nil) == (nra == nil) {
		return Attributes{}, apierrors.NewInvalid(gvk.GroupKind(), "", field.ErrorList{field.Invalid(field.NewPath("spec"), "",
			"exactly one of nonResourceAttributes or resourceAttributes must be specified")})
	}
	a := Attributes{User: u}
	if ra != nil {
		a.ResourceRequest = true
		a.Verb, a.Group, a.Version, a.Resource = ra.Verb, ra.Group, ra.Version, ra.Resource
		a.Subresource, a.Namespace, a.Name = ra.Subresource, ra.Namespace, ra.Name
	} else {
		a.Verb, a.Path = nra.Verb, nra.Path
	}
	return a, nil
}

// decide runs the authorizers for a review. An authorizer's error is the review's
// evaluationError, and the answer is then no.
func (s *Server) decide(ctx context.Context, a Attributes) authorizationv1.SubjectAccessReviewStatus {
	allowed, reason, err := s.authz.Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: allowed && err == nil, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// tokenReview answers "whose token is this?" for whoever may create tokenreviews: how a node
// agent authenticates bearer tokens with the cluster's authenticators, as kubelet's
// --authentication-token-webhook does. The token is authenticated exactly as a request
// carrying it would be. Tokens are good for the API server's audiences (Config.APIAudiences);
// a review naming others gets those it shares with them, and none is a failure.
func tokenReview(s *Server, c echo.Context, _ *UserInfo) error {
	gvk := authenticationv1.SchemeGroupVersion.WithKind("TokenReview")
	review := &authenticationv1.TokenReview{}
	if err := s.decodeReview(c, review, gvk); err != nil {
		return err
	}
	if review.Spec.Token == "" {
		return apierrors.NewInvalid(gvk.GroupKind(), "", field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
	}
	audiences := s.cfg.APIAudiences
	if len(review.Spec.Audiences) > 0 {
		audiences = nil
		for _, want := range review.Spec.Audiences {
			if slices.Contains(s.cfg.APIAudiences, want) {
				audiences = append(audiences, want)
			}
		}
		if len(audiences) == 0 {
			review.Status = authenticationv1.TokenReviewStatus{
				Error: fmt.Sprintf("token audiences %q is invalid for the target audiences %q", s.cfg.APIAudiences, review.Spec.Audiences)}
			return answerCreated(c, review, gvk)
		}
	}
	req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodGet, "/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+review.Spec.Token)
	u, ok, err := s.authn.Authenticate(req)
	review.Status = authenticationv1.TokenReviewStatus{Authenticated: ok && err == nil && u != nil}
	if err != nil {
		review.Status.Error = err.Error()
	}
	if review.Status.Authenticated {
		review.Status.Audiences = audiences
		review.Status.User = authenticationUserInfo(u)
	}
	return answerCreated(c, review, gvk)
}

func authenticationUserInfo(u *UserInfo) authenticationv1.UserInfo {
	out := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		out.Extra = make(map[string]authenticationv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			out.Extra[k] = v
		}
	}
	return out
}

// selfSubjectReview answers "who am I?" (kubectl auth whoami).
func selfSubjectReview(s *Server, c echo.Context, u *UserInfo) error {
	gvk := authenticationv1.SchemeGroupVersion.WithKind("SelfSubjectReview")
	review := &authenticationv1.SelfSubjectReview{}
	if err := s.decodeReview(c, review, gvk); err != nil {
		return err
	}
	review.Status.UserInfo = authenticationUserInfo(u)
	return answerCreated(c, review, gvk)
}
