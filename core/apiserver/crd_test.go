package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// widgetCRD is a namespaced CRD with two served versions (v1 stored), a schema exercising
// bounds, enums, defaults and preserved fields, the status and scale subresources and printer
// columns.
const widgetCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"widgets.example.com"},
 "spec":{"group":"example.com","scope":"Namespaced",
  "names":{"plural":"widgets","kind":"Widget","shortNames":["wd"],"categories":["all"]},
  "versions":[
   {"name":"v1beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}},
   {"name":"v1","served":true,"storage":true,
    "subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}},
    "additionalPrinterColumns":[{"name":"Replicas","type":"integer","jsonPath":".spec.replicas"},{"name":"Color","type":"string","jsonPath":".spec.color"}],
    "schema":{"openAPIV3Schema":{"type":"object","properties":{
     "spec":{"type":"object","required":["size"],"properties":{
      "replicas":{"type":"integer","minimum":0,"maximum":10},
      "size":{"type":"string","enum":["S","M","L"]},
      "color":{"type":"string","default":"blue"},
      "port":{"x-kubernetes-int-or-string":true},
      "extra":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
     "status":{"type":"object","properties":{"replicas":{"type":"integer"},"selector":{"type":"string"}}}}}}}]}}`

// waitCRD polls the CRD until cond holds on it.
func (s *testServer) waitCRD(name string, what string, cond func(resp) bool) resp {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.do("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, "", "")
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("crd %s: %s did not happen: %d %s", name, what, r.code, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func condition(r resp, typ string) (status, reason string) {
	conds, _ := r.body["status"].(map[string]any)["conditions"].([]any)
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			re, _ := m["reason"].(string)
			return s, re
		}
	}
	return "", ""
}

func established(r resp) bool {
	st, _ := condition(r, "Established")
	return r.code == 200 && st == "True"
}

func TestCustomResourceDefinitionServesCustomResources(t *testing.T) {
	s := newTestServer(t)
	created := s.must(s.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", js, widgetCRD), 201)
	if created.str("spec", "names", "singular") != "widget" || created.str("spec", "names", "listKind") != "WidgetList" ||
		created.str("spec", "conversion", "strategy") != "None" || created.str("status", "storedVersions") != `["v1"]` {
		t.Fatalf("CRD defaults: %s", created.raw)
	}
	crd := s.waitCRD("widgets.example.com", "Established", established)
	if st, _ := condition(crd, "NamesAccepted"); st != "True" || crd.str("status", "acceptedNames", "kind") != "Widget" {
		t.Fatalf("names not accepted: %s", crd.raw)
	}

	disc := s.must(s.do("GET", "/apis/example.com/v1", "", ""), 200)
	if !strings.Contains(string(disc.raw), `"name":"widgets"`) || !strings.Contains(string(disc.raw), `"shortNames":["wd"]`) ||
		!strings.Contains(string(disc.raw), `"name":"widgets/scale"`) {
		t.Fatalf("discovery: %s", disc.raw)
	}
	if g := s.must(s.do("GET", "/apis/example.com", "", ""), 200); g.str("preferredVersion", "version") != "v1" {
		t.Fatalf("preferred version: %s", g.raw)
	}

	base := "/apis/example.com/v1/namespaces/default/widgets"
	w := s.do("POST", base, js, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","labels":{"app":"a"}},
	  "spec":{"size":"M","replicas":2,"port":"http","bogus":1,"extra":{"anything":{"goes":true}}},"status":{"replicas":9}}`)
	s.must(w, 201)
	if w.str("spec", "color") != "blue" || w.str("spec", "bogus") != "" || w.str("spec", "extra", "anything", "goes") != "true" ||
		w.str("status") != "" || w.str("metadata", "generation") != "1" || w.str("spec", "port") != "http" {
		t.Fatalf("created widget (defaulted, pruned, status dropped): %s", w.raw)
	}
	if !strings.Contains(strings.Join(w.hdr.Values("Warning"), ";"), `unknown field \"spec.bogus\"`) &&
		!strings.Contains(strings.Join(w.hdr.Values("Warning"), ";"), `unknown field 'spec.bogus'`) {
		t.Fatalf("no warning for the pruned field: %q", w.hdr.Values("Warning"))
	}
	strict := s.do("POST", base+"?fieldValidation=Strict", js, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w9"},"spec":{"size":"M","bogus":1}}`)
	if strict.code != 400 || !strings.Contains(strict.str("message"), `unknown field "spec.bogus"`) {
		t.Fatalf("strict unknown field: %d %s", strict.code, strict.raw)
	}

	bad := s.do("POST", base, js, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2"},"spec":{"size":"XL","replicas":100}}`)
	if bad.code != 422 || bad.str("reason") != "Invalid" {
		t.Fatalf("invalid widget: %d %s", bad.code, bad.raw)
	}
	causes := bad.str("details", "causes")
	if !strings.Contains(causes, `"field":"spec.replicas"`) || !strings.Contains(causes, `"field":"spec.size"`) ||
		!strings.Contains(bad.str("message"), "spec.replicas: Invalid value: 100") {
		t.Fatalf("invalid widget causes: %s", bad.raw)
	}
	missing := s.do("POST", base, js, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w3"},"spec":{}}`)
	if missing.code != 422 || !strings.Contains(missing.str("message"), "spec.size: Required value") {
		t.Fatalf("required field: %d %s", missing.code, missing.raw)
	}
	s.must(s.do("POST", "/apis/example.com/v1/namespaces/default/widgets", "application/vnd.kubernetes.protobuf", "\x6b\x38\x73\x00"), 415)

	// Every served version reads the same objects, with its own apiVersion.
	old := s.must(s.do("GET", "/apis/example.com/v1beta1/namespaces/default/widgets/w1", "", ""), 200)
	if old.str("apiVersion") != "example.com/v1beta1" || old.str("spec", "size") != "M" {
		t.Fatalf("v1beta1 read: %s", old.raw)
	}
	list := s.must(s.do("GET", "/apis/example.com/v1/widgets?labelSelector=app%3Da&fieldSelector=metadata.namespace%3Ddefault", "", ""), 200)
	if list.str("kind") != "WidgetList" || list.str("items", "0", "metadata", "name") != "w1" || list.str("items", "1") != "" {
		t.Fatalf("list: %s", list.raw)
	}
	if l := s.must(s.do("GET", base+"?fieldSelector=metadata.name%3Dnope", "", ""), 200); l.str("items", "0") != "" {
		t.Fatalf("field selector matched: %s", l.raw)
	}

	// A watch from the create sees the changes that follow.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+base+"?watch=true&resourceVersion="+w.str("metadata", "resourceVersion"), nil)
	wres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer wres.Body.Close()
	events := bufio.NewScanner(wres.Body)

	// The main resource ignores status; a spec change bumps generation.
	p := s.must(s.do("PATCH", base+"/w1", "application/merge-patch+json", `{"spec":{"replicas":3},"status":{"replicas":7}}`), 200)
	if p.str("metadata", "generation") != "2" || p.str("spec", "replicas") != "3" || p.str("status") != "" {
		t.Fatalf("main resource patch: %s", p.raw)
	}
	if !events.Scan() {
		t.Fatalf("watch ended: %v", events.Err())
	}
	var ev struct {
		Type   string         `json:"type"`
		Object map[string]any `json:"object"`
	}
	if err := json.Unmarshal(events.Bytes(), &ev); err != nil || ev.Type != "MODIFIED" || (resp{body: ev.Object}).str("spec", "replicas") != "3" {
		t.Fatalf("watch event: %s", events.Bytes())
	}
	// The status subresource changes only status, without a generation bump.
	st := s.must(s.do("PATCH", base+"/w1/status", "application/merge-patch+json", `{"spec":{"replicas":9},"status":{"replicas":3,"selector":"app=a"}}`), 200)
	if st.str("status", "replicas") != "3" || st.str("spec", "replicas") != "3" || st.str("metadata", "generation") != "2" {
		t.Fatalf("status patch: %s", st.raw)
	}
	s.must(s.do("PATCH", base+"/w1", "application/strategic-merge-patch+json", `{"spec":{"replicas":4}}`), 415)
	badPatch := s.do("PATCH", base+"/w1", "application/merge-patch+json", `{"spec":{"replicas":-1}}`)
	if badPatch.code != 422 || !strings.Contains(badPatch.str("details", "causes"), `"field":"spec.replicas"`) {
		t.Fatalf("invalid patch: %d %s", badPatch.code, badPatch.raw)
	}

	sc := s.must(s.do("GET", base+"/w1/scale", "", ""), 200)
	if sc.str("kind") != "Scale" || sc.str("spec", "replicas") != "3" || sc.str("status", "replicas") != "3" || sc.str("status", "selector") != "app=a" {
		t.Fatalf("scale: %s", sc.raw)
	}
	s.must(s.do("PATCH", base+"/w1/scale", "application/merge-patch+json", `{"spec":{"replicas":5}}`), 200)
	if g := s.must(s.do("GET", base+"/w1", "", ""), 200); g.str("spec", "replicas") != "5" {
		t.Fatalf("scale did not reach the widget: %s", g.raw)
	}
	tooMany := s.do("PATCH", base+"/w1/scale", "application/merge-patch+json", `{"spec":{"replicas":11}}`)
	if tooMany.code != 422 || !strings.Contains(tooMany.str("message"), "spec.replicas") {
		t.Fatalf("scale beyond the schema's maximum: %d %s", tooMany.code, tooMany.raw)
	}

	tableReq, _ := http.NewRequest("GET", s.base+base, nil)
	tableReq.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	tres, err := http.DefaultClient.Do(tableReq)
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		ColumnDefinitions []struct{ Name string } `json:"columnDefinitions"`
		Rows              []struct{ Cells []any } `json:"rows"`
	}
	_ = json.NewDecoder(tres.Body).Decode(&table)
	tres.Body.Close()
	if len(table.ColumnDefinitions) != 3 || table.ColumnDefinitions[1].Name != "Replicas" || len(table.Rows) != 1 ||
		table.Rows[0].Cells[0] != "w1" || table.Rows[0].Cells[1] != float64(5) || table.Rows[0].Cells[2] != "blue" {
		t.Fatalf("table: %+v", table)
	}

	// Names already served in the group are refused, and nothing new is served.
	clash := strings.NewReplacer(`"name":"widgets.example.com"`, `"name":"gadgets.example.com"`, `"plural":"widgets"`, `"plural":"gadgets"`,
		`"shortNames":["wd"]`, `"shortNames":["gd"]`).Replace(widgetCRD)
	s.must(s.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", js, clash), 201)
	refused := s.waitCRD("gadgets.example.com", "NamesAccepted False", func(r resp) bool { st, _ := condition(r, "NamesAccepted"); return st == "False" })
	if st, _ := condition(refused, "Established"); st == "True" {
		t.Fatalf("conflicting CRD established: %s", refused.raw)
	}
	s.must(s.do("GET", "/apis/example.com/v1/gadgets", "", ""), 404)

	// Deleting the CRD deletes its custom resources, then the CRD, and the kind goes.
	del := s.do("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", "", "")
	if del.code != 200 && del.code != 202 {
		t.Fatalf("delete crd: %d %s", del.code, del.raw)
	}
	s.waitCRD("widgets.example.com", "deletion", func(r resp) bool { return r.code == 404 })
	keys, err := s.etcd.Get(context.Background(), "/registry/example.com/widgets/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || keys.Count != 0 {
		t.Fatalf("widgets left in etcd: %v %v", keys, err)
	}
	s.must(s.do("GET", base, "", ""), 404)
	// Its names are free now: the refused CRD is accepted.
	s.waitCRD("gadgets.example.com", "Established after the conflict went", established)
	s.must(s.do("GET", "/apis/example.com/v1/gadgets", "", ""), 200)
}

func TestCustomResourceDefinitionValidation(t *testing.T) {
	s := newTestServer(t)
	bad := strings.NewReplacer(`"name":"widgets.example.com"`, `"name":"widgets.other.com"`,
		`"scope":"Namespaced"`, `"scope":"Everywhere"`).Replace(widgetCRD)
	r := s.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", js, bad)
	if r.code != 422 || !strings.Contains(r.str("details", "causes"), `"field":"metadata.name"`) || !strings.Contains(r.str("details", "causes"), `"field":"spec.scope"`) {
		t.Fatalf("invalid CRD: %d %s", r.code, r.raw)
	}
}

func TestCustomResourcesSurviveRestart(t *testing.T) {
	s := newTestServer(t)
	s.must(s.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", js, widgetCRD), 201)
	s.waitCRD("widgets.example.com", "Established", established)
	s.must(s.do("POST", "/apis/example.com/v1/namespaces/default/widgets", js, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"kept"},"spec":{"size":"S"}}`), 201)

	// A second server over the same etcd serves the widget from its first request.
	second := s.secondServer()
	got := second.must(second.do("GET", "/apis/example.com/v1/namespaces/default/widgets/kept", "", ""), 200)
	if got.str("spec", "size") != "S" {
		t.Fatalf("widget after restart: %s", got.raw)
	}
}

// secondServer starts another API server over s's etcd, as a restart or an HA peer would.
func (s *testServer) secondServer() *testServer {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(ctx, Config{Etcd: s.etcd, Logger: quiet, ServiceClusterIPRange: "10.96.0.0/24", ServiceNodePortRange: "30000-30002", WatchCacheSize: 50})
	if err != nil {
		s.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	return &testServer{t: s.t, base: "http://" + ln.Addr().String(), etcd: s.etcd}
}
