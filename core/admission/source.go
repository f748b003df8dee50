package admission

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

var policiesGVR = pluginsv1alpha1.SchemeGroupVersion.WithResource("admissionpolicies")

// SetPlugins sets what decides the policies: the built-in module (nil: this build has
// none, and the built-in policies are skipped) and the lookup of named WasmPlugins. Until
// it is called, every policy fails as its failure policy says.
func (c *Chain) SetPlugins(builtin Plugin, lookup func(name string) (Plugin, bool)) {
	c.plug.Store(&plugins{set: true, builtin: builtin, lookup: lookup})
}

// UseReader sets where policies' reads come from. Call it before the server serves.
func (c *Chain) UseReader(r Reader) { c.cfg.Reader = r }

// Run keeps the chain in step with the cluster's AdmissionPolicies until ctx ends: it
// creates the built-in ones that are missing, then follows them all, swapping the compiled
// set on every change and reporting in each policy's Active condition.
func (c *Chain) Run(ctx context.Context, client dynamic.Interface) error {
	if err := c.ensureBuiltins(ctx, client); err != nil {
		return err
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 10*time.Minute)
	inf := factory.ForResource(policiesGVR).Informer()
	var mu sync.Mutex
	resync := func() {
		mu.Lock()
		defer mu.Unlock()
		c.resync(ctx, client, inf.GetStore().List())
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { resync() },
		UpdateFunc: func(_, _ any) { resync() },
		DeleteFunc: func(any) { resync() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	resync()
	close(c.synced)
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

// Synced is closed once the chain holds the cluster's policies.
func (c *Chain) Synced() <-chan struct{} { return c.synced }

func (c *Chain) ensureBuiltins(ctx context.Context, client dynamic.Interface) error {
	for _, p := range Builtins(c.cfg.ServiceAccountTokenVolume) {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&p)
		if err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			_, err = client.Resource(policiesGVR).Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			if attempt == 10 || ctx.Err() != nil {
				return fmt.Errorf("admission: creating built-in policy %s: %w", p.Name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// resync compiles the policies the informer holds and records the outcome in their status.
func (c *Chain) resync(ctx context.Context, client dynamic.Interface, objs []any) {
	policies := make([]pluginsv1alpha1.AdmissionPolicy, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		var p pluginsv1alpha1.AdmissionPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			c.log.Warn("admission policy does not decode; left out", "policy", u.GetName(), "err", err)
			continue
		}
		policies = append(policies, p)
	}
	before := c.Policies()
	errs := c.SetPolicies(policies)
	if after := c.Policies(); !slices.Equal(before, after) {
		c.log.Info("admission policies", "policies", after)
	}
	for i := range policies {
		p := &policies[i]
		cond := metav1.Condition{Type: pluginsv1alpha1.ConditionPolicyActive, Status: metav1.ConditionTrue, Reason: "Applied",
			Message: "applied to the requests its rules match", ObservedGeneration: p.Generation}
		if err := errs[p.Name]; err != nil {
			cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "InvalidSpec", err.Error()
		} else if p.Spec.Plugin != "" {
			if _, ok := c.lookup(p.Spec.Plugin); !ok {
				cond.Status, cond.Reason = metav1.ConditionFalse, pluginsv1alpha1.ReasonPluginNotFound
				cond.Message = fmt.Sprintf("no WasmPlugin %q is loaded; requests the policy matches fail as failurePolicy %s says", p.Spec.Plugin, p.Spec.FailurePolicy)
			}
		}
		c.writeStatus(ctx, client, p, cond)
	}
}

func (c *Chain) writeStatus(ctx context.Context, client dynamic.Interface, p *pluginsv1alpha1.AdmissionPolicy, cond metav1.Condition) {
	if old := meta.FindStatusCondition(p.Status.Conditions, cond.Type); old != nil && old.Status == cond.Status &&
		old.Reason == cond.Reason && old.Message == cond.Message && p.Status.ObservedGeneration == p.Generation {
		return
	}
	next := p.DeepCopy()
	next.Status.ObservedGeneration = p.Generation
	meta.SetStatusCondition(&next.Status.Conditions, cond)
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(next)
	if err != nil {
		return
	}
	if _, err := client.Resource(policiesGVR).UpdateStatus(ctx, &unstructured.Unstructured{Object: u}, metav1.UpdateOptions{}); err != nil &&
		!apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		c.log.Warn("admission policy status not written", "policy", p.Name, "err", err)
	}
}
