package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/hostabi"
)

// fakePlugin answers admission calls with a Go function, as a wasm plugin would.
type fakePlugin func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error)

func (f fakePlugin) Call(ctx context.Context, export string, in []byte) ([]byte, hostabi.Status, error) {
	if export != hostabi.ExportAdmit {
		return nil, hostabi.StatusError, fmt.Errorf("unexpected export %s", export)
	}
	var req hostabi.AdmissionRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, hostabi.StatusError, err
	}
	resp, err := f(&req)
	if err != nil {
		return nil, hostabi.StatusError, err
	}
	out, _ := json.Marshal(resp)
	return out, hostabi.StatusOK, nil
}

// garbage answers with bytes that are not an admission response.
type garbage struct{}

func (garbage) Call(context.Context, string, []byte) ([]byte, hostabi.Status, error) {
	return []byte("not json"), hostabi.StatusOK, nil
}

// start runs an API server with the chain in front of its writes.
func start(t *testing.T, plugins map[string]Plugin, policies ...pluginsv1alpha1.AdmissionPolicy) (*Chain, kubernetes.Interface) {
	t.Helper()
	chain := New(Config{})
	s := apiservertest.Start(t, apiserver.Config{Admission: chain})
	chain.UseReader(s.API.AdmissionReader())
	chain.SetPlugins(plugins[""], func(name string) (Plugin, bool) { p, ok := plugins[name]; return p, ok })
	if errs := chain.SetPolicies(policies); len(errs) > 0 {
		t.Fatal(errs)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	return chain, cs
}

func podPolicy(name, plugin, typ string, fp string, ops ...string) pluginsv1alpha1.AdmissionPolicy {
	return pluginsv1alpha1.AdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: pluginsv1alpha1.AdmissionPolicySpec{
		Plugin: plugin, Type: typ, FailurePolicy: fp,
		Rules: []pluginsv1alpha1.RuleWithOperations{{Operations: ops, APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}}
}

func pod(name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1"}}}}
}

// A mutating policy's patch is on the stored object; a validating policy's denial reaches
// the client as Forbidden naming the policy; the policy sees the object as mutated.
func TestMutateThenValidate(t *testing.T) {
	var seenTeam string
	plugins := map[string]Plugin{
		"label": fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			v, _ := json.Marshal("web")
			return &hostabi.AdmissionResponse{Allowed: true, Patch: []hostabi.PatchOperation{{Op: "add", Path: "/metadata/annotations", Value: json.RawMessage(`{}`)},
				{Op: "add", Path: "/metadata/annotations/team", Value: v}}}, nil
		}),
		"deny-red": fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			var p corev1.Pod
			if err := json.Unmarshal(req.Object, &p); err != nil {
				return nil, err
			}
			seenTeam = p.Annotations["team"]
			if req.Policy != "deny-red" || string(req.Config) != `{"color":"red"}` {
				return nil, fmt.Errorf("policy %q config %s", req.Policy, req.Config)
			}
			if p.Labels["color"] == "red" {
				return &hostabi.AdmissionResponse{Result: &hostabi.AdmissionStatus{Code: 403, Message: "red pods are not allowed"}}, nil
			}
			return &hostabi.AdmissionResponse{Allowed: true, Warnings: []string{"colors are checked"}}, nil
		}),
	}
	deny := podPolicy("deny-red", "deny-red", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	deny.Spec.Config = &runtime.RawExtension{Raw: []byte(`{"color":"red"}`)}
	_, cs := start(t, plugins, podPolicy("label", "label", pluginsv1alpha1.PolicyMutating, "Fail", "CREATE"), deny)
	ctx := context.Background()
	got, err := cs.CoreV1().Pods("default").Create(ctx, pod("blue", map[string]string{"color": "blue"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations["team"] != "web" || seenTeam != "web" {
		t.Fatalf("stored annotations %v, validating policy saw team %q; want the mutation in both", got.Annotations, seenTeam)
	}
	_, err = cs.CoreV1().Pods("default").Create(ctx, pod("red", map[string]string{"color": "red"}), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `admission policy "deny-red" denied the request: red pods are not allowed`) {
		t.Fatalf("red pod: %v, want Forbidden naming the policy and its message", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "red", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the denied pod was stored: %v", err)
	}
}

// A plugin that fails — an error (a trap, a timeout), garbage, a missing plugin, a patch
// from a validating policy — denies under Fail and is skipped under Ignore.
func TestFailurePolicies(t *testing.T) {
	failing := map[string]Plugin{
		"error": fakePlugin(func(*hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			return nil, errors.New("trap: unreachable")
		}),
		"garbage": garbage{},
		"patcher": fakePlugin(func(*hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			return &hostabi.AdmissionResponse{Allowed: true, Patch: []hostabi.PatchOperation{{Op: "remove", Path: "/spec"}}}, nil
		}),
	}
	for _, name := range []string{"error", "garbage", "missing", "patcher"} {
		for _, fp := range []string{"Fail", "Ignore"} {
			t.Run(name+"/"+fp, func(t *testing.T) {
				_, cs := start(t, failing, podPolicy("p", name, pluginsv1alpha1.PolicyValidating, fp, "*"))
				_, err := cs.CoreV1().Pods("default").Create(context.Background(), pod("x", nil), metav1.CreateOptions{})
				if fp == "Ignore" && err != nil {
					t.Fatalf("Ignore: %v, want the pod created", err)
				}
				if fp == "Fail" && (!apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `admission policy "p" failed`)) {
					t.Fatalf("Fail: %v, want an internal error naming the policy", err)
				}
			})
		}
	}
}

// Rules, namespace and object selectors decide which requests a policy sees.
func TestMatching(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	rec := fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, req.Operation+" "+req.Resource.Resource+" "+req.Namespace+"/"+req.Name)
		return &hostabi.AdmissionResponse{Allowed: true}, nil
	})
	p := podPolicy("rec", "rec", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE", "DELETE")
	p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"watched": "yes"}}
	p.Spec.ObjectSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	_, cs := start(t, map[string]Plugin{"rec": rec}, p)
	ctx := context.Background()
	for _, ns := range []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "watched", Labels: map[string]string{"watched": "yes"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}}} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Created right after the namespace: the selector must see its labels.
		for _, pd := range []*corev1.Pod{pod("a", nil), pod("b", map[string]string{"skip": "1"})} {
			if _, err := cs.CoreV1().Pods(ns.Name).Create(ctx, pd, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cs.CoreV1().ConfigMaps(ns.Name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Pods(ns.Name).Patch(ctx, "a", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Pods(ns.Name).Delete(ctx, "a", *metav1.NewDeleteOptions(0)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"CREATE pods watched/a", "DELETE pods watched/a"}
	if strings.Join(seen, ";") != strings.Join(want, ";") {
		t.Fatalf("the policy saw %q, want %q", seen, want)
	}
}

// quotaPlugin is a minimal quota policy: one count, charged through a status update.
func quotaPlugin() Plugin {
	return fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
		resp := &hostabi.AdmissionResponse{Allowed: true}
		if len(req.Related["v1/ResourceQuota"]) == 0 {
			return nil, errors.New("called where there is no quota: its required read should have skipped it")
		}
		for _, raw := range req.Related["v1/ResourceQuota"] {
			var q corev1.ResourceQuota
			if err := json.Unmarshal(raw, &q); err != nil {
				return nil, err
			}
			hard, used := q.Spec.Hard[corev1.ResourcePods], q.Status.Used[corev1.ResourcePods]
			if used.Value()+1 > hard.Value() {
				return &hostabi.AdmissionResponse{Result: &hostabi.AdmissionStatus{Code: 403,
					Message: fmt.Sprintf("exceeded quota: %s, requested: pods=1, used: pods=%d, limited: pods=%d", q.Name, used.Value(), hard.Value())}}, nil
			}
			q.Status.Hard = q.Spec.Hard
			q.Status.Used = corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(used.Value()+1, resource.DecimalSI)}
			b, _ := json.Marshal(q)
			resp.StatusUpdates = append(resp.StatusUpdates, b)
		}
		return resp, nil
	})
}

// Concurrent creates under a quota of 5 leave exactly 5: the charges serialise on the
// quota's revision, and a create whose charge lost is admitted again with the new usage.
func TestQuotaChargesAreAtomic(t *testing.T) {
	p := podPolicy("quota", "quota", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	p.Spec.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "ResourceQuota"}, Required: true, WriteStatus: true}}
	chain, cs := start(t, map[string]Plugin{"quota": quotaPlugin()}, p)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "q"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ResourceQuotas("q").Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Admission reads quotas from the watch cache, as kube's reads them from an informer: a
	// quota applies once the cache holds it, moments after its create. The creates below
	// test concurrent charging, so they start once it does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		quotas, err := chain.cfg.Reader.List(ctx, "v1", "ResourceQuota", "q")
		if err != nil {
			t.Fatal(err)
		}
		if len(quotas) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the quota never reached the watch cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cs.CoreV1().Pods("q").Create(ctx, pod("p"+strconv.Itoa(i), nil), metav1.CreateOptions{})
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota: pods"):
			t.Errorf("a create failed otherwise than by the quota: %v", err)
		}
	}
	pods, err := cs.CoreV1().Pods("q").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := cs.CoreV1().ResourceQuotas("q").Get(ctx, "pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := q.Status.Used[corev1.ResourcePods]
	if created != 5 || len(pods.Items) != 5 || used.Value() != 5 {
		t.Fatalf("%d creates succeeded, %d pods stored, quota used %s; want 5 of each", created, len(pods.Items), used.String())
	}
	// A namespace without quotas skips the policy (its read is required; the plugin fails,
	// and so denies, if it is called there).
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod("free", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a pod where no quota applies: %v", err)
	}
}

// A patched object is decoded once, after the mutating policies; when it does not decode,
// the policy whose patch broke it is found and its failure policy applies: Ignore drops its
// patch and keeps the others', Fail denies naming it.
func TestPatchThatBreaksTheType(t *testing.T) {
	patch := func(path, value string) Plugin {
		return fakePlugin(func(*hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			return &hostabi.AdmissionResponse{Allowed: true, Patch: []hostabi.PatchOperation{{Op: "add", Path: path, Value: json.RawMessage(value)}}}, nil
		})
	}
	plugins := map[string]Plugin{
		"first": patch("/metadata/annotations", `{"first":"yes"}`),
		"bad":   patch("/spec/containers", `"not a list"`),
		"last":  patch("/metadata/labels", `{"last":"yes"}`),
	}
	for _, fp := range []string{"Ignore", "Fail"} {
		t.Run(fp, func(t *testing.T) {
			first := podPolicy("a-first", "first", pluginsv1alpha1.PolicyMutating, "Fail", "CREATE")
			bad := podPolicy("b-bad", "bad", pluginsv1alpha1.PolicyMutating, fp, "CREATE")
			last := podPolicy("c-last", "last", pluginsv1alpha1.PolicyMutating, "Fail", "CREATE")
			_, cs := start(t, plugins, first, bad, last)
			got, err := cs.CoreV1().Pods("default").Create(context.Background(), pod("x", nil), metav1.CreateOptions{})
			if fp == "Fail" {
				if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `admission policy "b-bad" failed`) {
					t.Fatalf("Fail: %v, want an internal error naming b-bad", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Ignore: %v", err)
			}
			if got.Annotations["first"] != "yes" || got.Labels["last"] != "yes" || len(got.Spec.Containers) != 1 {
				t.Fatalf("stored %+v %+v %d containers; want both good patches and the bad one dropped", got.Annotations, got.Labels, len(got.Spec.Containers))
			}
		})
	}
}

// A policy with matchUserGroups sees only requests of users in those groups: the test
// server's user is the admin, in system:masters.
func TestMatchUserGroups(t *testing.T) {
	called := map[string]int{}
	rec := func(name string) Plugin {
		return fakePlugin(func(*hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			called[name]++
			return &hostabi.AdmissionResponse{Allowed: true}, nil
		})
	}
	nodes := podPolicy("nodes-only", "nodes", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	nodes.Spec.MatchUserGroups = []string{"system:nodes"}
	masters := podPolicy("masters-only", "masters", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	masters.Spec.MatchUserGroups = []string{"system:nodes", "system:masters"}
	_, cs := start(t, map[string]Plugin{"nodes": rec("nodes"), "masters": rec("masters")}, nodes, masters)
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod("x", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if called["nodes"] != 0 || called["masters"] != 1 {
		t.Fatalf("calls %v, want the masters' policy only", called)
	}
}

// A policy is handed only the related objects its spec.reads names: no Secret unless it
// names Secrets (ABI.md §6.1).
func TestPoliciesSeeOnlyWhatTheyRead(t *testing.T) {
	seen := map[string]map[string][]json.RawMessage{}
	var mu sync.Mutex // validating policies are called concurrently
	rec := func(name string) Plugin {
		return fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			seen[name] = req.Related
			return &hostabi.AdmissionResponse{Allowed: true}, nil
		})
	}
	blind := podPolicy("blind", "blind", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	granted := podPolicy("granted", "granted", pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
	granted.Spec.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "Secret"}}}
	chain, cs := start(t, map[string]Plugin{"blind": rec("blind"), "granted": rec("granted")}, blind, granted)
	ctx := context.Background()
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if secrets, err := chain.cfg.Reader.List(ctx, "v1", "Secret", "default"); err == nil && len(secrets) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the secret never reached the watch cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod("x", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(seen["blind"]) != 0 {
		t.Errorf("a policy without reads was handed %v", seen["blind"])
	}
	if got := seen["granted"]["v1/Secret"]; len(got) != 1 || !strings.Contains(string(got[0]), `"name":"db"`) {
		t.Errorf("the policy reading Secrets was handed %s", got)
	}
}

// Validating policies are called at once, as kube-apiserver calls validating webhooks, and
// their answers are taken in the policies' order: of two refusals, the first policy's is
// reported whichever answered first.
func TestValidatingPoliciesRunTogether(t *testing.T) {
	const n = 3
	var started sync.WaitGroup
	started.Add(n)
	allStarted := make(chan struct{})
	go func() { started.Wait(); close(allStarted) }()
	var once [n]sync.Once
	waitAll := func(i int) error {
		once[i].Do(started.Done)
		select {
		case <-allStarted:
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("the other validating policies were not called while this one ran")
		}
	}
	plugins := map[string]Plugin{}
	var policies []pluginsv1alpha1.AdmissionPolicy
	for i := range n {
		name := fmt.Sprintf("v%d", i)
		plugins[name] = fakePlugin(func(req *hostabi.AdmissionRequest) (*hostabi.AdmissionResponse, error) {
			if err := waitAll(i); err != nil {
				return nil, err
			}
			if i > 0 && strings.Contains(string(req.Object), `"deny":"yes"`) {
				if i == 1 {
					// v1 answers after v2 and is still the one reported: the first refusal in
					// the policies' order, not the first to arrive.
					time.Sleep(20 * time.Millisecond)
				}
				return &hostabi.AdmissionResponse{Result: &hostabi.AdmissionStatus{Code: 403, Message: name + " says no"}}, nil
			}
			return &hostabi.AdmissionResponse{Allowed: true}, nil
		})
		p := podPolicy(name, name, pluginsv1alpha1.PolicyValidating, "Fail", "CREATE")
		order := int32(i)
		p.Spec.Order = &order
		policies = append(policies, p)
	}
	_, cs := start(t, plugins, policies...)
	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod("ok", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		once[i] = sync.Once{}
	}
	started.Add(n)
	allStarted = make(chan struct{})
	go func() { started.Wait(); close(allStarted) }()
	_, err := cs.CoreV1().Pods("default").Create(ctx, pod("no", map[string]string{"deny": "yes"}), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "v1 says no") {
		t.Fatalf("got %v, want v1's refusal", err)
	}
}
