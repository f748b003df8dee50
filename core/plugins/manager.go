package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	tugruntime "github.com/tugboat-io/tug/runtime"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const pluginsPath = "/apis/plugins.tug.dev/v1alpha1/wasmplugins"

// maxModuleBytes bounds a module fetched from a URL, as the API bounds uploads.
const maxModuleBytes = 64 << 20

// Manager reconciles WasmPlugins into runtime slots.
type Manager struct {
	rt   *tugruntime.Runtime
	base string
	hc   *http.Client
	log  *slog.Logger
	// fetch is the client for module URLs; tests replace it.
	fetch *http.Client

	mu    sync.Mutex
	slots map[string]*entry
}

type entry struct {
	slot *tugruntime.Slot

	mu sync.Mutex // one reconcile of a plugin at a time
	// generation and digest are the spec last swapped in (or refused).
	generation int64
	digest     string
	// A refused version is retried with backoff, for failures that pass (a module pushed
	// a moment after its WasmPlugin, a URL that was down).
	failures int
	retry    *time.Timer
}

// New returns a manager that loads plugins into rt, talking to the API server cfg names.
func New(rt *tugruntime.Runtime, cfg *rest.Config, log *slog.Logger) (*Manager, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Manager{rt: rt, base: strings.TrimSuffix(cfg.Host, "/"), hc: hc, log: log.With("component", "plugins"),
		fetch: &http.Client{Timeout: time.Minute}, slots: map[string]*entry{}}, nil
}

// Slot returns the runtime slot serving plugin name, if the plugin has a loaded version.
func (m *Manager) Slot(name string) (*tugruntime.Slot, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.slots[name]
	if !ok || e.slot.Module() == nil {
		return nil, false
	}
	return e.slot, true
}

// Run follows WasmPlugins until ctx ends: a list, then a watch from its revision, re-listing
// whenever the watch ends. Each change is reconciled in order, one plugin at a time.
func (m *Manager) Run(ctx context.Context) error {
	defer m.closeAll()
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := m.listAndWatch(ctx)
		if ctx.Err() != nil {
			break
		}
		m.log.Warn("plugin watch ended; re-listing", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (m *Manager) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, e := range m.slots {
		_ = e.slot.Close(context.Background())
		delete(m.slots, name)
	}
}

func (m *Manager) listAndWatch(ctx context.Context) error {
	var list pluginsv1alpha1.WasmPluginList
	if err := m.get(ctx, pluginsPath, &list); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range list.Items {
		seen[list.Items[i].Name] = true
		m.reconcile(ctx, &list.Items[i])
	}
	m.mu.Lock()
	var gone []string
	for name := range m.slots {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		m.remove(ctx, name)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		m.base+pluginsPath+"?watch=true&allowWatchBookmarks=true&resourceVersion="+list.ResourceVersion, nil)
	if err != nil {
		return err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watch: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			var p pluginsv1alpha1.WasmPlugin
			if err := json.Unmarshal(ev.Object, &p); err != nil {
				return fmt.Errorf("watch: decode: %w", err)
			}
			m.reconcile(ctx, &p)
		case "DELETED":
			var p pluginsv1alpha1.WasmPlugin
			if err := json.Unmarshal(ev.Object, &p); err == nil {
				m.remove(ctx, p.Name)
			}
		case "ERROR":
			return fmt.Errorf("watch: server said %s", ev.Object)
		}
	}
}

func (m *Manager) remove(ctx context.Context, name string) {
	m.mu.Lock()
	e, ok := m.slots[name]
	delete(m.slots, name)
	m.mu.Unlock()
	if ok {
		e.mu.Lock()
		if e.retry != nil {
			e.retry.Stop()
		}
		e.mu.Unlock()
		_ = e.slot.Close(ctx)
		m.log.Info("plugin removed", "plugin", name)
	}
}

// reconcile brings plugin p's slot to its spec, if the spec changed since it was last applied
// (or, with force, retries the same spec after a failure).
func (m *Manager) reconcile(ctx context.Context, p *pluginsv1alpha1.WasmPlugin) {
	m.reconcileOnce(ctx, p, false)
}

func (m *Manager) reconcileOnce(ctx context.Context, p *pluginsv1alpha1.WasmPlugin, force bool) {
	m.mu.Lock()
	e, ok := m.slots[p.Name]
	if !ok {
		e = &entry{slot: m.rt.NewSlot(p.Name)}
		m.slots[p.Name] = e
	}
	m.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if ok && !force && e.generation == p.Generation && e.digest == p.Spec.Module.Digest {
		return // status writes and no-op updates
	}
	if e.generation != p.Generation || e.digest != p.Spec.Module.Digest {
		e.failures = 0
	}
	e.generation, e.digest = p.Generation, p.Spec.Module.Digest
	if e.retry != nil {
		e.retry.Stop()
		e.retry = nil
	}
	log := m.log.With("plugin", p.Name, "digest", p.Spec.Module.Digest)

	err := m.load(ctx, e.slot, p)
	if err != nil {
		e.failures++
		delay := min(time.Duration(1<<min(e.failures-1, 5))*time.Second, 30*time.Second)
		name, gen := p.Name, p.Generation
		e.retry = time.AfterFunc(delay, func() { m.retry(ctx, name, gen) })
	} else {
		e.failures = 0
	}
	st := e.slot.Status()
	now := metav1.Now()
	conds := p.Status.Conditions
	if err != nil {
		log.Warn("plugin version refused; previous version stays active", "err", err)
		meta.SetStatusCondition(&conds, metav1.Condition{Type: pluginsv1alpha1.ConditionFailed, Status: metav1.ConditionTrue,
			Reason: "LoadFailed", Message: err.Error(), ObservedGeneration: p.Generation, LastTransitionTime: now})
		meta.SetStatusCondition(&conds, metav1.Condition{Type: pluginsv1alpha1.ConditionLoaded, Status: metav1.ConditionFalse,
			Reason: "LoadFailed", Message: err.Error(), ObservedGeneration: p.Generation, LastTransitionTime: now})
	} else {
		log.Info("plugin version active", "kinds", st.Kinds)
		meta.SetStatusCondition(&conds, metav1.Condition{Type: pluginsv1alpha1.ConditionLoaded, Status: metav1.ConditionTrue,
			Reason: "Loaded", Message: "module compiled, checked and configured", ObservedGeneration: p.Generation, LastTransitionTime: now})
		meta.SetStatusCondition(&conds, metav1.Condition{Type: pluginsv1alpha1.ConditionFailed, Status: metav1.ConditionFalse,
			Reason: "Loaded", ObservedGeneration: p.Generation, LastTransitionTime: now})
	}
	active := metav1.Condition{Type: pluginsv1alpha1.ConditionActive, Status: metav1.ConditionFalse, Reason: "NoVersionLoaded",
		Message: "no version of the plugin has loaded yet", ObservedGeneration: p.Generation, LastTransitionTime: now}
	activeDigest := ""
	if st.Digest != "" {
		activeDigest = "sha256:" + st.Digest
		active.Status, active.Reason, active.Message = metav1.ConditionTrue, "Serving", "serving "+activeDigest
		if activeDigest != p.Spec.Module.Digest {
			active.Reason = "PreviousVersionServing"
		}
	}
	meta.SetStatusCondition(&conds, active)
	m.writeStatus(ctx, p.Name, pluginsv1alpha1.WasmPluginStatus{ObservedGeneration: p.Generation, ActiveDigest: activeDigest, Conditions: conds})
}

// retry reconciles plugin name again if its spec is still the generation that failed.
func (m *Manager) retry(ctx context.Context, name string, gen int64) {
	if ctx.Err() != nil {
		return
	}
	var p pluginsv1alpha1.WasmPlugin
	if err := m.get(ctx, pluginsPath+"/"+name, &p); err != nil || p.Generation != gen {
		return // gone, or changed: the watch brings the new spec
	}
	m.reconcileOnce(ctx, &p, true)
}

// load fetches the module and swaps it into the slot with the spec's options.
func (m *Manager) load(ctx context.Context, slot *tugruntime.Slot, p *pluginsv1alpha1.WasmPlugin) error {
	wasm, err := m.module(ctx, p)
	if err != nil {
		return err
	}
	opts := tugruntime.PluginOptions{FailurePolicy: tugruntime.FailurePolicy(p.Spec.FailurePolicy)}
	if p.Spec.Config != nil && len(p.Spec.Config.Raw) > 0 {
		opts.Config = p.Spec.Config.Raw
	}
	for _, c := range p.Spec.Capabilities {
		switch c {
		case pluginsv1alpha1.CapabilityClock:
			opts.Capabilities.Clock = true
		case pluginsv1alpha1.CapabilityRandom:
			opts.Capabilities.Random = true
		}
	}
	if p.Spec.MemoryLimitMiB != nil {
		opts.MemoryLimitPages = uint32(*p.Spec.MemoryLimitMiB) * 16
	}
	if p.Spec.TimeoutMilliseconds != nil {
		opts.Deadline = time.Duration(*p.Spec.TimeoutMilliseconds) * time.Millisecond
	}
	if err := slot.Swap(ctx, wasm, opts); err != nil {
		return err
	}
	got := slot.Module().Kinds()
	for _, want := range p.Spec.Kinds {
		found := false
		for _, k := range got {
			found = found || string(k) == want
		}
		if !found {
			return fmt.Errorf("the module does not implement %s, which spec.kinds declares (it implements %v)", want, got)
		}
	}
	return nil
}

// module returns the module's bytes: from the cluster, or else from spec.module.url, checked
// against the digest and then stored in the cluster for every other server.
func (m *Manager) module(ctx context.Context, p *pluginsv1alpha1.WasmPlugin) ([]byte, error) {
	var buf bytes.Buffer
	err := m.get(ctx, pluginsPath+"/"+p.Name+"/module", &buf)
	if err == nil {
		return buf.Bytes(), nil
	}
	var nf *notFound
	if !errors.As(err, &nf) || p.Spec.Module.URL == "" {
		return nil, fmt.Errorf("module %s: %w", p.Spec.Module.Digest, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Spec.Module.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.fetch.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p.Spec.Module.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", p.Spec.Module.URL, resp.Status)
	}
	wasm, err := io.ReadAll(io.LimitReader(resp.Body, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", p.Spec.Module.URL, err)
	}
	if len(wasm) > maxModuleBytes {
		return nil, fmt.Errorf("fetching %s: more than %d bytes", p.Spec.Module.URL, maxModuleBytes)
	}
	sum := sha256.Sum256(wasm)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != p.Spec.Module.Digest {
		return nil, fmt.Errorf("digest mismatch: %s serves bytes hashing to %s, spec.module.digest is %s", p.Spec.Module.URL, got, p.Spec.Module.Digest)
	}
	put, err := http.NewRequestWithContext(ctx, http.MethodPut, m.base+pluginsPath+"/"+p.Name+"/module?digest="+p.Spec.Module.Digest, bytes.NewReader(wasm))
	if err == nil {
		put.Header.Set("Content-Type", "application/wasm")
		if resp, err := m.hc.Do(put); err == nil {
			resp.Body.Close()
		}
	}
	return wasm, nil
}

type notFound struct{ path string }

func (e *notFound) Error() string { return e.path + ": not found in the cluster" }

func (m *Manager) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return &notFound{path: path}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// writeStatus replaces the plugin's status through the status subresource, retrying on
// conflicts with a fresh read.
func (m *Manager) writeStatus(ctx context.Context, name string, st pluginsv1alpha1.WasmPluginStatus) {
	for attempt := 0; attempt < 5; attempt++ {
		var cur pluginsv1alpha1.WasmPlugin
		if err := m.get(ctx, pluginsPath+"/"+name, &cur); err != nil {
			return
		}
		cur.Status = st
		b, _ := json.Marshal(cur)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.base+pluginsPath+"/"+name+"/status", bytes.NewReader(b))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.hc.Do(req)
		if err != nil {
			m.log.Warn("writing plugin status", "plugin", name, "err", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			return
		}
	}
}
