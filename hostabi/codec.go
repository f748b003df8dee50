package hostabi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error a Decode function returns: the frame is truncated,
// longer than its counts imply, or otherwise not what ABI.md §4.3/§4.4 describes. A host
// treats a malformed result as a guest fault (ABI.md §2).
var ErrMalformed = errors.New("malformed frame")

// Sizes of the fixed parts of the compact frames (ABI.md §4.3, §4.4).
const (
	countSize     = 4  // u32 count
	nodeIDSize    = 4  // u32 node_id
	scoreSize     = 8  // i64 score
	rejectionSize = 12 // u32 node_id | u32 code | u32 reason_len, before the reason bytes
)

// Rejection is one entry of a filter's output: a node the plugin rejects, with a scheduling
// code (CodeError, CodeUnschedulable or CodeUnschedulableAndUnresolvable) and a reason.
type Rejection struct {
	NodeID uint32
	Code   Code
	Reason string
}

// NodeScore is a node id with its score, one entry of normalize's input.
type NodeScore struct {
	NodeID uint32
	Score  int64
}

// AppendNodeIDs appends the node-list frame (the input of tug_sched_filter and
// tug_sched_score, ABI.md §4.3) to dst: u32 count | u32 node_id × count.
func AppendNodeIDs(dst []byte, ids []uint32) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ids)))
	for _, id := range ids {
		dst = binary.LittleEndian.AppendUint32(dst, id)
	}
	return dst
}

// DecodeNodeIDs decodes a node-list frame (filter and score input).
func DecodeNodeIDs(b []byte) ([]uint32, error) {
	n, rest, err := fixedCount(b, nodeIDSize, "node list")
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = binary.LittleEndian.Uint32(rest[i*nodeIDSize:])
	}
	return ids, nil
}

// NodeIDList is a node-list frame's ids read in place: a guest walking the candidates of a
// filter or score call needs no copy of them (DecodeNodeIDs makes one).
type NodeIDList struct{ b []byte }

// ParseNodeIDs checks a node-list frame (ABI.md §4.3) and returns its ids, in place.
func ParseNodeIDs(b []byte) (NodeIDList, error) {
	_, rest, err := fixedCount(b, nodeIDSize, "node list")
	if err != nil {
		return NodeIDList{}, err
	}
	return NodeIDList{rest}, nil
}

// Len is the number of ids.
func (l NodeIDList) Len() int { return len(l.b) / nodeIDSize }

// At returns the i-th id.
func (l NodeIDList) At(i int) uint32 { return binary.LittleEndian.Uint32(l.b[i*nodeIDSize:]) }

// AppendFilterOutput appends a filter output frame (ABI.md §4.3) to dst:
// u32 count | { u32 node_id | u32 code | u32 reason_len | reason } × count.
func AppendFilterOutput(dst []byte, rs []Rejection) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rs)))
	for _, r := range rs {
		dst = binary.LittleEndian.AppendUint32(dst, r.NodeID)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Code))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Reason)))
		dst = append(dst, r.Reason...)
	}
	return dst
}

// DecodeFilterOutput decodes a filter output frame. It checks structure only: codes are
// returned as sent (a host decides what an unknown code means) and reasons are not checked
// for valid UTF-8. Consecutive equal reasons share one string.
func DecodeFilterOutput(b []byte) ([]Rejection, error) {
	if len(b) < countSize {
		return nil, malformed("filter output", "truncated count: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	rest := b[countSize:]
	// Every rejection takes at least rejectionSize bytes: a count the remaining bytes cannot
	// hold is refused before anything is allocated for it.
	if uint64(n)*rejectionSize > uint64(len(rest)) {
		return nil, malformed("filter output", "count %d needs at least %d bytes, have %d",
			n, uint64(n)*rejectionSize, len(rest))
	}
	rs := make([]Rejection, n)
	var last string
	for i := range rs {
		if len(rest) < rejectionSize {
			return nil, malformed("filter output", "rejection %d: truncated header", i)
		}
		id := binary.LittleEndian.Uint32(rest)
		code := binary.LittleEndian.Uint32(rest[4:])
		rlen := binary.LittleEndian.Uint32(rest[8:])
		rest = rest[rejectionSize:]
		if uint64(rlen) > uint64(len(rest)) {
			return nil, malformed("filter output", "rejection %d: reason of %d bytes, have %d", i, rlen, len(rest))
		}
		reason := rest[:rlen]
		rest = rest[rlen:]
		if string(reason) != last { // no allocation for the comparison
			last = string(reason)
		}
		rs[i] = Rejection{NodeID: id, Code: Code(code), Reason: last}
	}
	if len(rest) != 0 {
		return nil, malformed("filter output", "%d bytes after the last rejection", len(rest))
	}
	return rs, nil
}

// AppendScores appends a score frame (the output of tug_sched_score and
// tug_sched_normalize, ABI.md §4.4) to dst: u32 count | i64 score × count.
func AppendScores(dst []byte, scores []int64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(scores)))
	for _, s := range scores {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s))
	}
	return dst
}

// DecodeScores decodes a score frame. Whether the scores are in range and as many as the
// input's nodes is for the caller to check.
func DecodeScores(b []byte) ([]int64, error) {
	n, rest, err := fixedCount(b, scoreSize, "scores")
	if err != nil {
		return nil, err
	}
	scores := make([]int64, n)
	for i := range scores {
		scores[i] = int64(binary.LittleEndian.Uint64(rest[i*scoreSize:]))
	}
	return scores, nil
}

// AppendNormalizeInput appends a normalize input frame (ABI.md §4.4) to dst:
// u32 count | u32 node_id × count | i64 score × count.
func AppendNormalizeInput(dst []byte, scores []NodeScore) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(scores)))
	for _, s := range scores {
		dst = binary.LittleEndian.AppendUint32(dst, s.NodeID)
	}
	for _, s := range scores {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Score))
	}
	return dst
}

// DecodeNormalizeInput decodes a normalize input frame.
func DecodeNormalizeInput(b []byte) ([]NodeScore, error) {
	n, rest, err := fixedCount(b, nodeIDSize+scoreSize, "normalize input")
	if err != nil {
		return nil, err
	}
	out := make([]NodeScore, n)
	scores := rest[int(n)*nodeIDSize:]
	for i := range out {
		out[i] = NodeScore{
			NodeID: binary.LittleEndian.Uint32(rest[i*nodeIDSize:]),
			Score:  int64(binary.LittleEndian.Uint64(scores[i*scoreSize:])),
		}
	}
	return out, nil
}

// fixedCount reads the count of a frame whose elements have a fixed size and checks that the
// frame is exactly as long as the count implies. It returns the count and the bytes after it.
func fixedCount(b []byte, elem uint64, frame string) (uint32, []byte, error) {
	if len(b) < countSize {
		return 0, nil, malformed(frame, "truncated count: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	rest := b[countSize:]
	want := uint64(n) * elem
	switch {
	case want > uint64(len(rest)):
		return 0, nil, malformed(frame, "count %d needs %d bytes, have %d", n, want, len(rest))
	case want < uint64(len(rest)):
		return 0, nil, malformed(frame, "count %d needs %d bytes, have %d: %d trailing",
			n, want, len(rest), uint64(len(rest))-want)
	}
	return n, rest, nil
}

func malformed(frame, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, frame, fmt.Sprintf(format, args...))
}

// The JSON documents of ABI.md §4. Objects are Kubernetes JSON, carried as raw bytes: the
// host neither decodes nor re-encodes what it passes through. Optional fields are omitted
// when empty, and a reader treats an absent field as empty.

// NodeChanges is the input of tug_sched_nodes (ABI.md §4.1).
type NodeChanges struct {
	// Set replaces everything the instance knows about each entry's id.
	Set []NodeEntry `json:"set,omitempty"`
	// Remove lists ids to forget.
	Remove []uint32 `json:"remove,omitempty"`
}

// NodeEntry is one node of NodeChanges.Set: the Node and the pods bound or assumed on it.
type NodeEntry struct {
	ID   uint32            `json:"id"`
	Node json.RawMessage   `json:"node"`
	Pods []json.RawMessage `json:"pods,omitempty"`
}

// PreFilterVerdict is the optional output of tug_sched_prefilter (ABI.md §4.2). An empty
// output, or Code CodeSuccess, means go on.
type PreFilterVerdict struct {
	Code   Code   `json:"code"`
	Reason string `json:"reason,omitempty"`
	// Plugin names the hosted plugin whose pre-filter ended the cycle (ABI.md §4.7).
	Plugin string `json:"plugin,omitempty"`
	// Skip lists the extension points that have nothing to do for the cycle's pod, with
	// Code CodeSuccess (ABI.md §4.8, since 1.2).
	Skip []Skip `json:"skip,omitempty"`
}

// Skip says a plugin passes every node (Filter) or scores every node alike (Score) for the
// cycle's pod, so the host need not call it: Plugin names a hosted plugin, and is empty for
// a module that is one plugin.
type Skip struct {
	Plugin string `json:"plugin,omitempty"`
	Filter bool   `json:"filter,omitempty"`
	Score  bool   `json:"score,omitempty"`
}

// HostedPlugin is one scheduling plugin of a module that hosts several (ABI.md §4.7): its
// name and extension points. Its index is its position in HostedPlugins.
type HostedPlugin struct {
	Name      string `json:"name"`
	Filter    bool   `json:"filter,omitempty"`
	Score     bool   `json:"score,omitempty"`
	Normalize bool   `json:"normalize,omitempty"`
	// PostFilter says the plugin chooses among preemption candidates (ABI.md §4.9).
	PostFilter bool `json:"postFilter,omitempty"`
	// Reserve (with its Unreserve), Permit, PreBind and PostBind say the plugin runs at those
	// extension points (ABI.md §4.10, since 1.6).
	Reserve  bool `json:"reserve,omitempty"`
	Permit   bool `json:"permit,omitempty"`
	PreBind  bool `json:"preBind,omitempty"`
	PostBind bool `json:"postBind,omitempty"`
	// Weight is the plugin's default score weight (1..100; 0 or absent means 1), which a
	// profile may override.
	Weight int64 `json:"weight,omitempty"`
}

// PostFilterInput is the input of tug_sched_postfilter_at after the plugin index (ABI.md
// §4.9): the nodes where the cycle's pod would fit if some of their pods were gone.
type PostFilterInput struct {
	Candidates []Candidate `json:"candidates"`
}

// Candidate is one node of PostFilterInput and the pods ("namespace/name", resident on it)
// that would have to go.
type Candidate struct {
	Node    uint32   `json:"node"`
	Victims []string `json:"victims"`
}

// PostFilterOutput is tug_sched_postfilter_at's answer: the index of the chosen candidate,
// or -1 and why none is.
type PostFilterOutput struct {
	Candidate int    `json:"candidate"`
	Reason    string `json:"reason,omitempty"`
}

// BindingInput is the input of the extension points after the choice of a node (ABI.md
// §4.10): the node, and the pod where the call is not on the instance that keeps the
// cycle's pod (Unreserve, PreBind, PostBind). Waiting lists the pods ("namespace/name")
// waiting at the called plugin's Permit, for Permit.
type BindingInput struct {
	Node    string          `json:"node"`
	Pod     json.RawMessage `json:"pod,omitempty"`
	Waiting []string        `json:"waiting,omitempty"`
}

// BindingVerdict is the optional output of Reserve, Permit and PreBind (ABI.md §4.10): empty,
// or Code CodeSuccess, goes on. From Permit, CodeWait holds the pod for TimeoutMillis, and
// Allow and Reject decide about pods waiting at the plugin.
type BindingVerdict struct {
	Code          Code               `json:"code"`
	Reason        string             `json:"reason,omitempty"`
	TimeoutMillis int64              `json:"timeoutMillis,omitempty"`
	Allow         []string           `json:"allow,omitempty"`
	Reject        []WaitingRejection `json:"reject,omitempty"`
}

// WaitingRejection rejects a pod waiting at a Permit, with a reason.
type WaitingRejection struct {
	Pod    string `json:"pod"`
	Reason string `json:"reason,omitempty"`
}

// HostedPlugins is the output of tug_sched_plugins.
type HostedPlugins struct {
	Plugins []HostedPlugin `json:"plugins"`
}

// HostedConfig is tug_configure's input for a module hosting several plugins: which to
// enable (all when absent) and each one's configuration.
type HostedConfig struct {
	Enabled []string                   `json:"enabled,omitempty"`
	Config  map[string]json.RawMessage `json:"config,omitempty"`
}

// AppendPluginIndex starts an _at operation's input (ABI.md §4.7): u32 plugin index, then the
// v1.0 frame of the operation.
func AppendPluginIndex(dst []byte, index uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, index)
}

// CutPluginIndex splits an _at operation's input into the plugin index and the frame after it.
func CutPluginIndex(b []byte) (uint32, []byte, error) {
	if len(b) < countSize {
		return 0, nil, malformed("plugin index", "truncated: %d bytes", len(b))
	}
	return binary.LittleEndian.Uint32(b), b[countSize:], nil
}

// AdmissionRequest is the input of tug_admit (ABI.md §4.5), named as admission.k8s.io/v1's
// AdmissionRequest.
type AdmissionRequest struct {
	UID                string                `json:"uid"`
	Kind               GroupVersionKind      `json:"kind"`
	Resource           GroupVersionResource  `json:"resource"`
	SubResource        string                `json:"subResource,omitempty"`
	RequestKind        *GroupVersionKind     `json:"requestKind,omitempty"`
	RequestResource    *GroupVersionResource `json:"requestResource,omitempty"`
	RequestSubResource string                `json:"requestSubResource,omitempty"`
	Name               string                `json:"name,omitempty"`
	Namespace          string                `json:"namespace,omitempty"`
	// Operation is CREATE, UPDATE, DELETE or CONNECT.
	Operation string          `json:"operation"`
	UserInfo  UserInfo        `json:"userInfo"`
	Object    json.RawMessage `json:"object,omitempty"`
	OldObject json.RawMessage `json:"oldObject,omitempty"`
	DryRun    *bool           `json:"dryRun,omitempty"`
	Options   json.RawMessage `json:"options,omitempty"`

	// Policy names the AdmissionPolicy being applied (1.5): one module may serve several.
	Policy string `json:"policy,omitempty"`
	// Config is the policy's spec.config (1.5), null when it has none.
	Config json.RawMessage `json:"config,omitempty"`
	// Related holds the objects the policy declares it reads (1.5), keyed like a
	// reconcile's (ABI.md §4.6): "v1/Namespace", "v1/LimitRange".
	Related map[string][]json.RawMessage `json:"related,omitempty"`
}

// GroupVersionKind names a kind, as metav1.GroupVersionKind.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// GroupVersionResource names a resource, as metav1.GroupVersionResource.
type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// UserInfo is who made the request, as authentication.k8s.io/v1 UserInfo.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// AdmissionResponse is the output of tug_admit (ABI.md §4.5), named as admission.k8s.io/v1's
// AdmissionResponse except that Patch is the JSON patch itself rather than base64 with a
// patchType.
type AdmissionResponse struct {
	UID     string           `json:"uid,omitempty"`
	Allowed bool             `json:"allowed"`
	Result  *AdmissionStatus `json:"status,omitempty"`
	// Patch is an RFC 6902 JSON patch, honoured only for mutating policies.
	Patch            []PatchOperation  `json:"patch,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
	// StatusUpdates (1.5) are related objects whose status the host writes atomically with
	// the admitted request, each at the metadata.resourceVersion it carries: a quota's usage.
	// If any of them changed meanwhile, nothing is written and the request is admitted
	// again from the start.
	StatusUpdates []json.RawMessage `json:"statusUpdates,omitempty"`
}

// AdmissionStatus is the part of a metav1.Status an admission response carries.
type AdmissionStatus struct {
	Code    int32  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// PatchOperation is one operation of an RFC 6902 JSON patch.
type PatchOperation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// ReconcileRequest is the input of tug_reconcile (ABI.md §4.6). Children and Related are
// keyed by apiVersion/kind ("v1/Pod", "apps/v1/Deployment").
type ReconcileRequest struct {
	Parent   json.RawMessage              `json:"parent"`
	Children map[string][]json.RawMessage `json:"children,omitempty"`
	Related  map[string][]json.RawMessage `json:"related,omitempty"`
	// Now is the host's clock when it gathered the input, RFC 3339 with nanoseconds (1.3):
	// a plugin has no clock of its own, and deadlines (minReadySeconds, progress deadlines,
	// schedules) are measured against this.
	Now string `json:"now,omitempty"`
}

// ReconcileResult is the output of tug_reconcile (ABI.md §4.6): the desired children keyed
// as in ReconcileRequest, actions on single children (1.3), the parent's status, events to
// record on the parent, and when to reconcile again.
type ReconcileResult struct {
	// Children, per key present, is every child of that kind that should exist: the host
	// creates the new, updates the changed and deletes the rest.
	Children map[string][]json.RawMessage `json:"children,omitempty"`
	// Create, Update and Delete act on single children of kinds Children leaves out (1.3),
	// for parents with many children of which a reconcile changes few.
	Create []json.RawMessage `json:"create,omitempty"`
	Update []json.RawMessage `json:"update,omitempty"`
	Delete []ObjectRef       `json:"delete,omitempty"`
	Status json.RawMessage   `json:"status,omitempty"`
	// ParentAnnotations are merged into the parent's annotations (1.3): for what a
	// controller records on the object itself, like a Deployment's revision.
	ParentAnnotations map[string]string `json:"parentAnnotations,omitempty"`
	Events            []Event           `json:"events,omitempty"`
	// RequeueAfterSeconds asks for another reconcile this long after now even if nothing
	// changes (1.3): for a deadline or a schedule. Zero asks for none.
	RequeueAfterSeconds float64 `json:"requeueAfterSeconds,omitempty"`
	// ParentPatch is a JSON merge patch (RFC 7386) of the parent's metadata and spec (1.4),
	// applied at the resourceVersion the reconcile read: for what a controller changes on
	// the object itself, like a Node's taints. It may not touch status.
	ParentPatch json.RawMessage `json:"parentPatch,omitempty"`
	// DeleteParent asks the host to delete the parent (1.4), with its UID as a precondition:
	// a finished Job past its ttlSecondsAfterFinished.
	DeleteParent bool `json:"deleteParent,omitempty"`
}

// ObjectRef names one child: its kind, its name, its namespace (1.4; where a cluster-scoped
// parent's children are in several) and, as a precondition, its UID.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// Event is an event a reconcile asks the host to record on the parent.
type Event struct {
	// Type is Normal or Warning.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}
