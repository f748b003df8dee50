package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/internal/wasmbuild"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// cluster is an API server on embedded etcd, and a plugin manager on a runtime beside it.
type cluster struct {
	t    *testing.T
	base string
	mgr  *Manager
}

func newCluster(t *testing.T) *cluster {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := apiservertest.Start(t, apiserver.Config{Logger: quiet})
	rt, err := tugruntime.New(ctx, tugruntime.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	mgr, err := New(rt, &rest.Config{Host: api.URL}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Run(ctx) }()
	return &cluster{t: t, base: api.URL, mgr: mgr}
}

func (c *cluster) do(method, path, ctype string, body []byte) []byte {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		c.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return b
}

// waitFor polls the plugin until cond holds, failing after a generous deadline.
func (c *cluster) waitFor(name, what string, cond func(*pluginsv1alpha1.WasmPlugin) bool) *pluginsv1alpha1.WasmPlugin {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var p pluginsv1alpha1.WasmPlugin
	for time.Now().Before(deadline) {
		p = pluginsv1alpha1.WasmPlugin{}
		_ = json.Unmarshal(c.do("GET", pluginsPath+"/"+name, "", nil), &p)
		if cond(&p) {
			return &p
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("plugin %s never became %s; status %+v", name, what, p.Status)
	return nil
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func buildNodeLabel(t *testing.T) []byte {
	return wasmbuild.Build(t, filepath.Join("..", "..", "sdk", "go", "examples", "nodelabel"), ".")
}

func cond(p *pluginsv1alpha1.WasmPlugin, typ string) string {
	c := meta.FindStatusCondition(p.Status.Conditions, typ)
	if c == nil {
		return ""
	}
	return string(c.Status)
}

// TestPluginLifecycle follows one plugin from the API into the runtime: pushed after its
// object exists, loaded and active; a broken version and then a refused configuration are each
// reported as Failed while the good version keeps serving; deleting the plugin unloads it.
func TestPluginLifecycle(t *testing.T) {
	good := buildNodeLabel(t)
	c := newCluster(t)
	d1 := digestOf(good)
	wp := `{"apiVersion":"plugins.tug.dev/v1alpha1","kind":"WasmPlugin","metadata":{"name":"zone"},
	  "spec":{"kinds":["scheduler-filter"],"module":{"digest":"` + d1 + `"},"config":{"label":"zone","values":["a"]}}}`
	c.do("POST", pluginsPath, "application/json", []byte(wp))
	c.waitFor("zone", "Failed (module not pushed yet)", func(p *pluginsv1alpha1.WasmPlugin) bool { return cond(p, "Failed") == "True" })

	c.do("PUT", pluginsPath+"/zone/module?digest="+d1, "application/wasm", good)
	p := c.waitFor("zone", "Active", func(p *pluginsv1alpha1.WasmPlugin) bool {
		return cond(p, "Active") == "True" && p.Status.ActiveDigest == d1 && cond(p, "Failed") == "False"
	})
	if cond(p, "Loaded") != "True" || p.Status.ObservedGeneration != p.Generation {
		t.Fatalf("active plugin's status: %+v", p.Status)
	}
	slot, ok := c.mgr.Slot("zone")
	if !ok || len(slot.Module().Kinds()) != 1 {
		t.Fatal("no slot serving the active plugin")
	}

	broken := []byte("\x00asm\x01\x00\x00\x00 not really a module")
	d2 := digestOf(broken)
	c.do("PUT", pluginsPath+"/zone/module?digest="+d2, "application/wasm", broken)
	p = c.waitFor("zone", "Failed with the broken version", func(p *pluginsv1alpha1.WasmPlugin) bool {
		return p.Spec.Module.Digest == d2 && cond(p, "Failed") == "True" && p.Status.ObservedGeneration == p.Generation
	})
	if p.Status.ActiveDigest != d1 || cond(p, "Active") != "True" {
		t.Fatalf("the good version should keep serving: %+v", p.Status)
	}
	if s, _ := c.mgr.Slot("zone"); s.Status().Digest != strings.TrimPrefix(d1, "sha256:") {
		t.Fatalf("slot serves %s, want the good version", s.Status().Digest)
	}

	patch := `{"spec":{"module":{"digest":"` + d1 + `"},"config":{"label":"zone","values":[]}}}`
	c.do("PATCH", pluginsPath+"/zone", "application/merge-patch+json", []byte(patch))
	p = c.waitFor("zone", "Failed with a refused configuration", func(p *pluginsv1alpha1.WasmPlugin) bool {
		f := meta.FindStatusCondition(p.Status.Conditions, "Failed")
		return f != nil && f.Status == "True" && p.Status.ObservedGeneration == p.Generation && strings.Contains(f.Message, "values")
	})
	if p.Status.ActiveDigest != d1 {
		t.Fatalf("a refused configuration replaced the serving version: %+v", p.Status)
	}

	c.do("DELETE", pluginsPath+"/zone", "", nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := c.mgr.Slot("zone"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted plugin is still loaded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPluginFromURL: a module the cluster does not hold is fetched from spec.module.url, but
// only if its bytes hash to spec.module.digest; fetched bytes are stored in the cluster.
func TestPluginFromURL(t *testing.T) {
	good := buildNodeLabel(t)
	served := good
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(served) }))
	defer srv.Close()
	c := newCluster(t)

	wrong := `{"apiVersion":"plugins.tug.dev/v1alpha1","kind":"WasmPlugin","metadata":{"name":"remote-bad"},
	  "spec":{"kinds":["scheduler-filter"],"module":{"digest":"sha256:` + strings.Repeat("ab", 32) + `","url":"` + srv.URL + `/m.wasm"},
	  "config":{"label":"zone","values":["a"]}}}`
	c.do("POST", pluginsPath, "application/json", []byte(wrong))
	p := c.waitFor("remote-bad", "Failed on a digest mismatch", func(p *pluginsv1alpha1.WasmPlugin) bool {
		f := meta.FindStatusCondition(p.Status.Conditions, "Failed")
		return f != nil && f.Status == "True" && strings.Contains(f.Message, "digest mismatch")
	})
	if p.Status.ActiveDigest != "" {
		t.Fatalf("mismatched bytes became active: %+v", p.Status)
	}

	right := strings.Replace(strings.Replace(wrong, "remote-bad", "remote", 1), "sha256:"+strings.Repeat("ab", 32), digestOf(good), 1)
	c.do("POST", pluginsPath, "application/json", []byte(right))
	c.waitFor("remote", "Active from its URL", func(p *pluginsv1alpha1.WasmPlugin) bool {
		return cond(p, "Active") == "True" && p.Status.ActiveDigest == digestOf(good)
	})
	if got := c.do("GET", pluginsPath+"/remote/module", "", nil); !bytes.Equal(got, good) {
		t.Fatalf("the fetched module was not stored in the cluster (%d bytes back)", len(got))
	}
}
