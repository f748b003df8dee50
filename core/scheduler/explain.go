package scheduler

import (
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Explanation is a pod's last scheduling attempt, as `tug explain pod` prints it: each
// evaluated node's filter verdict and, for the feasible ones, each plugin's weighted score.
type Explanation struct {
	Pod     string    `json:"pod"` // namespace/name
	Time    time.Time `json:"time"`
	Profile string    `json:"profile"`
	// Node is the chosen node ("" when none fit or the cycle failed).
	Node string `json:"node,omitempty"`
	// Message is FailedScheduling's message, or the error that failed the cycle.
	Message string `json:"message,omitempty"`
	// NumAllNodes, Evaluated and Feasible count the cluster's nodes, those filtered before
	// enough were found feasible (percentageOfNodesToScore), and those that passed.
	NumAllNodes int `json:"numAllNodes"`
	Evaluated   int `json:"evaluated"`
	Feasible    int `json:"feasible"`
	// PreFilter is set when a pre-filter rejected the pod for every node.
	PreFilter *Verdict `json:"preFilter,omitempty"`
	// Rejected is each rejected node's verdict: the first plugin of the chain that rejected it.
	Rejected map[string]Verdict `json:"rejected,omitempty"`
	// Passed are the feasible nodes; Scores are per plugin, per node (weight applied).
	Passed []string                    `json:"passed,omitempty"`
	Scores map[string]map[string]int64 `json:"scores,omitempty"`
}

// explanations keeps the last attempt of the most recently attempted pods, up to a bound.
type explanations struct {
	mu    sync.Mutex
	max   int
	order *list.List // of keys, most recent at the front
	byKey map[string]*list.Element
	last  map[string]*Explanation
}

func newExplanations(max int) *explanations {
	return &explanations{max: max, order: list.New(), byKey: map[string]*list.Element{}, last: map[string]*Explanation{}}
}

func (e *explanations) record(x *Explanation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.byKey[x.Pod]; ok {
		e.order.MoveToFront(el)
	} else {
		e.byKey[x.Pod] = e.order.PushFront(x.Pod)
	}
	e.last[x.Pod] = x
	for e.order.Len() > e.max {
		oldest := e.order.Back()
		key := oldest.Value.(string)
		e.order.Remove(oldest)
		delete(e.byKey, key)
		delete(e.last, key)
	}
}

func (e *explanations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.byKey[key]; ok {
		e.order.Remove(el)
		delete(e.byKey, key)
		delete(e.last, key)
	}
}

func (e *explanations) get(key string) (*Explanation, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.last[key]
	return x, ok
}

// explain turns a cycle's result into an Explanation.
func explain(pod types.NamespacedName, profile string, res *Result, err error) *Explanation {
	x := &Explanation{Pod: pod.String(), Time: time.Now().UTC(), Profile: profile}
	if err != nil {
		x.Message = err.Error()
		return x
	}
	d := res.Diagnosis
	x.Node, x.NumAllNodes, x.Evaluated, x.Feasible = res.Node, d.NumAllNodes, res.Evaluated, res.Feasible
	x.PreFilter, x.Rejected, x.Scores, x.Passed = d.PreFilter, d.Rejected, res.Scores, res.Passed
	if res.Node == "" {
		x.Message = d.Message()
	}
	return x
}

// Explain returns the last attempt the scheduler made for a pod, if it remembers one.
func (s *Scheduler) Explain(namespace, name string) (*Explanation, bool) {
	return s.explained.get(namespace + "/" + name)
}

// Handler serves explanations for `tug explain pod`: GET /explain/NAMESPACE/NAME answers the
// Explanation as JSON, or 404.
func (s *Scheduler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /explain/{namespace}/{name}", func(w http.ResponseWriter, r *http.Request) {
		x, ok := s.Explain(r.PathValue("namespace"), r.PathValue("name"))
		if !ok {
			http.Error(w, fmt.Sprintf("the scheduler has not tried pod %s/%s since it became leader (or has forgotten it)",
				r.PathValue("namespace"), r.PathValue("name")), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(x)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return mux
}

// ExplainAnnotation on the scheduler's Lease is the URL of the leader's explain endpoint.
const ExplainAnnotation = "scheduler.tug.dev/explain-url"

// advertise records the explain URL on the Lease the term leads by, so that `tug explain`
// reaches the leader, whichever server it runs in.
func (s *Scheduler) advertise(ctx context.Context) {
	if s.explainURL == "" || s.election == nil {
		return
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, ExplainAnnotation, s.explainURL)
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		_, err := s.client.CoordinationV1().Leases(s.election.Namespace).Patch(ctx, s.election.Name,
			types.MergePatchType, []byte(patch), metaPatchOptions)
		if err == nil {
			return
		}
		s.log.Debug("explain URL not recorded on the lease yet", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

var metaPatchOptions = metav1.PatchOptions{FieldManager: "tug-scheduler"}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// FormatExplanation renders an explanation as tables for a terminal.
func FormatExplanation(x *Explanation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Pod %s: last attempt %s by profile %s\n", x.Pod, x.Time.Format(time.RFC3339), x.Profile)
	switch {
	case x.Node != "":
		fmt.Fprintf(&b, "Result: scheduled to %s\n", x.Node)
	default:
		fmt.Fprintf(&b, "Result: not scheduled: %s\n", x.Message)
	}
	if x.NumAllNodes > 0 {
		fmt.Fprintf(&b, "Nodes: %d in the cluster, %d evaluated, %d feasible\n", x.NumAllNodes, x.Evaluated, x.Feasible)
	}
	if x.PreFilter != nil {
		fmt.Fprintf(&b, "PreFilter: %s rejected the pod for every node: %s (%s)\n", x.PreFilter.Plugin, x.PreFilter.Reason, x.PreFilter.Code)
	}
	if len(x.Rejected) > 0 {
		b.WriteString("\nFILTERED OUT\tPLUGIN\tREASON\n")
		for _, node := range sortedKeys(x.Rejected) {
			v := x.Rejected[node]
			fmt.Fprintf(&b, "%s\t%s\t%s (%s)\n", node, v.Plugin, v.Reason, v.Code)
		}
	}
	if len(x.Passed) > 0 {
		plugins := sortedKeys(x.Scores)
		b.WriteString("\nFEASIBLE")
		for _, p := range plugins {
			b.WriteString("\t" + p)
		}
		if len(plugins) > 0 {
			b.WriteString("\tTOTAL")
		}
		b.WriteString("\n")
		for _, node := range x.Passed {
			b.WriteString(node)
			var total int64
			for _, p := range plugins {
				fmt.Fprintf(&b, "\t%d", x.Scores[p][node])
				total += x.Scores[p][node]
			}
			if len(plugins) > 0 {
				fmt.Fprintf(&b, "\t%d", total)
			}
			if node == x.Node {
				b.WriteString("\t<- chosen")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
