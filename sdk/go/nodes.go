package tug

import (
	"bytes"
	"fmt"
	"iter"
	"slices"
	"unsafe"

	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// nodeTable holds the resident nodes by id: a slice for the small, dense ids hosts hand out
// (ABI.md §4.1 recommends numbering nodes from 0 and reusing freed numbers), a map for any
// others. A filter call looks up every candidate node, so this is on the per-node path.
type nodeTable struct {
	dense  []*NodeInfo
	sparse map[uint32]*NodeInfo
	gen    uint64 // counts the changes applied
}

// maxDense bounds the slice: ids past it go to the map.
const maxDense = 1 << 16

func (t *nodeTable) get(id uint32) *NodeInfo {
	if id < uint32(len(t.dense)) {
		return t.dense[id]
	}
	if id < maxDense {
		return nil
	}
	return t.sparse[id]
}

func (t *nodeTable) set(ni *NodeInfo) {
	if ni.ID >= maxDense {
		if t.sparse == nil {
			t.sparse = map[uint32]*NodeInfo{}
		}
		t.sparse[ni.ID] = ni
		return
	}
	for uint32(len(t.dense)) <= ni.ID {
		t.dense = append(t.dense, nil)
	}
	t.dense[ni.ID] = ni
}

func (t *nodeTable) remove(id uint32) {
	switch {
	case id < uint32(len(t.dense)):
		t.dense[id] = nil
	case id >= maxDense:
		delete(t.sparse, id)
	}
}

// Nodes iterates over every resident node, dense ids first in id order: a plugin's view of
// the whole cluster, for pre-filters that count across it (spreading, affinity, image
// locality). A NodeInfo is replaced, never changed, when its node or pods change.
func Nodes() iter.Seq[*NodeInfo] {
	return func(yield func(*NodeInfo) bool) {
		for _, ni := range reg.nodes.dense {
			if ni != nil && !yield(ni) {
				return
			}
		}
		ids := make([]uint32, 0, len(reg.nodes.sparse))
		for id := range reg.nodes.sparse {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if !yield(reg.nodes.sparse[id]) {
				return
			}
		}
	}
}

// NodesGeneration changes whenever the resident nodes do: a plugin that derives cluster-wide
// state from Nodes recomputes it only when this moved.
func NodesGeneration() uint64 { return reg.nodes.gen }

// decodeNodeChanges decodes tug_sched_nodes' input (ABI.md §4.1), all or nothing: the nodes
// to set, decoded, and the ids to remove.
func decodeNodeChanges(in []byte) (set []*NodeInfo, remove []uint32, err error) {
	r := jsonread.New(in)
	if !r.Begin('{') {
		if r.Err() == nil {
			return nil, nil, fmt.Errorf("decode node changes: not a JSON object")
		}
		return nil, nil, fmt.Errorf("decode node changes: %w", r.Err())
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "set":
			if r.Begin('[') {
				for r.Next(']') {
					ni, err := readNodeEntry(r, reg.nodes.get)
					if err != nil {
						return nil, nil, err
					}
					set = append(set, ni)
				}
			}
		case "remove":
			if r.Begin('[') {
				for r.Next(']') {
					remove = append(remove, uint32(r.Uint(32)))
				}
			}
		default:
			r.Skip()
		}
	}
	if err := r.End(); err != nil {
		return nil, nil, fmt.Errorf("decode node changes: %w", err)
	}
	return set, remove, nil
}

// readNodeEntry reads one {"id", "node", "pods"} entry of node changes. A host resends a
// node whole when one of its pods changes, so the Node and the pods whose JSON is what the
// id's current state was decoded from are kept, not decoded again: resident returns that
// state.
func readNodeEntry(r *jsonread.Reader, resident func(id uint32) *NodeInfo) (*NodeInfo, error) {
	ni := &NodeInfo{}
	var hasID bool
	var err error
	var old *NodeInfo
	var oldPods map[string]*Pod // by their JSON, built on the first pod
	// ABI.md §4.1 does not order an entry's fields; the id comes first in practice, and a
	// node or pods before it are merely decoded.
	lookup := func() *NodeInfo {
		if old == nil && hasID {
			old = resident(ni.ID)
		}
		return old
	}
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "id":
				ni.ID, hasID = uint32(r.Uint(32)), true
			case "node":
				raw := r.Skip()
				if r.Err() != nil {
					break
				}
				if o := lookup(); o != nil && bytes.Equal(o.Node.Raw, raw) {
					ni.Node = o.Node
					break
				}
				if ni.Node, err = DecodeNode(raw); err != nil {
					return nil, fmt.Errorf("node id %d: %w", ni.ID, err)
				}
			case "pods":
				ni.Pods = nil
				if r.Begin('[') {
					for r.Next(']') {
						raw := r.Skip()
						if r.Err() != nil {
							break
						}
						if o := lookup(); o != nil && oldPods == nil {
							oldPods = make(map[string]*Pod, len(o.Pods))
							for _, p := range o.Pods {
								// Keyed by the JSON in place: inputs are never written after
								// they arrive (every tug_alloc is a fresh region).
								oldPods[unsafe.String(unsafe.SliceData(p.Raw), len(p.Raw))] = p
							}
						}
						if p := oldPods[string(raw)]; p != nil {
							ni.Pods = append(ni.Pods, p)
							continue
						}
						p, err := DecodePod(raw)
						if err != nil {
							name := ""
							if ni.Node != nil {
								name = " (" + ni.Node.Name + ")"
							}
							return nil, fmt.Errorf("node id %d%s, pod %d: %w", ni.ID, name, len(ni.Pods), err)
						}
						ni.Pods = append(ni.Pods, p)
					}
				}
			default:
				r.Skip()
			}
		}
	}
	switch {
	case r.Err() != nil:
		return nil, fmt.Errorf("decode node changes: %w", r.Err())
	case !hasID:
		return nil, fmt.Errorf("decode node changes: a node entry without an id")
	case ni.Node == nil:
		return nil, fmt.Errorf("node id %d: no node", ni.ID)
	}
	if ni.Pods == nil {
		ni.Pods = []*Pod{}
	}
	return ni, nil
}

// NodeCache keeps a value derived from each resident node, for a plugin that keeps per-node
// state across cycles (the sums of its pods' requests, match counts): the value is derived
// again only when the node's NodeInfo is replaced. Lookups index by node id, as the SDK's
// node table does, since they run once per node per cycle. The zero value is ready to use.
type NodeCache[T any] struct {
	dense  []nodeCached[T]
	sparse map[uint32]nodeCached[T]
}

type nodeCached[T any] struct {
	info *NodeInfo
	v    T
}

// Get returns ni's value, calling derive if ni is new to the cache.
func (c *NodeCache[T]) Get(ni *NodeInfo, derive func(*NodeInfo) T) T {
	if ni.ID < maxDense {
		if ni.ID < uint32(len(c.dense)) && c.dense[ni.ID].info == ni {
			return c.dense[ni.ID].v
		}
		for uint32(len(c.dense)) <= ni.ID {
			c.dense = append(c.dense, nodeCached[T]{})
		}
		v := derive(ni)
		c.dense[ni.ID] = nodeCached[T]{info: ni, v: v}
		return v
	}
	if e, ok := c.sparse[ni.ID]; ok && e.info == ni {
		return e.v
	}
	v := derive(ni)
	if c.sparse == nil {
		c.sparse = map[uint32]nodeCached[T]{}
	}
	c.sparse[ni.ID] = nodeCached[T]{info: ni, v: v}
	return v
}

// Len is how many resident nodes have a value: values of replaced or removed node states do
// not count (their memory is reused when their id is).
func (c *NodeCache[T]) Len() int {
	n := 0
	for id, e := range c.dense {
		if e.info != nil && reg.nodes.get(uint32(id)) == e.info {
			n++
		}
	}
	for id, e := range c.sparse {
		if reg.nodes.get(id) == e.info {
			n++
		}
	}
	return n
}
