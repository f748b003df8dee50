package apiserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
)

// A typed client asking for protobuf, as kube's components do, gets its watches as
// protobuf streams: events, bookmarks, and the 410 that sends it back to list, decoded by
// client-go's own stream decoder; an informer on such a client sees adds, updates and deletes.
func TestProtobufWatch(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{WatchCacheSize: 8})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{
		ContentType: "application/vnd.kubernetes.protobuf", AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := cs.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// What goes over the wire: length-delimited protobuf frames, not JSON lines.
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0", nil)
	req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8)
	_, err = io.ReadFull(resp.Body, head)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); err != nil || ct != "application/vnd.kubernetes.protobuf;stream=watch" || head[0] == '{' {
		t.Fatalf("watch answered %q starting %q (%v)", ct, head, err)
	}

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first.Data["k"] = "2"
	if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []watch.EventType{watch.Modified, watch.Deleted} {
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != want || !ok || cm.Name != "a" {
				t.Fatalf("got %s %T %+v, want %s of ConfigMap a", ev.Type, ev.Object, ev.Object, want)
			}
			if want == watch.Modified && cm.Data["k"] != "2" {
				t.Fatalf("modified data %v", cm.Data)
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", want)
		}
	}

	// A watch-list ends its initial events with the bookmark client-go waits for.
	wl, err := cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr(true), AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-wl.ResultChan():
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Bookmark || !ok || cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" || cm.ResourceVersion == "" {
			t.Fatalf("got %s %+v, want the initial-events-end bookmark", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no bookmark")
	}
	wl.Stop()

	// Too old a revision (past the cache's window of 8 events): an ERROR event whose Status
	// client-go turns into a 410.
	for i := range 10 {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("filler-", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	old, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err == nil {
		select {
		case ev := <-old.ResultChan():
			if ev.Type != watch.Error || !apierrors.IsResourceExpired(apierrors.FromObject(ev.Object)) {
				t.Fatalf("got %s %+v, want an ERROR with 410 Expired", ev.Type, ev.Object)
			}
		case <-ctx.Done():
			t.Fatal("no error event")
		}
		old.Stop()
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from revision 1: %v", err)
	}

	// An informer over the protobuf client.
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	seen := make(chan string, 16)
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { seen <- "add " + o.(*corev1.ConfigMap).Name },
		UpdateFunc: func(_, o any) { seen <- "update " + o.(*corev1.ConfigMap).Name },
		DeleteFunc: func(o any) {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				seen <- "delete " + cm.Name
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	b, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Labels = map[string]string{"x": "y"}
	if _, err := cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		select {
		case s := <-seen:
			if strings.HasPrefix(s, "add b") || !strings.HasPrefix(s, "add ") {
				got = append(got, s)
			}
		case <-ctx.Done():
			t.Fatalf("informer saw %v", got)
		}
	}
	if got[0] != "add b" || got[1] != "update b" || got[2] != "delete b" {
		t.Fatalf("informer saw %v", got)
	}
}

func ptr[T any](v T) *T { return &v }

// tug's own kinds have no protobuf encoding: a client that asks for protobuf first gets
// JSON lists and watches, which it accepts too, instead of an error.
func TestProtobufFallsBackToJSON(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{})
	for _, q := range []string{"", "?watch=true&timeoutSeconds=1"} {
		req, _ := http.NewRequest("GET", srv.URL+"/apis/plugins.tug.dev/v1alpha1/schedulerprofiles"+q, nil)
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET schedulerprofiles%s: %d %s: %.200s", q, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
