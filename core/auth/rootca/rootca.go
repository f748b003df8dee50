package rootca

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Name and Key of the published ConfigMap, kube's.
const (
	Name = "kube-root-ca.crt"
	Key  = "ca.crt"
)

// Publisher keeps kube-root-ca.crt in every active namespace.
type Publisher struct {
	Client kubernetes.Interface
	CAPEM  []byte
	Logger *slog.Logger
}

// Run publishes until ctx ends. A namespace is handled when it appears and whenever its
// ConfigMap is changed or deleted, so an edit is undone.
func (p *Publisher) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(p.Client, 10*time.Minute)
	nsInf := factory.Core().V1().Namespaces().Informer()
	cmInf := factory.InformerFor(&corev1.ConfigMap{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewFilteredConfigMapInformer(c, metav1.NamespaceAll, resync, cache.Indexers{}, func(o *metav1.ListOptions) {
			o.FieldSelector = "metadata.name=" + Name
		})
	})
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer q.ShutDown()
	if _, err := nsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { enqueueNamespace(q, obj) },
		UpdateFunc: func(_, obj any) { enqueueNamespace(q, obj) },
	}); err != nil {
		return err
	}
	cmChanged := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			q.Add(cm.Namespace)
		}
	}
	if _, err := cmInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { cmChanged(obj) }, DeleteFunc: cmChanged,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nsInf.HasSynced, cmInf.HasSynced) {
		return ctx.Err()
	}
	go func() { <-ctx.Done(); q.ShutDown() }()
	for {
		ns, quit := q.Get()
		if quit {
			return nil
		}
		if err := p.sync(ctx, ns); err != nil {
			p.Logger.Warn("publish the cluster CA", "component", "rootca", "namespace", ns, "err", err)
			q.AddRateLimited(ns)
		} else {
			q.Forget(ns)
		}
		q.Done(ns)
	}
}

func enqueueNamespace(q workqueue.TypedRateLimitingInterface[string], obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating && ns.DeletionTimestamp == nil {
		q.Add(ns.Name)
	}
}

func (p *Publisher) sync(ctx context.Context, ns string) error {
	api := p.Client.CoreV1().ConfigMaps(ns)
	cur, err := api.Get(ctx, Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns,
				Annotations: map[string]string{"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
			Data: map[string]string{Key: string(p.CAPEM)},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			return nil // raced with another publisher, or the namespace is going
		}
		return err
	case err != nil:
		return err
	case cur.Data[Key] == string(p.CAPEM) && len(cur.Data) == 1:
		return nil
	}
	next := cur.DeepCopy()
	next.Data = map[string]string{Key: string(p.CAPEM)}
	_, err = api.Update(ctx, next, metav1.UpdateOptions{})
	return err
}
