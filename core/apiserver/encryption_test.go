package apiserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/encrypt"
)

// encCluster is one etcd that API servers with different encryption configurations take
// turns on, as a cluster does across restarts.
type encCluster struct {
	t   *testing.T
	cli *clientv3.Client
	log *slog.Logger
}

func newEncCluster(t *testing.T) *encCluster {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &encCluster{t: t, cli: apiservertest.StartEtcd(t, log), log: log}
}

// start runs an API server with tr (nil: no encryption) until stop.
func (c *encCluster) start(tr store.Transformer) (client kubernetes.Interface, stop func()) {
	c.t.Helper()
	srv := apiservertest.StartOn(c.t, apiserver.Config{Etcd: c.cli, Logger: c.log, Transformer: tr})
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL}), srv.Stop
}

// raw is a Secret's value as etcd holds it.
func (c *encCluster) raw(name string) []byte {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), "/registry/core/secrets/default/"+name)
	if err != nil || len(resp.Kvs) != 1 {
		c.t.Fatalf("raw read of secret %s: %v", name, err)
	}
	return resp.Kvs[0].Value
}

func (c *encCluster) putRaw(name string, value []byte) {
	c.t.Helper()
	if _, err := c.cli.Put(context.Background(), "/registry/core/secrets/default/"+name, string(value)); err != nil {
		c.t.Fatal(err)
	}
}

// keys builds the transformer of aesgcm keys "name=b" (the secret is 32 bytes of b), then identity.
func keys(t *testing.T, named ...string) store.Transformer {
	t.Helper()
	var ks []encrypt.KeyConfig
	for _, n := range named {
		name, b, _ := strings.Cut(n, "=")
		ks = append(ks, encrypt.KeyConfig{Name: name, Secret: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b[0]}, 32))})
	}
	tr, err := encrypt.New(encrypt.Config{Resources: []encrypt.ResourceConfig{{Resources: []string{"secrets"},
		Providers: []encrypt.ProviderConfig{{AESGCM: &encrypt.KeysConfig{Keys: ks}}, {Identity: &struct{}{}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func secretObj(name, password string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"password": []byte(password)}}
}

func mustCreate(t *testing.T, c kubernetes.Interface, s *corev1.Secret) *corev1.Secret {
	t.Helper()
	out, err := c.CoreV1().Secrets("default").Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func password(t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	s, err := c.CoreV1().Secrets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret %s: %v", name, err)
	}
	return string(s.Data["password"])
}

// replace writes a Secret back unchanged, as `kubectl get -o json | kubectl replace -f -`
// does, and returns its resourceVersion before and after.
func replace(t *testing.T, c kubernetes.Interface, name string) (before, after string) {
	t.Helper()
	ctx := context.Background()
	s, err := c.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CoreV1().Secrets("default").Update(ctx, s, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.ResourceVersion, out.ResourceVersion
}

// encryptedWith fails unless value is sealed by the named aesgcm key and hides plaintext.
func encryptedWith(t *testing.T, what string, value []byte, key, plaintext string) {
	t.Helper()
	if !bytes.HasPrefix(value, []byte("k8s:enc:aesgcm:v1:"+key+":")) {
		t.Fatalf("%s: stored as %.60q, want it sealed by key %s", what, value, key)
	}
	for _, leak := range []string{plaintext, base64.StdEncoding.EncodeToString([]byte(plaintext)), `"password"`} {
		if bytes.Contains(value, []byte(leak)) {
			t.Fatalf("%s: the stored value holds %q", what, leak)
		}
	}
}

func plainStored(t *testing.T, what string, value []byte) {
	t.Helper()
	if !bytes.HasPrefix(value, []byte("{")) {
		t.Fatalf("%s: stored as %.60q, want plain JSON", what, value)
	}
}

// TestEncryptionAtRest walks a cluster through turning encryption on, rotating the key and
// losing a key, reading etcd directly to see what is stored.
func TestEncryptionAtRest(t *testing.T) {
	c := newEncCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Before encryption: a Secret stored plain.
	api, stop := c.start(nil)
	mustCreate(t, api, secretObj("before", "hunter0"))
	plainStored(t, "a Secret written without encryption", c.raw("before"))
	stop()

	// Encryption on with key1: new Secrets are sealed, old ones still read.
	api, stop = c.start(keys(t, "key1=a"))
	t.Run("OldValueReads", func(t *testing.T) {
		if got := password(t, api, "before"); got != "hunter0" {
			t.Fatalf("pre-encryption secret reads %q", got)
		}
	})
	s1 := mustCreate(t, api, secretObj("s1", "hunter1"))
	mustCreate(t, api, secretObj("k1only", "hunter9"))
	t.Run("CreateEncrypts", func(t *testing.T) {
		encryptedWith(t, "created secret", c.raw("s1"), "key1", "hunter1")
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v"}}
		if _, err := api.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		resp, err := c.cli.Get(ctx, "/registry/core/configmaps/default/cm")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatal(err)
		}
		plainStored(t, "a ConfigMap (not configured)", resp.Kvs[0].Value)
	})
	t.Run("ReadsArePlaintext", func(t *testing.T) {
		if got := password(t, api, "s1"); got != "hunter1" {
			t.Fatalf("get: %q", got)
		}
		// A consistent list is served by the watch cache, a paged one by etcd.
		for _, opts := range []metav1.ListOptions{{}, {Limit: 1}, {ResourceVersion: "0"}} {
			var all []corev1.Secret
			for {
				l, err := api.CoreV1().Secrets("default").List(ctx, opts)
				if err != nil {
					t.Fatalf("list %+v: %v", opts, err)
				}
				all = append(all, l.Items...)
				if opts.Continue = l.Continue; l.Continue == "" {
					break
				}
			}
			found := map[string]string{}
			for _, s := range all {
				found[s.Name] = string(s.Data["password"])
			}
			if found["s1"] != "hunter1" || found["before"] != "hunter0" {
				t.Fatalf("list %+v: %v", opts, found)
			}
		}
	})
	t.Run("Watch", func(t *testing.T) {
		w, err := api.CoreV1().Secrets("default").Watch(ctx, metav1.ListOptions{ResourceVersion: s1.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		cur, err := api.CoreV1().Secrets("default").Get(ctx, "s1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Data["password"] = []byte("hunter1b")
		if _, err := api.CoreV1().Secrets("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev := <-w.ResultChan():
				s, ok := ev.Object.(*corev1.Secret)
				if !ok {
					t.Fatalf("watch event %v %T", ev.Type, ev.Object)
				}
				if ev.Type == watch.Modified && s.Name == "s1" {
					if got := string(s.Data["password"]); got != "hunter1b" {
						t.Fatalf("watch event carries %q", got)
					}
					encryptedWith(t, "updated secret", c.raw("s1"), "key1", "hunter1b")
					return
				}
			case <-ctx.Done():
				t.Fatal("no MODIFIED event")
			}
		}
	})
	t.Run("ReplaceEncryptsOldValue", func(t *testing.T) {
		before, after := replace(t, api, "before")
		if before == after {
			t.Fatal("replacing a plain Secret unchanged did not rewrite it")
		}
		encryptedWith(t, "replaced pre-encryption secret", c.raw("before"), "key1", "hunter0")
		// A value already under the current key is not rewritten: a no-op stays a no-op.
		if before, after := replace(t, api, "s1"); before != after {
			t.Fatalf("an unchanged current value was rewritten: %s → %s", before, after)
		}
	})
	t.Run("DeletePreconditions", func(t *testing.T) {
		mustCreate(t, api, secretObj("gone", "x"))
		cur, err := api.CoreV1().Secrets("default").Get(ctx, "gone", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stale := "1"
		err = api.CoreV1().Secrets("default").Delete(ctx, "gone", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}})
		if !apierrors.IsConflict(err) {
			t.Fatalf("delete with a stale resourceVersion: %v, want Conflict", err)
		}
		rv := cur.ResourceVersion
		if err := api.CoreV1().Secrets("default").Delete(ctx, "gone", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}}); err != nil {
			t.Fatal(err)
		}
	})
	stop()

	// Rotation: key2 first writes, key1 second still reads.
	api, stop = c.start(keys(t, "key2=b", "key1=a"))
	t.Run("Rotation", func(t *testing.T) {
		if got := password(t, api, "s1"); got != "hunter1b" {
			t.Fatalf("a key1 value after rotation reads %q", got)
		}
		mustCreate(t, api, secretObj("s2", "hunter2"))
		encryptedWith(t, "secret created after rotation", c.raw("s2"), "key2", "hunter2")
		before, after := replace(t, api, "s1")
		if before == after {
			t.Fatal("replacing a key1 value unchanged did not rewrite it")
		}
		encryptedWith(t, "replaced key1 secret", c.raw("s1"), "key2", "hunter1b")
		encryptedWith(t, "untouched key1 secret", c.raw("k1only"), "key1", "hunter9")
	})
	stop()

	// key1 dropped too early: its values fail with an error naming it; the rest serve.
	api, stop = c.start(keys(t, "key2=b"))
	t.Run("MissingKey", func(t *testing.T) {
		_, err := api.CoreV1().Secrets("default").Get(ctx, "k1only", metav1.GetOptions{})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `key "key1"`) || !strings.Contains(err.Error(), "not configured") {
			t.Fatalf("get of a value under a removed key: %v", err)
		}
		if got := password(t, api, "s2"); got != "hunter2" {
			t.Fatalf("a key2 value reads %q", got)
		}
		// The watch cache leaves the unreadable Secret out rather than failing every list.
		l, err := api.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Items {
			if s.Name == "k1only" {
				t.Fatal("an unreadable Secret was listed")
			}
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		v := bytes.Clone(c.raw("s2"))
		v[len(v)-3] ^= 0x40
		c.putRaw("s2", v)
		_, err := api.CoreV1().Secrets("default").Get(ctx, "s2", metav1.GetOptions{})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "cannot decrypt") {
			t.Fatalf("get of a tampered value: %v", err)
		}
	})
	t.Run("MovedToAnotherKey", func(t *testing.T) {
		// s1's ciphertext copied over another Secret does not pass as that Secret.
		c.putRaw("impostor", c.raw("s1"))
		_, err := api.CoreV1().Secrets("default").Get(ctx, "impostor", metav1.GetOptions{})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "cannot decrypt") {
			t.Fatalf("get of a moved value: %v", err)
		}
		if got := password(t, api, "s1"); got != "hunter1b" {
			t.Fatalf("the original reads %q", got)
		}
	})
	stop()

	// The right name with the wrong secret (a key file regenerated after loss).
	api, _ = c.start(keys(t, "key2=z"))
	t.Run("WrongKey", func(t *testing.T) {
		_, err := api.CoreV1().Secrets("default").Get(ctx, "s1", metav1.GetOptions{})
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), `aesgcm key "key2": cannot decrypt`) {
			t.Fatalf("get with the wrong key: %v", err)
		}
	})
}
