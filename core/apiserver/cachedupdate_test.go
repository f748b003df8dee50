package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
)

// Updates start from the watch cache's copy, which may be behind etcd. Writes made behind
// the server's back, straight to etcd, must never be lost to a later update (the write is
// guarded by the revision read), and an update pinned to a revision the cache has not seen
// yet must not be refused as a conflict.
func TestUpdatesFromTheCacheLoseNothing(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"api":"0","etcd":"0"}}`), 201)
	// The server watches configmaps from here on, so its cache holds the object.
	s.must(s.do("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", "", ""), 200)
	const key = "/registry/core/configmaps/default/a"
	for i := 1; i <= 30; i++ {
		got, err := s.etcd.Get(ctx, key)
		if err != nil || len(got.Kvs) != 1 {
			t.Fatalf("etcd get: %v", err)
		}
		var cm map[string]any
		if err := json.Unmarshal(got.Kvs[0].Value, &cm); err != nil {
			t.Fatal(err)
		}
		cm["data"].(map[string]any)["etcd"] = strconv.Itoa(i)
		raw, _ := json.Marshal(cm)
		put, err := s.etcd.Put(ctx, key, string(raw))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			// Unpinned: applied to whatever is current.
			s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/a", "application/merge-patch+json",
				fmt.Sprintf(`{"data":{"api":"%d"}}`, i)), 200)
		} else {
			// Pinned to the revision just written behind the server's back.
			s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/a", "application/merge-patch+json",
				fmt.Sprintf(`{"metadata":{"resourceVersion":"%d"},"data":{"api":"%d"}}`, put.Header.Revision, i)), 200)
		}
		r := s.must(s.do("GET", "/api/v1/namespaces/default/configmaps/a", "", ""), 200)
		if r.str("data", "api") != strconv.Itoa(i) || r.str("data", "etcd") != strconv.Itoa(i) {
			t.Fatalf("round %d: data %s, want api and etcd both %d", i, r.str("data"), i)
		}
	}
}

// A refusal judged on the cache's copy is not final: made immutable, then made mutable again
// behind the server's back, a ConfigMap takes the next update.
func TestUpdateRefusedOnAStaleCopyIsRetried(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	s.must(s.do("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", "", ""), 200)
	const key = "/registry/core/configmaps/default/b"
	for i := 1; i <= 10; i++ {
		name := fmt.Sprint("b", i)
		s.must(s.do("POST", "/api/v1/namespaces/default/configmaps", js,
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"`+name+`"},"immutable":true,"data":{"k":"0"}}`), 201)
		s.must(s.do("GET", "/api/v1/namespaces/default/configmaps/"+name, "", ""), 200)
		k := key[:len(key)-1] + name
		got, err := s.etcd.Get(ctx, k)
		if err != nil || len(got.Kvs) != 1 {
			t.Fatalf("etcd get %s: %v", k, err)
		}
		var cm map[string]any
		if err := json.Unmarshal(got.Kvs[0].Value, &cm); err != nil {
			t.Fatal(err)
		}
		cm["immutable"] = false
		raw, _ := json.Marshal(cm)
		if _, err := s.etcd.Put(ctx, k, string(raw)); err != nil {
			t.Fatal(err)
		}
		s.must(s.do("PATCH", "/api/v1/namespaces/default/configmaps/"+name, "application/merge-patch+json", `{"data":{"k":"1"}}`), 200)
	}
}
