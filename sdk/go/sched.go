package tug

// Filter is a scheduler filter: it decides, node by node, whether the cycle's pod may run on
// a node. It is called for every candidate node of a cycle (the SDK turns the host's one
// batched call into these calls); returning a non-success Status rejects the node with
// that code and reason.
type Filter interface {
	Filter(state *CycleState, pod *Pod, node *NodeInfo) *Status
}

// Score is a scheduler score: it rates the nodes that passed every filter. Without
// NormalizeScore a score is in 0..MaxNodeScore; a non-success Status fails the pod's
// scheduling cycle.
type Score interface {
	Score(state *CycleState, pod *Pod, node *NodeInfo) (int64, *Status)
}

// Normalizer is implemented by a Score whose raw scores need mapping to 0..MaxNodeScore
// once all nodes are scored (for example, dividing by the highest). NormalizeScore changes
// the scores in place and must not reorder them.
type Normalizer interface {
	NormalizeScore(state *CycleState, pod *Pod, scores []NodeScore) *Status
}

// PreFilter is implemented by a Filter or Score that wants to look at the pod once per
// scheduling cycle, before any node: to precompute into the CycleState, to end the cycle for
// this pod at once with a rejecting Status (every node is rejected with it), or to return
// Skip when its Filter would pass every node for this pod (a pod without host ports, for
// NodePorts), so that the host leaves the Filter out.
type PreFilter interface {
	PreFilter(state *CycleState, pod *Pod) *Status
}

// PreScore is implemented by a Score that can tell, once per cycle and before any node, that
// it would rate every node alike for this pod (a pod without preferences, say): returning
// Skip leaves its Score out of the cycle. Any other non-success Status fails the cycle. Unlike
// the framework's PreScore it runs with the pre-filters, so it sees no nodes; state for
// scoring is computed in PreFilter.
type PreScore interface {
	PreScore(state *CycleState, pod *Pod) *Status
}

// Candidate is a node where the cycle's pod would fit if Victims, pods resident on it of lower
// priority than the pod, were gone.
type Candidate struct {
	Node    *NodeInfo
	Victims []*Pod
}

// PostFilter chooses where to preempt when no node fits the cycle's pod (the framework's
// PostFilter, as DefaultPreemption): the host finds the candidates and the fewest victims on
// each (ABI.md §4.9); PostFilter returns the index of the one to preempt on, or -1 and a
// Status saying why none. A hosted plugin may implement PostFilter alone.
type PostFilter interface {
	PostFilter(state *CycleState, pod *Pod, candidates []Candidate) (int, *Status)
}

// NodeWatcher is implemented by a Filter or Score that keeps cluster-wide state (counts per
// topology domain, the nodes holding an image, the nodes with pods that have affinity
// terms) up to date as nodes change, instead of walking every node in each cycle.
// NodeChanged is called once for each node the host sets or removes, after the change is
// applied: old is nil for a node that is new, new is nil for a node that went. A NodeInfo is
// never changed in place, so old stays as it was.
type NodeWatcher interface {
	NodeChanged(old, new *NodeInfo)
}

// MaxNodeScore is the highest score (the framework's MaxNodeScore); the lowest is 0.
const MaxNodeScore = 100

// FilterFunc adapts a function to a Filter.
type FilterFunc func(state *CycleState, pod *Pod, node *NodeInfo) *Status

// Filter calls f.
func (f FilterFunc) Filter(state *CycleState, pod *Pod, node *NodeInfo) *Status {
	return f(state, pod, node)
}

// ScoreFunc adapts a function to a Score.
type ScoreFunc func(state *CycleState, pod *Pod, node *NodeInfo) (int64, *Status)

// Score calls f.
func (f ScoreFunc) Score(state *CycleState, pod *Pod, node *NodeInfo) (int64, *Status) {
	return f(state, pod, node)
}

// NodeInfo is a node as the plugin instance keeps it: the Node and the pods bound or
// assumed on it. The SDK keeps every node resident and updates it as the host sends
// changes; treat it as read-only.
type NodeInfo struct {
	// ID is the host's number for the node, stable for the node's life in this instance.
	ID   uint32
	Node *Node
	Pods []*Pod
}

// Name returns the node's name.
func (n *NodeInfo) Name() string { return n.Node.Name }

// NodeScore is a node's score, as NormalizeScore sees it.
type NodeScore struct {
	ID    uint32
	Name  string
	Score int64
}

// CycleState holds what a plugin computes during one scheduling cycle (one pod), shared by
// its PreFilter, Filter, Score and NormalizeScore calls of that cycle. It starts empty at
// every cycle.
type CycleState struct {
	m map[string]any
}

// Read returns the value stored under key.
func (c *CycleState) Read(key string) (any, bool) {
	v, ok := c.m[key]
	return v, ok
}

// Write stores a value under key.
func (c *CycleState) Write(key string, v any) {
	if c.m == nil {
		c.m = map[string]any{}
	}
	c.m[key] = v
}

// Delete removes key.
func (c *CycleState) Delete(key string) { delete(c.m, key) }

// ReadState returns what plugin's PreFilter wrote under key, as a T; missing state is the
// plugin's error (a host that skipped PreFilter), not a verdict on the node.
func ReadState[T any](c *CycleState, key, plugin string) (T, *Status) {
	v, ok := c.m[key].(T)
	if !ok {
		var zero T
		return zero, Errorf("%s: no pre-filter state", plugin)
	}
	return v, nil
}

// RegisterFilter makes f the plugin's filter. Call it once, from init; the module must also
// import github.com/tugboat-io/tug/sdk/go/kinds/filter.
func RegisterFilter(f Filter) {
	mustRegister("RegisterFilter", f == nil, reg.filter != nil)
	reg.filter = f
}

// RegisterScore makes s the plugin's score; if s is a Normalizer its NormalizeScore runs
// after all nodes are scored. Call it once, from init; the module must also import
// github.com/tugboat-io/tug/sdk/go/kinds/score.
func RegisterScore(s Score) {
	mustRegister("RegisterScore", s == nil, reg.score != nil)
	reg.score = s
}
