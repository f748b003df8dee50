package e2e

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// createNamespace creates a namespace through client-go.
func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func int32p(i int32) *int32 { return &i }

func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: image}}},
			},
		},
	}
}

// TestClientGoConfigMapCRUD creates, reads, updates, lists and deletes ConfigMaps with the typed
// client.
func TestClientGoConfigMapCRUD(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cs := srv.Clientset(t)
	ctx := context.Background()
	ns := "cg-configmaps"
	createNamespace(t, cs, ns)
	cms := cs.CoreV1().ConfigMaps(ns)

	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "one"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() || created.Namespace != ns {
		t.Errorf("create returned %+v, want uid, resourceVersion, creationTimestamp and namespace %s set", created.ObjectMeta, ns)
	}
	got, err := cms.Get(ctx, "one", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Data["a"] != "1" || got.ResourceVersion != created.ResourceVersion || got.UID != created.UID {
		t.Errorf("get = %+v data %v, want what create returned", got.ObjectMeta, got.Data)
	}

	got.Data["a"] = "2"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Data["a"] != "2" || updated.ResourceVersion == created.ResourceVersion {
		t.Errorf("update returned data %v rv %s, want a=2 and a new rv (old %s)", updated.Data, updated.ResourceVersion, created.ResourceVersion)
	}
	// An update carrying the old resourceVersion conflicts.
	_, err = cms.Update(ctx, created, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("update with stale resourceVersion: err = %v, want Conflict", err)
	}

	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "two", Labels: map[string]string{"pick": "me"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create two: %v", err)
	}
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(withoutRootCA(list.Items)) != 2 || list.ResourceVersion == "" {
		t.Errorf("list: %d items rv %q, want 2 items and a list resourceVersion", len(list.Items), list.ResourceVersion)
	}
	list, err = cms.List(ctx, metav1.ListOptions{LabelSelector: "pick=me"})
	if err != nil {
		t.Fatalf("list with selector: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "two" {
		t.Errorf("list pick=me: %d items, want only two", len(list.Items))
	}

	if err := cms.Delete(ctx, "one", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := cms.Get(ctx, "one", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: err = %v, want NotFound", err)
	}
	if err := cms.Delete(ctx, "one", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: err = %v, want NotFound", err)
	}
}

// TestClientGoDeploymentCRUD does the same with Deployments (apps/v1, defaulting, generation).
func TestClientGoDeploymentCRUD(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cs := srv.Clientset(t)
	ctx := context.Background()
	ns := "cg-deployments"
	createNamespace(t, cs, ns)
	deps := cs.AppsV1().Deployments(ns)

	created, err := deps.Create(ctx, deployment("web", "nginx:1.25", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Generation != 1 {
		t.Errorf("created generation = %d, want 1", created.Generation)
	}
	if created.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("created strategy = %q, want the default RollingUpdate", created.Spec.Strategy.Type)
	}
	// The Deployment controller writes status meanwhile, so a read-modify-write may conflict;
	// clients retry, as kubectl does.
	var updated *appsv1.Deployment
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := deps.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		got.Spec.Replicas = int32p(4)
		got.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
		updated, err = deps.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if *updated.Spec.Replicas != 4 || updated.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" || updated.Generation != 2 {
		t.Errorf("update returned replicas %d image %s generation %d, want 4 nginx:1.27 2",
			*updated.Spec.Replicas, updated.Spec.Template.Spec.Containers[0].Image, updated.Generation)
	}

	scale, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if scale.Spec.Replicas != 4 {
		t.Errorf("scale.spec.replicas = %d, want 4", scale.Spec.Replicas)
	}
	scale.Spec.Replicas = 6
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if cur, gerr := deps.GetScale(ctx, "web", metav1.GetOptions{}); gerr == nil {
				scale.ResourceVersion = cur.ResourceVersion
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("update scale: %v", err)
	}
	got, err := deps.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if *got.Spec.Replicas != 6 {
		t.Errorf("after scale update: spec.replicas = %d, want 6", *got.Spec.Replicas)
	}

	if err := deps.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := deps.Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: err = %v, want NotFound", err)
	}
}

// TestClientGoConcurrentUpdates increments a counter in a ConfigMap from several goroutines,
// each update retried on conflict; no increment may be lost.
func TestClientGoConcurrentUpdates(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cs := srv.Clientset(t)
	ctx := context.Background()
	ns := "cg-counter"
	createNamespace(t, cs, ns)
	cms := cs.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "counter"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create counter: %v", err)
	}

	const workers, perWorker = 8, 15
	// With 8 writers one increment may lose many races in a row, so retry often, after a short
	// random pause (5-15ms). No Cap: reaching it would end the retries (wait.Backoff sets Steps
	// to 0 there).
	backoff := wait.Backoff{Steps: 1000, Duration: 5 * time.Millisecond, Factor: 1, Jitter: 2}
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				err := retry.RetryOnConflict(backoff, func() error {
					cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(cm.Data["n"])
					if err != nil {
						return err
					}
					cm.Data["n"] = strconv.Itoa(n + 1)
					_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
					if apierrors.IsConflict(err) {
						conflicts.Add(1)
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment failed: %v", err)
	}
	cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get counter: %v", err)
	}
	if want := strconv.Itoa(workers * perWorker); cm.Data["n"] != want {
		t.Errorf("counter = %s after %d increments, want %s (%d conflicts retried)", cm.Data["n"], workers*perWorker, want, conflicts.Load())
	}
	t.Logf("%d increments, %d conflicts retried", workers*perWorker, conflicts.Load())
}

// TestClientGoInformer checks that a shared informer on ConfigMaps in one namespace sees an add,
// an update and a delete.
func TestClientGoInformer(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cs := srv.Clientset(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := "cg-informer"
	createNamespace(t, cs, ns)
	cms := cs.CoreV1().ConfigMaps(ns)
	// One object exists before the informer starts: it arrives as an add from the initial list.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}

	adds, updates, deletes := make(chan *corev1.ConfigMap, 100), make(chan *corev1.ConfigMap, 100), make(chan *corev1.ConfigMap, 100)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { adds <- obj.(*corev1.ConfigMap) },
		UpdateFunc: func(_, obj any) {
			updates <- obj.(*corev1.ConfigMap)
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			deletes <- obj.(*corev1.ConfigMap)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informers, which stop when ctx ends
		factory.Shutdown()
	}()
	syncCtx, syncCancel := context.WithTimeout(ctx, eventually)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		t.Fatalf("informer did not sync within %s", eventually)
	}

	expect := func(what string, ch chan *corev1.ConfigMap, match func(*corev1.ConfigMap) bool) {
		t.Helper()
		timeout := time.After(eventually)
		for {
			select {
			case cm := <-ch:
				if match(cm) {
					return
				}
			case <-timeout:
				t.Fatalf("informer saw no %s within %s", what, eventually)
			}
		}
	}
	expect("add of the pre-existing object", adds, func(cm *corev1.ConfigMap) bool { return cm.Name == "before" })

	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	expect("add of watched", adds, func(cm *corev1.ConfigMap) bool { return cm.Name == "watched" && cm.Data["v"] == "1" })

	cm, err := cms.Get(ctx, "watched", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "2"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	expect("update of watched to v=2", updates, func(cm *corev1.ConfigMap) bool { return cm.Name == "watched" && cm.Data["v"] == "2" })

	if err := cms.Delete(ctx, "watched", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	expect("delete of watched", deletes, func(cm *corev1.ConfigMap) bool { return cm.Name == "watched" })

	// The informer's store agrees with the server.
	if err := poll(eventually, func() (bool, error) {
		var keys []string
		for _, k := range inf.GetStore().ListKeys() {
			if k != ns+"/"+rootCA {
				keys = append(keys, k)
			}
		}
		return len(keys) == 1 && keys[0] == ns+"/before", nil
	}); err != nil {
		t.Errorf("informer store keys = %v, want [%s/before]", inf.GetStore().ListKeys(), ns)
	}
}

// contentTypes records the Content-Type of every request body and response a client sends and
// receives.
type contentTypes struct {
	mu                  sync.Mutex
	requests, responses map[string]int
}

func (c *contentTypes) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Body != nil && req.Body != http.NoBody {
			c.mu.Lock()
			c.requests[req.Header.Get("Content-Type")]++
			c.mu.Unlock()
		}
		resp, err := rt.RoundTrip(req)
		if err == nil {
			c.mu.Lock()
			c.responses[resp.Header.Get("Content-Type")]++
			c.mu.Unlock()
		}
		return resp, err
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClientGoProtobuf drives the typed client with protobuf request bodies, as Kubernetes'
// own components do: create, update, list, watch and delete.
func TestClientGoProtobuf(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	seen := &contentTypes{requests: map[string]int{}, responses: map[string]int{}}
	cfg.WrapTransport = seen.wrap
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := "cg-protobuf"
	createNamespace(t, cs, ns)

	deps := cs.AppsV1().Deployments(ns)
	created, err := deps.Create(ctx, deployment("proto", "nginx:1.25", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with a protobuf body: %v", err)
	}
	if created.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" || *created.Spec.Replicas != 2 || created.UID == "" {
		t.Errorf("create returned %+v", created)
	}
	w, err := deps.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	created.Spec.Replicas = int32p(3)
	updated, err := deps.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update with a protobuf body: %v", err)
	}
	if *updated.Spec.Replicas != 3 || updated.Generation != 2 {
		t.Errorf("update returned replicas %d generation %d, want 3 and 2", *updated.Spec.Replicas, updated.Generation)
	}
	timeout := time.After(eventually)
	for done := false; !done; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed before the update arrived")
			}
			if d, isDep := ev.Object.(*appsv1.Deployment); isDep && ev.Type == watch.Modified && d.Name == "proto" && *d.Spec.Replicas == 3 {
				done = true
			}
		case <-timeout:
			t.Fatalf("watch saw no update within %s", eventually)
		}
	}
	list, err := deps.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "proto" {
		t.Errorf("list: %d items, want only proto", len(list.Items))
	}
	if err := deps.Delete(ctx, "proto", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete with a protobuf DeleteOptions body: %v", err)
	}
	if _, err := deps.Get(ctx, "proto", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: err = %v, want NotFound", err)
	}

	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.requests["application/vnd.kubernetes.protobuf"] == 0 {
		t.Errorf("no request was sent with a protobuf body; request content types: %v", seen.requests)
	}
	t.Logf("request content types %v, response content types %v", seen.requests, seen.responses)
}
