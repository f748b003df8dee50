package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/hostabi"
)

// newTestRunner makes a runner over informers that are never started: the test fills their
// stores and calls the event handlers' logic itself.
func newTestRunner(t *testing.T, d Definition) (*runner, map[string]cache.SharedIndexInformer) {
	t.Helper()
	infs := map[string]cache.SharedIndexInformer{}
	m := &Manager{log: slog.New(slog.DiscardHandler)}
	r, err := m.newRunner(Controller{Definition: d}, func(k Kind) (cache.SharedIndexInformer, error) {
		if inf, ok := infs[k.Key()]; ok {
			return inf, nil
		}
		idx := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc, ownerIndex: ownerUIDs}
		if k == Pods {
			idx[nodeIndex] = podNode
		}
		inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &unstructured.Unstructured{}, 0, idx)
		infs[k.Key()] = inf
		return inf, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r, infs
}

// drain returns the keys queued so far, sorted.
func drain(r *runner) []string {
	var keys []string
	for r.queue.Len() > 0 {
		k, _ := r.queue.Get()
		r.queue.Done(k)
		r.queue.Forget(k)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func service(ns, name string, selector map[string]any) *unstructured.Unstructured {
	u := obj("v1", "Service", ns, name)
	if selector != nil {
		u.Object["spec"] = map[string]any{"selector": selector}
	}
	return u
}

func pod(ns, name, node string, labels map[string]string) *unstructured.Unstructured {
	u := obj("v1", "Pod", ns, name)
	u.SetLabels(labels)
	u.Object["spec"] = map[string]any{"nodeName": node}
	return u
}

// A Service's endpoints controllers see, and are woken by, only the pods its selector picks.
func TestRelatedBySelector(t *testing.T) {
	def := Definition{Name: "EndpointSlice", Parent: Services, Children: []Kind{EndpointSlices},
		Related: []Relation{{Kind: Pods, Selector: []string{"spec", "selector"}}}}
	r, infs := newTestRunner(t, def)
	svcs := infs[Services.Key()].GetStore()
	a := service("default", "a", map[string]any{"app": "a"})
	for _, s := range []*unstructured.Unstructured{a, service("default", "b", map[string]any{"app": "b"}),
		service("default", "none", nil), service("other", "a", map[string]any{"app": "a"})} {
		if err := svcs.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	rel := r.related[Pods.Key()].Relation

	p := pod("default", "p", "n1", map[string]string{"app": "a", "tier": "web"})
	r.relatedChanged(rel, nil, p)
	if got, want := drain(r), []string{"default/a"}; !slices.Equal(got, want) {
		t.Errorf("a new app=a pod woke %v, want %v", got, want)
	}

	// A relabelled pod wakes the service that lost it and the one that gained it.
	moved := p.DeepCopy()
	moved.SetLabels(map[string]string{"app": "b"})
	r.relatedChanged(rel, p, moved)
	if got, want := drain(r), []string{"default/a", "default/b"}; !slices.Equal(got, want) {
		t.Errorf("relabelling a→b woke %v, want %v", got, want)
	}

	pods := infs[Pods.Key()].GetStore()
	for _, it := range []*unstructured.Unstructured{moved, pod("default", "q", "n1", map[string]string{"app": "a"}),
		pod("default", "r", "n1", nil), pod("other", "s", "n1", map[string]string{"app": "a"})} {
		if err := pods.Add(it); err != nil {
			t.Fatal(err)
		}
	}
	req, _, err := r.request(a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(req.Related[Pods.Key()]); n != 1 {
		t.Errorf("service a was handed %d pods, want 1 (q)", n)
	}
	req, _, err = r.request(service("default", "none", nil), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(req.Related[Pods.Key()]); n != 0 {
		t.Errorf("a service without a selector was handed %d pods, want none", n)
	}
}

// The node lifecycle controller is not woken by a pod's status writes, only by changes to
// what eviction reads.
func TestRelatedIgnoresStatus(t *testing.T) {
	def := Definition{Name: "NodeLifecycle", Parent: Nodes,
		Related: []Relation{{Kind: Pods, Scope: OnNode, Deletable: true, IgnoreStatus: true}}}
	r, _ := newTestRunner(t, def)
	rel := r.related[Pods.Key()].Relation

	p := pod("default", "p", "n1", nil)
	p.SetResourceVersion("1")
	r.relatedChanged(rel, nil, p)
	if got := drain(r); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("a new pod woke %v, want [n1]", got)
	}

	running := p.DeepCopy()
	running.SetResourceVersion("2")
	running.Object["status"] = map[string]any{"phase": "Running"}
	r.relatedChanged(rel, p, running)
	if got := drain(r); len(got) != 0 {
		t.Errorf("a status write woke %v, want nothing", got)
	}

	tolerating := running.DeepCopy()
	tolerating.SetResourceVersion("3")
	tolerating.Object["spec"].(map[string]any)["tolerations"] = []any{map[string]any{"operator": "Exists"}}
	r.relatedChanged(rel, running, tolerating)
	if got := drain(r); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("a change of tolerations woke %v, want [n1]", got)
	}

	// Without IgnoreStatus, status writes wake the node as before.
	rel.IgnoreStatus = false
	r.relatedChanged(rel, p, running)
	if got := drain(r); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("without IgnoreStatus a status write woke %v, want [n1]", got)
	}
}

// With Coalesce, a burst of related changes wakes the parent once, after the delay.
func TestRelatedCoalesces(t *testing.T) {
	def := Definition{Name: "NodeLifecycle", Parent: Nodes,
		Related: []Relation{{Kind: Pods, Scope: OnNode, Coalesce: 50 * time.Millisecond}}}
	r, _ := newTestRunner(t, def)
	rel := r.related[Pods.Key()].Relation
	for i := range 100 {
		r.relatedChanged(rel, nil, pod("default", fmt.Sprint("p", i), "n1", nil))
	}
	r.relatedChanged(rel, nil, pod("default", "q", "n2", nil))
	if n := r.queue.Len(); n != 0 {
		t.Fatalf("%d parents queued at once, want none before the delay", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.queue.Len() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a second entry for n1 would be due by now
	if got := drain(r); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("101 pod changes woke %v, want [n1 n2] once each", got)
	}
}

// A declared child that the result no longer declares is deleted by its name (the bug this
// guards against passed "namespace/name", which the API refuses).
func TestDeclaredChildrenDeleteTheUndeclared(t *testing.T) {
	def := Definition{Name: "EndpointSlice", Parent: Services, Children: []Kind{EndpointSlices}}
	r, _ := newTestRunner(t, def)
	parent := service("default", "web", map[string]any{"app": "web"})
	parent.SetUID("svc-uid")
	stale := obj("discovery.k8s.io/v1", "EndpointSlice", "default", "web-abcde")
	stale.SetUID("slice-uid")
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), stale)
	r.m.dyn = dyn
	observed := map[string][]*unstructured.Unstructured{EndpointSlices.Key(): {stale}}
	res := &hostabi.ReconcileResult{Children: map[string][]json.RawMessage{EndpointSlices.Key(): {}}}
	if err := r.apply(context.Background(), parent, observed, res, time.Now()); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range dyn.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			deleted = append(deleted, d.GetNamespace()+" "+d.GetName())
		}
	}
	if !slices.Equal(deleted, []string{"default web-abcde"}) {
		t.Errorf("deleted %v, want [default web-abcde]", deleted)
	}
}
