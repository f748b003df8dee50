package apiserver

import (
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tugboat-io/tug/core/auth/authn"
)

// TokenIssuer signs service account tokens (authn.Signer), for the serviceaccounts/token
// subresource.
type TokenIssuer interface {
	Issue(req authn.TokenRequest) (string, time.Time, error)
}

// Bounds of a requested token's lifetime, kube's: at least ten minutes; kubelets ask for an
// hour and refresh at 80%.
const (
	minTokenExpiration     = 10 * time.Minute
	defaultTokenExpiration = time.Hour
)

var gkTokenRequest = schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenRequest"}

// serveToken is TokenRequest (POST serviceaccounts/NAME/token): a signed token for the service
// account, bound to a pod (or node) when the request says so, so that it dies with it.
func (r *resource) serveToken(rc *reqCtx) error {
	if rc.ri.Verb != "create" {
		return methodNotAllowed(rc.ri.Verb, r.gr)
	}
	issuer := rc.s.cfg.TokenIssuer
	if issuer == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts/token"}, rc.ri.Name)
	}
	_, fv, body, err := rc.writeInput()
	if err != nil {
		return err
	}
	tr := &authenticationv1.TokenRequest{}
	gvk := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	if _, err := decodeBody(body, mediaTypeOf(rc.r), tr, gvk, fv); err != nil {
		return err
	}
	ctx := rc.r.Context()
	ns, name := rc.ri.Namespace, rc.ri.Name
	obj, _, err := r.get(ctx, ns, name)
	if err != nil {
		return err
	}
	sa := obj.(*corev1.ServiceAccount)
	spec := field.NewPath("spec")
	ttl := defaultTokenExpiration
	if tr.Spec.ExpirationSeconds != nil {
		ttl = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
		if ttl < minTokenExpiration {
			return apierrors.NewInvalid(gkTokenRequest, name, field.ErrorList{field.Invalid(spec.Child("expirationSeconds"),
				*tr.Spec.ExpirationSeconds, "may not specify a duration less than 10 minutes")})
		}
	}
	req := authn.TokenRequest{Namespace: ns, ServiceAccount: authn.ObjectRef{Name: sa.Name, UID: sa.UID},
		Audiences: tr.Spec.Audiences, Expiration: ttl}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		refPath := spec.Child("boundObjectRef")
		switch ref.Kind {
		case "Pod":
			pod, err := rc.s.ObjectReader().Get(ctx, corev1.SchemeGroupVersion.WithKind("Pod"), ns, ref.Name)
			if err != nil {
				return err
			}
			p, _ := pod.(*corev1.Pod)
			if p == nil || (ref.UID != "" && ref.UID != p.UID) {
				return apierrors.NewInvalid(gkTokenRequest, name, field.ErrorList{field.NotFound(refPath, fmt.Sprintf("pod %s/%s (uid %q)", ns, ref.Name, ref.UID))})
			}
			if saName := p.Spec.ServiceAccountName; saName != sa.Name && !(saName == "" && sa.Name == "default") {
				return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa.Name))
			}
			req.Pod = &authn.ObjectRef{Name: p.Name, UID: p.UID}
			if p.Spec.NodeName != "" {
				if node, err := rc.s.ObjectReader().Get(ctx, corev1.SchemeGroupVersion.WithKind("Node"), "", p.Spec.NodeName); err == nil && node != nil {
					n := node.(*corev1.Node)
					req.Node = &authn.ObjectRef{Name: n.Name, UID: n.UID}
				}
			}
		case "Node":
			node, err := rc.s.ObjectReader().Get(ctx, corev1.SchemeGroupVersion.WithKind("Node"), "", ref.Name)
			if err != nil {
				return err
			}
			n, _ := node.(*corev1.Node)
			if n == nil || (ref.UID != "" && ref.UID != n.UID) {
				return apierrors.NewInvalid(gkTokenRequest, name, field.ErrorList{field.NotFound(refPath, fmt.Sprintf("node %s (uid %q)", ref.Name, ref.UID))})
			}
			req.Node = &authn.ObjectRef{Name: n.Name, UID: n.UID}
		default:
			return apierrors.NewInvalid(gkTokenRequest, name, field.ErrorList{field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Pod", "Node"})})
		}
	}
	token, exp, err := issuer.Issue(req)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	tr.ObjectMeta = metav1.ObjectMeta{Name: sa.Name, Namespace: ns, CreationTimestamp: metav1.Now().Rfc3339Copy()}
	tr.Spec.ExpirationSeconds = ptrTo(int64(ttl / time.Second))
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	return answerCreated(rc.c, tr, gvk)
}

func ptrTo[T any](v T) *T { return &v }
