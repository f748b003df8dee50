package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/labstack/echo/v4"

	"github.com/tugboat-io/tug/core/api"
)

// serveSubresource serves status, scale, binding, log, module, finalize, approval and token.
func (r *resource) serveSubresource(rc *reqCtx) error {
	switch rc.ri.Subresource {
	case api.SubStatus:
		return r.serveStatus(rc, onlyStatus)
	case api.SubScale:
		return r.serveScale(rc)
	case api.SubBinding:
		if rc.ri.Verb != "create" {
			return methodNotAllowed(rc.ri.Verb, r.gr)
		}
		return r.serveBinding(rc)
	case api.SubLog:
		if rc.ri.Verb != "get" {
			return methodNotAllowed(rc.ri.Verb, r.gr)
		}
		return r.serveLog(rc)
	case api.SubExec:
		if rc.ri.Verb != "get" && rc.ri.Verb != "create" {
			return methodNotAllowed(rc.ri.Verb, r.gr)
		}
		return r.serveExec(rc)
	case api.SubModule:
		return r.serveModule(rc)
	case api.SubFinalize:
		if rc.ri.Verb != "update" {
			return methodNotAllowed(rc.ri.Verb, r.gr)
		}
		return r.serveFinalize(rc)
	case api.SubToken:
		return r.serveToken(rc)
	case api.SubApproval:
		// What an approval may change is the kind's rule (its approval UpdateStrategy); a
		// kind without one would have the whole object written through this path.
		if r.kind.Updates[api.SubApproval].Prepare == nil {
			return notFoundPath(rc.ri.Path)
		}
		return r.serveStatus(rc, func(_, next runtime.Object) runtime.Object { return next.DeepCopyObject() })
	}
	return notFoundPath(rc.ri.Path)
}

// onlyStatus is the status subresource's write: the stored object with the request's status
// and resourceVersion (none means unconditional).
func onlyStatus(cur, next runtime.Object) runtime.Object {
	out := cur.DeepCopyObject()
	copyStatus(out, next)
	accessor(out).SetResourceVersion(accessor(next).GetResourceVersion())
	return out
}

// serveStatus serves the status subresource, and the approval subresource the same way: get
// returns the whole object; update and patch write what take keeps of the request's object
// (given the stored one), and the kind's UpdateStrategy for the path narrows it further.
func (r *resource) serveStatus(rc *reqCtx, take func(cur, next runtime.Object) runtime.Object) error {
	ctx := rc.r.Context()
	ns, name := rc.ri.Namespace, rc.ri.Name
	switch rc.ri.Verb {
	case "get":
		obj, _, err := r.get(ctx, ns, name)
		if err != nil {
			return err
		}
		return rc.respond(http.StatusOK, obj)
	case "update", "patch":
	default:
		return methodNotAllowed(rc.ri.Verb, r.gr)
	}
	opts, err := rc.writeOpts()
	if err != nil {
		return err
	}
	var fn updateFunc
	if rc.ri.Verb == "update" {
		obj, err := rc.decodeRequest()
		if err != nil {
			return err
		}
		if accessor(obj).GetName() != name {
			return badRequest("the name of the object (%s) does not match the name on the URL (%s)", accessor(obj).GetName(), name)
		}
		fn = func(cur runtime.Object) (runtime.Object, error) { return take(cur, obj), nil }
	} else {
		fv, err := parseFieldValidation(rc.r)
		if err != nil {
			return err
		}
		body, err := readBody(rc.r, rc.s.cfg.MaxRequestBodyBytes)
		if err != nil {
			return err
		}
		fn = func(cur runtime.Object) (runtime.Object, error) {
			next, w, err := r.applyPatch(cur.DeepCopyObject(), mediaTypeOf(rc.r), body, fv)
			rc.warnings = append(rc.warnings, w...)
			if err != nil {
				return nil, err
			}
			return take(cur, next), nil
		}
	}
	out, _, err := r.update(ctx, ns, name, fn, opts, nil)
	if err != nil {
		return err
	}
	return rc.respond(http.StatusOK, out)
}

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

func (r *resource) scaleOf(obj runtime.Object) *autoscalingv1.Scale {
	m := accessor(obj)
	spec, status, sel := r.kind.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}
}

// serveScale adapts the kind to autoscaling/v1 Scale; writes change only spec.replicas.
func (r *resource) serveScale(rc *reqCtx) error {
	if r.kind.Scale == nil {
		return notFoundPath(rc.ri.Path)
	}
	ctx := rc.r.Context()
	ns, name := rc.ri.Namespace, rc.ri.Name
	writeScale := func(code int, sc *autoscalingv1.Scale) error {
		rc.flushWarnings()
		b, err := encodeJSON(sc, scaleGVK)
		if err != nil {
			return err
		}
		writeJSON(rc.w, code, b)
		return nil
	}
	switch rc.ri.Verb {
	case "get":
		obj, _, err := r.get(ctx, ns, name)
		if err != nil {
			return err
		}
		return writeScale(http.StatusOK, r.scaleOf(obj))
	case "update", "patch":
	default:
		return methodNotAllowed(rc.ri.Verb, r.gr)
	}
	opts, fv, body, err := rc.writeInput()
	if err != nil {
		return err
	}
	opts.subresource = ""
	media := mediaTypeOf(rc.r)
	fn := func(cur runtime.Object) (runtime.Object, error) {
		curScale := r.scaleOf(cur)
		var want *autoscalingv1.Scale
		if rc.ri.Verb == "update" {
			want = &autoscalingv1.Scale{}
			w, err := decodeBody(body, media, want, scaleGVK, fv)
			if err != nil {
				return nil, err
			}
			rc.warnings = append(rc.warnings, w...)
		} else {
			sr := &resource{kind: &api.Kind{GVK: scaleGVK, New: func() runtime.Object { return &autoscalingv1.Scale{} }}}
			next, w, err := sr.applyPatch(curScale.DeepCopy(), media, body, fv)
			if err != nil {
				return nil, err
			}
			rc.warnings = append(rc.warnings, w...)
			want = next.(*autoscalingv1.Scale)
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, name,
				field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
		}
		if want.ResourceVersion != "" && want.ResourceVersion != curScale.ResourceVersion {
			return nil, apierrors.NewConflict(r.gr, name, fmt.Errorf("%s", conflictMessage))
		}
		next := cur.DeepCopyObject()
		accessor(next).SetResourceVersion("")
		r.kind.Scale.Set(next, want.Spec.Replicas)
		return next, nil
	}
	out, _, err := r.update(ctx, ns, name, fn, opts, nil)
	if err != nil {
		return err
	}
	return writeScale(http.StatusOK, r.scaleOf(out))
}

// serveBinding assigns a pod to a node, once: binding a bound pod is a Conflict.
func (r *resource) serveBinding(rc *reqCtx) error {
	opts, fv, body, err := rc.writeInput()
	if err != nil {
		return err
	}
	b := &corev1.Binding{}
	if _, err := decodeBody(body, mediaTypeOf(rc.r), b, corev1.SchemeGroupVersion.WithKind("Binding"), fv); err != nil {
		return err
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name,
			field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name,
			field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node"})})
	}
	name := rc.ri.Name
	_, _, err = r.update(rc.r.Context(), rc.ri.Namespace, name, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(r.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(r.gr, name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(r.gr, name, fmt.Errorf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodScheduled(pod)
		pod.ResourceVersion = ""
		return pod, nil
	}, writeOptions{user: opts.user, dryRun: opts.dryRun, subresource: api.SubBinding}, nil)
	if err != nil {
		return err
	}
	st := &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}
	writeStatus(rc.w, st)
	return nil
}

func setPodScheduled(pod *corev1.Pod) {
	now := metav1.Now().Rfc3339Copy()
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			pod.Status.Conditions[i].Status = corev1.ConditionTrue
			pod.Status.Conditions[i].LastTransitionTime = now
			pod.Status.Conditions[i].Reason, pod.Status.Conditions[i].Message = "", ""
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now})
}

// serveLog streams a container's log from the node agent of the pod's node (kubelet's
// /containerLogs API), passing the log options through; with follow, lines reach the client
// as the agent sends them.
func (r *resource) serveLog(rc *reqCtx) error {
	ctx := rc.r.Context()
	pod, name, err := r.podAndContainer(rc)
	if err != nil {
		return err
	}
	q := rc.r.URL.Query()
	if pod.Spec.NodeName == "" {
		return badRequest("pod %s is not yet scheduled to a node: no logs to show", pod.Name)
	}
	for _, p := range []string{"tailLines", "limitBytes", "sinceSeconds"} {
		if v := q.Get(p); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 || (n == 0 && p != "tailLines") {
				return badRequest("%s: %q must be a positive integer", p, v)
			}
		}
	}
	if q.Get("sinceSeconds") != "" && q.Get("sinceTime") != "" {
		return badRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	pass := url.Values{}
	for _, p := range []string{"follow", "previous", "tailLines", "limitBytes", "sinceSeconds", "sinceTime", "timestamps"} {
		if v := q.Get(p); v != "" {
			pass.Set(p, v)
		}
	}
	u, err := r.s.kubeletURL(ctx, pod.Spec.NodeName, kubeletPodPath("containerLogs", pod, name), pass)
	if err != nil {
		return err
	}
	req, err := kubeletRequest(ctx, http.MethodGet, u, pod.Spec.NodeName)
	if err != nil {
		return err
	}
	resp, err := r.s.kubelet.Do(req)
	if err != nil {
		return kubeletUnavailable(pod.Spec.NodeName, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return kubeletError(resp)
	}
	rc.w.Header().Set(echo.HeaderContentType, "text/plain; charset=utf-8")
	rc.w.WriteHeader(http.StatusOK)
	rc.w.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := rc.w.Write(buf[:n]); werr != nil {
				return nil
			}
			rc.w.Flush()
		}
		if err != nil {
			return nil
		}
	}
}

// podAndContainer reads the pod a pods/log or pods/exec request is for, and the container it
// names (the query's container) or the pod's default one.
func (r *resource) podAndContainer(rc *reqCtx) (*corev1.Pod, string, error) {
	obj, _, err := r.get(rc.r.Context(), rc.ri.Namespace, rc.ri.Name)
	if err != nil {
		return nil, "", err
	}
	pod := obj.(*corev1.Pod)
	name, err := podContainer(pod, rc.r.URL.Query().Get("container"))
	return pod, name, err
}

// podContainer is the container a request names, or the pod's default one (the annotation
// kubectl.kubernetes.io/default-container, or its only container).
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch {
		case pod.Annotations["kubectl.kubernetes.io/default-container"] != "":
			name = pod.Annotations["kubectl.kubernetes.io/default-container"]
		case len(pod.Spec.Containers) == 1:
			name = pod.Spec.Containers[0].Name
		default:
			names := make([]string, 0, len(pod.Spec.Containers))
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return "", badRequest("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
		}
	}
	if !podHasContainer(pod, name) {
		return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
	}
	return name, nil
}

func podHasContainer(pod *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == name {
				return true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// serveFinalize updates a namespace's spec.finalizers only; when they are gone from a
// terminating namespace, the namespace is deleted.
func (r *resource) serveFinalize(rc *reqCtx) error {
	opts, err := rc.writeOpts()
	if err != nil {
		return err
	}
	obj, err := rc.decodeRequest()
	if err != nil {
		return err
	}
	want := obj.(*corev1.Namespace)
	out, _, err := r.update(rc.r.Context(), "", rc.ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		ns := cur.(*corev1.Namespace)
		ns.Spec.Finalizers = want.Spec.Finalizers
		ns.ResourceVersion = want.ResourceVersion
		return ns, nil
	}, opts, nil)
	if err != nil {
		return err
	}
	return rc.respond(http.StatusOK, out)
}
