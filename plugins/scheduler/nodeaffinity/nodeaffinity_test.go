package nodeaffinity

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// node is a node named n1 with labels zone=a, disk=ssd, cores=16.
const node = `{"metadata":{"name":"n1","labels":{"zone":"a","disk":"ssd","cores":"16"}}}`

func required(terms string) string {
	return `{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":` + terms + `}}}}}`
}

func TestFilter(t *testing.T) {
	no := "UnschedulableAndUnresolvable: " + ErrReasonPod
	for _, c := range []struct {
		name, pod, want string
	}{
		{"nothing asked", `{}`, ""},
		{"nodeSelector matches", `{"spec":{"nodeSelector":{"zone":"a","disk":"ssd"}}}`, ""},
		{"nodeSelector value differs", `{"spec":{"nodeSelector":{"zone":"b"}}}`, no},
		{"nodeSelector label missing", `{"spec":{"nodeSelector":{"gpu":"yes"}}}`, no},
		{"In", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]`), ""},
		{"In, not listed", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]}]`), no},
		{"NotIn", required(`[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["b"]}]}]`), ""},
		{"NotIn, listed", required(`[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}]`), no},
		{"NotIn, label missing", required(`[{"matchExpressions":[{"key":"gpu","operator":"NotIn","values":["a"]}]}]`), ""},
		{"Exists", required(`[{"matchExpressions":[{"key":"disk","operator":"Exists"}]}]`), ""},
		{"Exists, missing", required(`[{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}]`), no},
		{"DoesNotExist", required(`[{"matchExpressions":[{"key":"gpu","operator":"DoesNotExist"}]}]`), ""},
		{"DoesNotExist, present", required(`[{"matchExpressions":[{"key":"zone","operator":"DoesNotExist"}]}]`), no},
		{"Gt", required(`[{"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]}]`), ""},
		{"Gt, equal", required(`[{"matchExpressions":[{"key":"cores","operator":"Gt","values":["16"]}]}]`), no},
		{"Lt", required(`[{"matchExpressions":[{"key":"cores","operator":"Lt","values":["32"]}]}]`), ""},
		{"Lt, not a number", required(`[{"matchExpressions":[{"key":"zone","operator":"Lt","values":["32"]}]}]`), no},
		{"expressions in a term are ANDed", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},{"key":"disk","operator":"In","values":["hdd"]}]}]`), no},
		{"terms are ORed", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}]`), ""},
		{"an empty term matches nothing", required(`[{}]`), no},
		{"no terms match nothing", required(`[]`), no},
		{"matchFields on the name", required(`[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}]`), ""},
		{"matchFields, another name", required(`[{"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n1"]}]}]`), no},
		{"nodeSelector and affinity both apply", `{"spec":{"nodeSelector":{"zone":"b"},"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"Exists"}]}]}}}}}`, no},
	} {
		t.Run(c.name, func(t *testing.T) {
			pod := testutil.Pod(t, c.pod)
			state := &tug.CycleState{}
			if st := (NodeAffinity{}).PreFilter(state, pod); !st.IsSuccess() {
				t.Fatal(st)
			}
			got := testutil.Verdict(NodeAffinity{}.Filter(state, pod, testutil.Node(t, node)))
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	pod := testutil.Pod(t, `{"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
		{"weight":60,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}},
		{"weight":20,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}},
		{"weight":5,"preference":{}}]}}}}`)
	state := &tug.CycleState{}
	if st := (NodeAffinity{}).PreFilter(state, pod); !st.IsSuccess() {
		t.Fatal(st)
	}
	nodes := []string{
		`{"metadata":{"name":"both","labels":{"zone":"a","disk":"ssd"}}}`,
		`{"metadata":{"name":"zone","labels":{"zone":"a"}}}`,
		`{"metadata":{"name":"disk","labels":{"disk":"ssd"}}}`,
		`{"metadata":{"name":"none"}}`,
	}
	var scores []tug.NodeScore
	for _, n := range nodes {
		ni := testutil.Node(t, n)
		s, st := NodeAffinity{}.Score(state, pod, ni)
		if !st.IsSuccess() {
			t.Fatal(st)
		}
		scores = append(scores, tug.NodeScore{Name: ni.Name(), Score: s})
	}
	raw := []int64{80, 60, 20, 0}
	for i, s := range scores {
		if s.Score != raw[i] {
			t.Errorf("%s raw score %d, want %d", s.Name, s.Score, raw[i])
		}
	}
	if st := (NodeAffinity{}).NormalizeScore(state, pod, scores); !st.IsSuccess() {
		t.Fatal(st)
	}
	for i, want := range []int64{100, 75, 25, 0} {
		if scores[i].Score != want {
			t.Errorf("%s normalized %d, want %d", scores[i].Name, scores[i].Score, want)
		}
	}
}

func TestMalformedAffinityIsUnresolvable(t *testing.T) {
	pod := testutil.Pod(t, `{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":"nope"}}}}`)
	if st := (NodeAffinity{}).PreFilter(&tug.CycleState{}, pod); st.Code() != tug.CodeUnschedulableAndUnresolvable {
		t.Fatalf("PreFilter: %v", st)
	}
}
