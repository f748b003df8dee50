package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testServer is an API server over a fresh embedded etcd, served on loopback.
type testServer struct {
	t    *testing.T
	base string
	etcd *clientv3.Client
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := store.StartEmbedded(ctx, store.EmbedConfig{Name: "t", DataDir: t.TempDir(), ClientListen: freeAddr(t), PeerListen: freeAddr(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	cli, err := clientv3.New(clientv3.Config{Endpoints: m.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	srv, err := New(ctx, Config{Etcd: cli, Logger: quiet, ServiceClusterIPRange: "10.96.0.0/24", ServiceNodePortRange: "30000-30002", WatchCacheSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	return &testServer{t: t, base: "http://" + ln.Addr().String(), etcd: cli}
}

type resp struct {
	code int
	body map[string]any
	raw  []byte
	hdr  http.Header
}

func (r resp) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, _ := strconv.Atoi(p)
			if i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *testServer) do(method, path, ctype, body string) resp {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{code: res.StatusCode, raw: raw, hdr: res.Header}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (s *testServer) must(r resp, code int) resp {
	s.t.Helper()
	if r.code != code {
		s.t.Fatalf("status %d, want %d: %s", r.code, code, r.raw)
	}
	return r
}

const js = "application/json"

func TestCreateGetListDelete(t *testing.T) {
	s := newTestServer(t)
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"app":"x"}},"data":{"k":"v"}}`
	created := s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, cm), 201)
	if created.str("metadata", "uid") == "" || created.str("metadata", "resourceVersion") == "" || created.str("metadata", "creationTimestamp") == "" {
		t.Fatalf("create did not set uid, resourceVersion and creationTimestamp: %s", created.raw)
	}
	got := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps/a", "", ""), 200)
	if got.str("metadata", "resourceVersion") != created.str("metadata", "resourceVersion") || got.str("data", "k") != "v" {
		t.Fatalf("get: %s", got.raw)
	}
	s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, strings.Replace(cm, `"a"`, `"b"`, 1)), 201)
	s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, strings.Replace(strings.Replace(cm, `"a"`, `"c"`, 1), `"x"`, `"y"`, 1)), 201)

	list := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx", "", ""), 200)
	if list.str("kind") != "ConfigMapList" || list.str("items", "0", "metadata", "name") != "a" || list.str("items", "1", "metadata", "name") != "b" || list.str("items", "2") != "" {
		t.Fatalf("label-selected list: %s", list.raw)
	}
	page := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps?limit=2", "", ""), 200)
	cont := page.str("metadata", "continue")
	if cont == "" || page.str("metadata", "remainingItemCount") != "1" {
		t.Fatalf("first page: %s", page.raw)
	}
	rest := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps?limit=2&continue="+cont, "", ""), 200)
	if rest.str("items", "0", "metadata", "name") != "c" || rest.str("metadata", "continue") != "" {
		t.Fatalf("second page: %s", rest.raw)
	}
	byName := s.must(s.do("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Db", "", ""), 200)
	if byName.str("items", "0", "metadata", "name") != "b" || byName.str("items", "1") != "" {
		t.Fatalf("field-selected list across namespaces: %s", byName.raw)
	}
	s.must(s.do("GET", "/api/v1/configmaps?fieldSelector=spec.bogus%3Db", "", ""), 400)

	del := s.must(s.do("DELETE", "/api/v1/namespaces/default/configmaps/a", "", ""), 200)
	if del.str("metadata", "name") != "a" {
		t.Fatalf("delete returned %s", del.raw)
	}
	s.must(s.do("GET", "/api/v1/namespaces/default/configmaps/a", "", ""), 404)
}

func TestUpdateSemantics(t *testing.T) {
	s := newTestServer(t)
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},
	  "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"nginx:1"}]}}},"status":{"replicas":7}}`
	c := s.must(s.do("POST", "/apis/apps/v1/namespaces/default/deployments", js, dep), 201)
	if c.str("metadata", "generation") != "1" || c.str("status", "replicas") != "" {
		t.Fatalf("create: generation %s, status %s", c.str("metadata", "generation"), c.str("status"))
	}
	rv := c.str("metadata", "resourceVersion")

	// The main resource never changes status; a spec change bumps generation.
	p := s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/merge-patch+json",
		`{"spec":{"replicas":3},"status":{"replicas":9}}`), 200)
	if p.str("metadata", "generation") != "2" || p.str("status", "replicas") != "" || p.str("spec", "replicas") != "3" {
		t.Fatalf("patch: %s", p.raw)
	}
	// Status changes only through the status subresource, and only status changes there.
	st := s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d/status", "application/merge-patch+json",
		`{"spec":{"replicas":5},"status":{"replicas":3}}`), 200)
	if st.str("status", "replicas") != "3" || st.str("spec", "replicas") != "3" || st.str("metadata", "generation") != "2" {
		t.Fatalf("status patch: %s", st.raw)
	}
	// A stale resourceVersion on update is a Conflict, and nothing changes.
	stale := strings.Replace(dep, `"name":"d"}`, `"name":"d","resourceVersion":"`+rv+`"}`, 1)
	conflict := s.must(s.do("PUT", "/apis/apps/v1/namespaces/default/deployments/d", js, stale), 409)
	if conflict.str("reason") != "Conflict" {
		t.Fatalf("stale update: %s", conflict.raw)
	}
	if g := s.must(s.do("GET", "/apis/apps/v1/namespaces/default/deployments/d", "", ""), 200); g.str("spec", "replicas") != "3" {
		t.Fatalf("conflicting update changed the object: %s", g.raw)
	}
	// Strategic merge keeps list items by merge key.
	two := s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/strategic-merge-patch+json",
		`{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}`), 200)
	if two.str("spec", "template", "spec", "containers", "0", "name") != "side" || two.str("spec", "template", "spec", "containers", "1", "name") != "c" {
		t.Fatalf("strategic merge: %s", two.str("spec", "template", "spec", "containers"))
	}
	// A no-op update keeps the resourceVersion.
	same := s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/merge-patch+json", `{"spec":{"replicas":3}}`), 200)
	if same.str("metadata", "resourceVersion") != two.str("metadata", "resourceVersion") {
		t.Fatalf("no-op patch moved resourceVersion %s → %s", two.str("metadata", "resourceVersion"), same.str("metadata", "resourceVersion"))
	}
	// JSON patch, and the scale subresource.
	s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/json-patch+json",
		`[{"op":"replace","path":"/spec/replicas","value":4}]`), 200)
	sc := s.must(s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/d/scale", "application/merge-patch+json", `{"spec":{"replicas":6}}`), 200)
	if sc.str("kind") != "Scale" || sc.str("spec", "replicas") != "6" {
		t.Fatalf("scale: %s", sc.raw)
	}
	if g := s.must(s.do("GET", "/apis/apps/v1/namespaces/default/deployments/d", "", ""), 200); g.str("spec", "replicas") != "6" {
		t.Fatalf("scale did not reach the deployment: %s", g.str("spec"))
	}
}

func TestApplyCreateOrMerge(t *testing.T) {
	s := newTestServer(t)
	y := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: \"1\"\n"
	s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/ap?fieldManager=test", "application/apply-patch+yaml", y), 201)
	y2 := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  b: \"2\"\n"
	r := s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/ap?fieldManager=test", "application/apply-patch+yaml", y2), 200)
	if r.str("data", "a") != "1" || r.str("data", "b") != "2" {
		t.Fatalf("apply merge: %s", r.raw)
	}
	s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/ap", "application/apply-patch+yaml", y2), 400)
}

func TestNamespaceLifecycle(t *testing.T) {
	s := newTestServer(t)
	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		s.must(s.do("GET", "/api/v1/namespaces/"+ns, "", ""), 200)
	}
	s.must(s.do("DELETE", "/api/v1/namespaces/default", "", ""), 403)
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`
	miss := s.must(s.do("POST", "/api/v1/namespaces/nope/configmaps", js, cm), 404)
	if !strings.Contains(miss.str("message"), `namespaces "nope" not found`) {
		t.Fatalf("create in missing namespace: %s", miss.raw)
	}
	s.must(s.do("POST", "/api/v1/namespaces", js, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"}}`), 201)
	s.must(s.do("POST", "/api/v1/namespaces/gone/configmaps", js, cm), 201)
	d := s.do("DELETE", "/api/v1/namespaces/gone", "", "")
	if d.code != 200 && d.code != 202 {
		t.Fatalf("namespace delete: %d %s", d.code, d.raw)
	}
	if d.str("status", "phase") != "Terminating" || d.str("metadata", "deletionTimestamp") == "" {
		t.Fatalf("deleted namespace is not terminating: %s", d.raw)
	}
	term := s.must(s.do("POST", "/api/v1/namespaces/gone/configmaps", js, strings.Replace(cm, `"a"`, `"b"`, 1)), 403)
	if !strings.Contains(term.str("message"), "being terminated") {
		t.Fatalf("create in terminating namespace: %s", term.raw)
	}
	// Once its finalizers are removed, the namespace goes.
	ns := s.must(s.do("GET", "/api/v1/namespaces/gone", "", ""), 200)
	ns.body["spec"] = map[string]any{"finalizers": []string{}}
	b, _ := json.Marshal(ns.body)
	s.must(s.do("PUT", "/api/v1/namespaces/gone/finalize", js, string(b)), 200)
	s.must(s.do("GET", "/api/v1/namespaces/gone", "", ""), 404)
}

func TestPodBindingAndGracefulDelete(t *testing.T) {
	s := newTestServer(t)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	c := s.must(s.do("POST", "/api/v1/namespaces/default/pods", js, pod), 201)
	if c.str("status", "phase") != "Pending" || c.str("spec", "restartPolicy") != "Always" {
		t.Fatalf("pod defaults: %s", c.raw)
	}
	bind := `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}}`
	s.must(s.do("POST", "/api/v1/namespaces/default/pods/p/binding", js, bind), 201)
	s.must(s.do("POST", "/api/v1/namespaces/default/pods/p/binding", js, bind), 409)
	if g := s.must(s.do("GET", "/api/v1/namespaces/default/pods/p", "", ""), 200); g.str("spec", "nodeName") != "n1" {
		t.Fatalf("binding: %s", g.raw)
	}
	// Bound to a node: deletion is graceful, the node agent finishes it.
	d := s.must(s.do("DELETE", "/api/v1/namespaces/default/pods/p", "", ""), 202)
	if d.str("metadata", "deletionTimestamp") == "" || d.str("metadata", "deletionGracePeriodSeconds") != "30" {
		t.Fatalf("graceful delete: %s", d.raw)
	}
	s.must(s.do("DELETE", "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0", "", ""), 200)
	s.must(s.do("GET", "/api/v1/namespaces/default/pods/p", "", ""), 404)
}

func TestServiceAllocation(t *testing.T) {
	s := newTestServer(t)
	svc := func(name, typ string) string {
		return `{"apiVersion":"v1","kind":"Service","metadata":{"name":"` + name + `"},"spec":{"type":"` + typ + `","selector":{"a":"b"},"ports":[{"port":80}]}}`
	}
	a := s.must(s.do("POST", "/api/v1/namespaces/default/services", js, svc("a", "NodePort")), 201)
	ip := a.str("spec", "clusterIP")
	if !strings.HasPrefix(ip, "10.96.0.") || a.str("spec", "ports", "0", "nodePort") == "" {
		t.Fatalf("allocation: %s", a.raw)
	}
	// The node port range holds 3 ports: two more services fit, the fourth is refused.
	s.must(s.do("POST", "/api/v1/namespaces/default/services", js, svc("b", "NodePort")), 201)
	s.must(s.do("POST", "/api/v1/namespaces/default/services", js, svc("c", "NodePort")), 201)
	full := s.do("POST", "/api/v1/namespaces/default/services", js, svc("d", "NodePort"))
	if full.code < 400 {
		t.Fatalf("a fourth NodePort service was created in a range of three: %s", full.raw)
	}
	s.must(s.do("GET", "/api/v1/namespaces/default/services/d", "", ""), 404)
	// Deleting releases the port.
	s.must(s.do("DELETE", "/api/v1/namespaces/default/services/a", "", ""), 200)
	s.must(s.do("POST", "/api/v1/namespaces/default/services", js, svc("d", "NodePort")), 201)
	// Asking for an allocated ClusterIP is Invalid.
	taken := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"e"},"spec":{"clusterIP":"` +
		s.must(s.do("GET", "/api/v1/namespaces/default/services/b", "", ""), 200).str("spec", "clusterIP") + `","ports":[{"port":80}]}}`
	inv := s.must(s.do("POST", "/api/v1/namespaces/default/services", js, taken), 422)
	if !strings.Contains(string(inv.raw), "already allocated") {
		t.Fatalf("taken ClusterIP: %s", inv.raw)
	}
}

func TestWatch(t *testing.T) {
	s := newTestServer(t)
	c := s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"}}`), 201)
	rv := c.str("metadata", "resourceVersion")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func(query string) *bufio.Scanner {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/api/v1/namespaces/default/configmaps?watch=true&"+query, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return bufio.NewScanner(res.Body)
	}
	type event struct {
		Type   string         `json:"type"`
		Object map[string]any `json:"object"`
	}
	next := func(sc *bufio.Scanner) (event, resp) {
		if !sc.Scan() {
			t.Fatalf("watch ended: %v", sc.Err())
		}
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad watch line %q: %v", sc.Text(), err)
		}
		return ev, resp{body: ev.Object}
	}

	fromRV := open("resourceVersion=" + rv)
	listWatch := open("sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	ev, o := next(listWatch)
	if ev.Type != "ADDED" || o.str("metadata", "name") != "w" {
		t.Fatalf("watch-list initial event: %+v", ev)
	}
	ev, o = next(listWatch)
	if ev.Type != "BOOKMARK" || o.str("metadata", "annotations", "k8s.io/initial-events-end") != "true" {
		t.Fatalf("watch-list end bookmark: %+v", ev)
	}
	s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/w", "application/merge-patch+json", `{"data":{"x":"1"}}`), 200)
	for _, sc := range []*bufio.Scanner{fromRV, listWatch} {
		ev, o := next(sc)
		if ev.Type != "MODIFIED" || o.str("data", "x") != "1" {
			t.Fatalf("change event: %+v", ev)
		}
	}
	s.must(s.do("DELETE", "/api/v1/namespaces/default/configmaps/w", "", ""), 200)
	if ev, _ := next(fromRV); ev.Type != "DELETED" {
		t.Fatalf("delete event: %+v", ev)
	}
	// A revision older than the cache's window (50 events here) is Expired.
	s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"churn"}}`), 201)
	for i := 0; i < 60; i++ {
		s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/churn", "application/merge-patch+json", `{"data":{"i":"`+strconv.Itoa(i)+`"}}`), 200)
	}
	old := open("resourceVersion=" + rv)
	ev, o = next(old)
	if ev.Type != "ERROR" || o.str("code") != "410" {
		t.Fatalf("too old: %+v", ev)
	}
}

func TestBadInput(t *testing.T) {
	s := newTestServer(t)
	path := "/api/v1/namespaces/default/configmaps"
	count := func() int {
		l := s.must(s.do("GET", path, "", ""), 200)
		items, _ := l.body["items"].([]any)
		return len(items)
	}
	tests := []struct {
		name, method, path, ctype, body string
		code                            int
		reason                          string
	}{
		{"malformed JSON", "POST", path, js, `{"apiVersion":`, 400, "BadRequest"},
		{"wrong kind", "POST", path, js, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}`, 400, "BadRequest"},
		{"wrong content type", "POST", path, "text/plain", `hello`, 415, "UnsupportedMediaType"},
		{"oversized body", "POST", path, js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + strings.Repeat("x", 4<<20) + `"}}`, 413, "RequestEntityTooLarge"},
		{"invalid name", "POST", path, js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, "Invalid"},
		{"unknown field strict", "POST", path + "?fieldValidation=Strict", js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"bogus":1}`, 400, "BadRequest"},
		{"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, "NotFound"},
		{"empty body", "POST", path, js, ``, 400, "BadRequest"},
		{"bad patch type", "PATCH", path + "/x", "application/xml", `<x/>`, 415, "UnsupportedMediaType"},
	}
	before := count()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.method, tt.path, tt.ctype, tt.body)
			if r.code != tt.code || r.str("reason") != tt.reason || r.str("kind") != "Status" {
				t.Fatalf("got %d %s, want %d %s: %.300s", r.code, r.str("reason"), tt.code, tt.reason, r.raw)
			}
		})
	}
	if after := count(); after != before {
		t.Fatalf("bad input changed the store: %d objects before, %d after", before, after)
	}
	inv := s.do("POST", path, js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`)
	if !strings.Contains(string(inv.raw), `"field":"metadata.name"`) {
		t.Fatalf("Invalid status does not name metadata.name: %s", inv.raw)
	}
	warn := s.must(s.do("POST", path, js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"bogus":1}`), 201)
	if !strings.Contains(strings.Join(warn.hdr.Values("Warning"), " "), "bogus") {
		t.Fatalf("no warning about the unknown field: %v", warn.hdr)
	}
}

func TestDiscoveryAndOpenAPI(t *testing.T) {
	s := newTestServer(t)
	v := s.must(s.do("GET", "/version", "", ""), 200)
	if v.str("major") != "1" || v.str("gitVersion") == "" {
		t.Fatalf("version: %s", v.raw)
	}
	core := s.must(s.do("GET", "/api/v1", "", ""), 200)
	if !strings.Contains(string(core.raw), `"pods/status"`) || !strings.Contains(string(core.raw), `"name":"pods"`) {
		t.Fatalf("/api/v1: %.400s", core.raw)
	}
	groups := s.must(s.do("GET", "/apis", "", ""), 200)
	for _, g := range []string{"apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io"} {
		if !strings.Contains(string(groups.raw), `"name":"`+g+`"`) {
			t.Fatalf("/apis lacks %s", g)
		}
	}
	root := s.must(s.do("GET", "/openapi/v3", "", ""), 200)
	url := root.str("paths", "apis/apps/v1", "serverRelativeURL")
	if url == "" {
		t.Fatalf("openapi root: %.300s", root.raw)
	}
	doc := s.must(s.do("GET", url, "", ""), 200)
	if !bytes.Contains(doc.raw, []byte(`"fieldValidation"`)) {
		t.Fatal("openapi v3 document does not advertise fieldValidation")
	}
	s.must(s.do("GET", "/healthz", "", ""), 200)
	s.must(s.do("GET", "/readyz", "", ""), 200)
	s.must(s.do("GET", "/livez", "", ""), 200)
	_ = fmt.Sprint()
}

// TestListReadsYourWrites: a consistent list, served from the watch cache once it has caught
// up with etcd, always holds what was just written and is at least as new.
func TestListReadsYourWrites(t *testing.T) {
	s := newTestServer(t)
	for i := 0; i < 30; i++ {
		name := "ryw-" + strconv.Itoa(i)
		c := s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"}}`), 201)
		l := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps", "", ""), 200)
		items, _ := l.body["items"].([]any)
		if len(items) != i+1 {
			t.Fatalf("after %d creates the list holds %d items", i+1, len(items))
		}
		lrv, _ := strconv.ParseInt(l.str("metadata", "resourceVersion"), 10, 64)
		crv, _ := strconv.ParseInt(c.str("metadata", "resourceVersion"), 10, 64)
		if lrv < crv {
			t.Fatalf("list at %d is older than the create at %d", lrv, crv)
		}
	}
}

// TestModuleUploadLargerThanEtcdRequests: a 9 MiB module goes up through the API in one
// streamed request, is stored in chunks below etcd's request limit, and comes back identical;
// a body that does not hash to the stated digest is refused and leaves nothing behind.
func TestModuleUploadLargerThanEtcdRequests(t *testing.T) {
	s := newTestServer(t)
	module := make([]byte, 9<<20+123)
	for i := range module {
		module[i] = byte(i*7 + i>>9)
	}
	sum := sha256.Sum256(module)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	wp := `{"apiVersion":"plugins.tug.dev/v1alpha1","kind":"WasmPlugin","metadata":{"name":"big"},
	  "spec":{"kinds":["admission"],"module":{"digest":"sha256:` + strings.Repeat("0", 64) + `"}}}`
	s.must(s.do("POST", "/apis/plugins.tug.dev/v1alpha1/wasmplugins", js, wp), 201)
	path := "/apis/plugins.tug.dev/v1alpha1/wasmplugins/big/module"

	wrong := "sha256:" + strings.Repeat("1", 64)
	bad := s.do("PUT", path+"?digest="+wrong, "application/wasm", string(module))
	if bad.code != 400 || !strings.Contains(bad.str("message"), "digest mismatch") {
		t.Fatalf("mismatched digest: %d %.300s", bad.code, bad.raw)
	}
	if got := s.must(s.do("GET", "/apis/plugins.tug.dev/v1alpha1/wasmplugins/big", "", ""), 200); got.str("spec", "module", "digest") == wrong {
		t.Fatal("a refused upload changed the plugin's digest")
	}
	ctx := context.Background()
	if resp, _ := s.etcd.Get(ctx, "/registry/plugins.tug.dev/modules/", clientv3.WithPrefix(), clientv3.WithCountOnly()); resp.Count != 0 {
		t.Fatalf("a refused upload left %d keys behind", resp.Count)
	}

	up := s.must(s.do("PUT", path+"?digest="+digest, "application/wasm", string(module)), 200)
	if up.str("spec", "module", "digest") != digest {
		t.Fatalf("upload did not point the plugin at its module: %.300s", up.raw)
	}
	got := s.do("GET", path, "", "")
	if got.code != 200 || !bytes.Equal(got.raw, module) || got.hdr.Get("Content-Type") != "application/wasm" {
		t.Fatalf("module came back as %d, %d bytes, %q", got.code, len(got.raw), got.hdr.Get("Content-Type"))
	}
	// Every stored value stays under etcd's default 1.5 MiB request limit.
	resp, err := s.etcd.Get(ctx, "/registry/plugins.tug.dev/modules/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if len(kv.Value) > 3<<19 {
			t.Fatalf("stored value %s is %d bytes", kv.Key, len(kv.Value))
		}
	}
	// Uploading the same module again is a no-op that still succeeds.
	s.must(s.do("PUT", path+"?digest="+digest, "application/wasm", string(module)), 200)
}

// TestMetrics: /metrics serves request counters in Prometheus format, by verb, resource and code.
func TestMetrics(t *testing.T) {
	s := newTestServer(t)
	s.must(s.do("GET", "/api/v1/namespaces/default/configmaps/missing", "", ""), 404)
	m := s.must(s.do("GET", "/metrics", "", ""), 200)
	want := `apiserver_request_total{code="404",group="",resource="configmaps",subresource="",verb="get"}`
	if !strings.Contains(string(m.raw), want) {
		t.Fatalf("/metrics lacks %s", want)
	}
}

// TestHTTP2Cleartext: clients that speak HTTP/2 with prior knowledge get it, with watches.
func TestHTTP2Cleartext(t *testing.T) {
	s := newTestServer(t)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: tr}
	resp, err := c.Get(s.base + "/api/v1/namespaces/default/configmaps")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("got %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0", nil)
	w, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Body.Close()
	s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h2"}}`), 201)
	line, err := bufio.NewReader(w.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"ADDED"`) || !strings.Contains(line, `"h2"`) {
		t.Fatalf("watch over HTTP/2: %q, %v", line, err)
	}
}
