package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/encrypt"
	"github.com/tugboat-io/tug/core/store/storetest"
)

// transformer encrypts the given resources ("*.*": every key) with one aesgcm key of
// repeated b, and reads plain values too.
func transformer(t *testing.T, resources string, name string, b byte) *encrypt.Transformer {
	t.Helper()
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
	tr, err := encrypt.Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ['` + resources + `']
  providers:
  - aesgcm: {keys: [{name: ` + name + `, secret: ` + secret + `}]}
  - identity: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var aesPrefix = []byte("k8s:enc:aesgcm:v1:")

// The conformance suite passes with every value encrypted, and every value it leaves behind —
// main keys, claimed and guarded side keys — is encrypted in etcd.
func TestConformanceEncrypted(t *testing.T) {
	cli := embedded(t)
	storetest.Run(t, store.New(cli, "/registry", store.WithTransformer(transformer(t, "*.*", "k", 1))))

	resp, err := cli.Get(context.Background(), "/registry/storetest/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		t.Fatal("the suite left no keys to check")
	}
	for _, kv := range resp.Kvs {
		if !bytes.HasPrefix(kv.Value, aesPrefix) {
			t.Errorf("%s is stored unencrypted: %q", kv.Key, kv.Value)
		}
	}
}

func TestEncryptedReads(t *testing.T) {
	cli := embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := store.New(cli, "/registry", store.WithTransformer(transformer(t, "secrets", "key1", 1)))
	const key = "/core/secrets/default/db"

	// A value written before encryption was turned on reads, and is stale.
	if _, err := cli.Put(ctx, "/registry"+key, "plain"); err != nil {
		t.Fatal(err)
	}
	kv, err := s.Get(ctx, key)
	if err != nil || string(kv.Value) != "plain" || !kv.Stale {
		t.Fatalf("pre-encryption value: %+v, %v", kv, err)
	}
	rev, err := s.Update(ctx, key, []byte("secret"), kv.ModRevision)
	if err != nil {
		t.Fatal(err)
	}
	if kv, err := s.Get(ctx, key); err != nil || string(kv.Value) != "secret" || kv.Stale {
		t.Fatalf("after a rewrite: %+v, %v", kv, err)
	}

	// Watch and list return plaintext.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	ch := s.Watch(wctx, "/core/secrets/", rev-1)
	select {
	case resp := <-ch:
		if resp.Err != nil || len(resp.Events) != 1 || string(resp.Events[0].Value) != "secret" || string(resp.Events[0].PrevValue) != "plain" {
			t.Fatalf("watch: %+v", resp)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
	list, err := s.List(ctx, "/core/secrets/", store.ListOptions{})
	if err != nil || len(list.Items) != 1 || string(list.Items[0].Value) != "secret" {
		t.Fatalf("list: %+v, %v", list, err)
	}

	// A value no key opens fails reads with an error naming the key, and the watch that
	// meets it ends with that error.
	raw, err := cli.Get(ctx, "/registry"+key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(raw.Kvs[0].Value)
	tampered[len(tampered)-1] ^= 1
	if _, err := cli.Put(ctx, "/registry"+key, string(tampered)); err != nil {
		t.Fatal(err)
	}
	var te *store.TransformError
	if _, err := s.Get(ctx, key); !errors.As(err, &te) || te.Key != key || !errors.Is(err, store.ErrTransform) || !errors.Is(err, encrypt.ErrDecrypt) {
		t.Fatalf("get of a tampered value: %v", err)
	}
	if _, err := s.List(ctx, "/core/secrets/", store.ListOptions{}); !errors.Is(err, encrypt.ErrDecrypt) {
		t.Fatalf("list over a tampered value: %v", err)
	}
	select {
	case resp := <-ch:
		if !errors.Is(resp.Err, encrypt.ErrDecrypt) {
			t.Fatalf("watch over a tampered value: %+v", resp)
		}
	case <-ctx.Done():
		t.Fatal("the watch did not report the tampered value")
	}
	// Deleting is how such a value is got rid of: it succeeds, with no previous value.
	prev, _, err := s.Delete(ctx, key, 0)
	if err != nil || prev.Value != nil || prev.Key != key {
		t.Fatalf("delete of a tampered value: %+v, %v", prev, err)
	}
}

// The watch cache reads encrypted values, and leaves out one it cannot read without stopping.
func TestCacheEncrypted(t *testing.T) {
	cli := embedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := store.New(cli, "/registry", store.WithTransformer(transformer(t, "*.*", "k", 2)))
	p := "/core/configmaps/"
	if _, err := s.Create(ctx, p+"a", []byte("web")); err != nil {
		t.Fatal(err)
	}
	c := store.NewCache(s, p, 10, decodeCM, nil)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(store.WatchOptions{Initial: true, Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(w.Initial) != 1 || appOf(w.Initial[0]) != "web" {
		t.Fatalf("initial events: %+v", w.Initial)
	}

	// A value sealed for key a, copied to key b: it does not authenticate there.
	raw, err := cli.Get(ctx, "/registry"+p+"a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/registry"+p+"b", string(raw.Kvs[0].Value)); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Create(ctx, p+"c", []byte("db"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Key != p+"b" || ev.Object() != nil {
		t.Fatalf("the moved value was served: %+v", ev)
	}
	if ev := next(t, w); ev.Type != watch.Added || appOf(ev) != "db" || ev.Revision != rev {
		t.Fatalf("event after the unreadable one: %+v", ev)
	}
	if _, ok := c.Get(p + "b"); ok {
		t.Fatal("cache serves the moved value")
	}
	objs, _ := c.List(p, nil)
	if len(objs) != 2 {
		t.Fatalf("cache lists %d objects, want a and c", len(objs))
	}
}

func appOf(ev *store.CacheEvent) string {
	if o, ok := ev.Object().(interface{ GetLabels() map[string]string }); ok {
		return o.GetLabels()["app"]
	}
	return ""
}
