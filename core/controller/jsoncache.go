package controller

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"github.com/tugboat-io/tug/hostabi"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// jsonCache keeps the JSON of the objects a controller hands its plugin, by UID and
// resourceVersion: a ReplicaSet of a thousand pods is reconciled after every change to one
// of them, and encoding the other 999 again each time cost more than the plugin's decision.
// An entry goes when its object is deleted.
type jsonCache struct {
	mu      sync.Mutex
	entries map[types.UID]cachedJSON
}

type cachedJSON struct {
	rv   string
	data []byte
}

func newJSONCache() *jsonCache { return &jsonCache{entries: map[types.UID]cachedJSON{}} }

// encode returns u's JSON, from the cache when u has not changed since.
func (c *jsonCache) encode(u *unstructured.Unstructured) ([]byte, error) {
	uid, rv := u.GetUID(), u.GetResourceVersion()
	if uid == "" || rv == "" {
		// Not from the API (a pending create the watch has not shown): not cached.
		return u.MarshalJSON()
	}
	c.mu.Lock()
	e, ok := c.entries[uid]
	c.mu.Unlock()
	if ok && e.rv == rv {
		return e.data, nil
	}
	b, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[uid] = cachedJSON{rv, b}
	c.mu.Unlock()
	return b, nil
}

func (c *jsonCache) forget(obj any) {
	if u, ok := unstructuredOf(obj); ok {
		c.mu.Lock()
		delete(c.entries, u.GetUID())
		c.mu.Unlock()
	}
}

// encodeRequest writes a reconcile request by hand: the objects in it are JSON already
// (from the cache), which encoding/json would scan again to validate and compact.
func encodeRequest(req *hostabi.ReconcileRequest) []byte {
	var b bytes.Buffer
	b.WriteString(`{"parent":`)
	b.Write(req.Parent)
	lists := func(name string, m map[string][]json.RawMessage) {
		if len(m) == 0 {
			return
		}
		b.WriteString(`,"` + name + `":{`)
		for i, k := range slices.Sorted(maps.Keys(m)) {
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteString(":[")
			for j, o := range m[k] {
				if j > 0 {
					b.WriteByte(',')
				}
				b.Write(o)
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	lists("children", req.Children)
	lists("related", req.Related)
	if req.Now != "" {
		now, _ := json.Marshal(req.Now)
		b.WriteString(`,"now":`)
		b.Write(now)
	}
	b.WriteByte('}')
	return b.Bytes()
}
