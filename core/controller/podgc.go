package controller

import (
	"context"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The pod collector force-deletes the pods bound to a node that no longer exists, as kube's
// pod GC does with orphaned pods: no agent is left to stop them and confirm, so without it
// they would stay Terminating for ever and hold their controllers' places. It is Go in the
// core: a node's removal leaves nothing to decide.
type podGC struct {
	m     *Manager
	log   *slog.Logger
	nodes cache.Store
	pods  cache.Indexer
	queue workqueue.TypedRateLimitingInterface[string] // node names
}

func (m *Manager) newPodGC(t *term) (*podGC, error) {
	nodes, err := t.informerFor(Nodes)
	if err != nil {
		return nil, err
	}
	pods, err := t.informerFor(Pods)
	if err != nil {
		return nil, err
	}
	g := &podGC{m: m, log: m.log.With("controller", "pod-gc"), nodes: nodes.GetStore(), pods: pods.GetIndexer(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pod-gc"})}
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if u, ok := unstructuredOf(obj); ok {
			g.queue.Add(u.GetName())
		}
	}}); err != nil {
		return nil, err
	}
	// A pod bound to a node that is not there (gone while no manager ran) is looked at too.
	// So is one bound (or shown by a lagging watch) after its node went.
	orphan := func(obj any) {
		if names, _ := podNode(obj); len(names) == 1 {
			if _, ok, _ := g.nodes.GetByKey(names[0]); !ok {
				g.queue.Add(names[0])
			}
		}
	}
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: orphan, UpdateFunc: func(_, obj any) { orphan(obj) }}); err != nil {
		return nil, err
	}
	return g, nil
}

// collect force-deletes the pods of a node, if the node is still gone.
func (g *podGC) collect(ctx context.Context, node string) error {
	if _, ok, _ := g.nodes.GetByKey(node); ok {
		return nil
	}
	if _, err := g.m.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return err // there after all (the cache lags), or unknown: nil or a retry
	}
	items, err := g.pods.ByIndex(nodeIndex, node)
	if err != nil {
		return err
	}
	zero := int64(0)
	for _, it := range items {
		p := it.(*unstructured.Unstructured)
		uid := p.GetUID()
		err := g.m.client.CoreV1().Pods(p.GetNamespace()).Delete(ctx, p.GetName(),
			metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		g.log.Info("deleted a pod whose node is gone", "pod", objectKey(p.GetNamespace(), p.GetName()), "node", node)
	}
	return nil
}
