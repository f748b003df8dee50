package tug

import (
	"fmt"
	"iter"
	"slices"

	"github.com/tugboat-io/tug/sdk/go/internal/jsonread"
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
					ni, err := readNodeEntry(r)
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

// readNodeEntry reads one {"id", "node", "pods"} entry of node changes.
func readNodeEntry(r *jsonread.Reader) (*NodeInfo, error) {
	ni := &NodeInfo{}
	var hasID bool
	var err error
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
// state across cycles (the pods with affinity terms, match counts): the value is derived
// again only when the node's NodeInfo is replaced, and dropped when the node goes. The zero
// value is ready to use.
type NodeCache[T any] struct {
	entries map[uint32]nodeCached[T]
	gen     uint64 // NodesGeneration when entries were last pruned
}

type nodeCached[T any] struct {
	info *NodeInfo
	v    T
}

// Get returns ni's value, calling derive if ni is new to the cache.
func (c *NodeCache[T]) Get(ni *NodeInfo, derive func(*NodeInfo) T) T {
	if c.gen != reg.nodes.gen {
		// Once per change of the resident nodes: drop what belongs to replaced or removed
		// node states, by lookup rather than by walking the cluster.
		for id, e := range c.entries {
			if reg.nodes.get(id) != e.info {
				delete(c.entries, id)
			}
		}
		c.gen = reg.nodes.gen
	}
	if e, ok := c.entries[ni.ID]; ok && e.info == ni {
		return e.v
	}
	v := derive(ni)
	if c.entries == nil {
		c.entries = map[uint32]nodeCached[T]{}
	}
	c.entries[ni.ID] = nodeCached[T]{info: ni, v: v}
	return v
}

// Len is how many nodes have a value.
func (c *NodeCache[T]) Len() int { return len(c.entries) }
