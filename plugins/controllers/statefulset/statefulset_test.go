package statefulset_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	"github.com/tugboat-io/tug/plugins/controllers/statefulset"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const template = `{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:2"}],
	"volumes":[{"name":"config","configMap":{"name":"web"}},{"name":"data","emptyDir":{}}]}}`

// newRev is the update revision of template; pods at "web-old" are of an earlier template.
var newRev = func() string {
	var t workload.Template
	if err := json.Unmarshal([]byte(template), &t); err != nil {
		panic(err)
	}
	return "web-" + t.Hash()
}()

const oldRev = "web-old"

// set is a StatefulSet "web" of replicas pods; extra adds spec fields and status its status.
type set struct {
	replicas int
	extra    string // more spec fields, each with a leading comma
	status   string
}

func (s set) json() string {
	st := s.status
	if st == "" {
		st = "{}"
	}
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"default","uid":"s-1","generation":5},
	"spec":{"replicas":%d,"serviceName":"web-svc","selector":{"matchLabels":{"app":"web"}},"template":%s%s},"status":%s}`, s.replicas, template, s.extra, st)
}

const (
	parallel  = `,"podManagementPolicy":"Parallel"`
	onDelete  = `,"updateStrategy":{"type":"OnDelete"}`
	withClaim = `,"volumeClaimTemplates":[{"metadata":{"name":"data","labels":{"tier":"db"}},
		"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}},"status":{"phase":"Pending"}}]`
)

func partition(n int) string {
	return fmt.Sprintf(`,"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":%d}}`, n)
}

// pod is a member pod: its ordinal, revision, phase, whether (and how long) it is ready.
type pod struct {
	ordinal  int
	rev      string
	phase    string
	readyAgo time.Duration
	deleting bool
}

const notReady = -1

// ready is a member at rev, Running and Ready for an hour.
func ready(ordinal int, rev string) pod {
	return pod{ordinal: ordinal, rev: rev, phase: "Running", readyAgo: time.Hour}
}

func (p pod) json() string {
	cond := ""
	if p.readyAgo >= 0 {
		cond = fmt.Sprintf(`,"conditions":[{"type":"Ready","status":"True","lastTransitionTime":%q}]`, now.Add(-p.readyAgo).Format(time.RFC3339))
	}
	del := ""
	if p.deleting {
		del = fmt.Sprintf(`"deletionTimestamp":%q,`, now.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-%d","uid":"u-%d",%s"labels":{"app":"web","controller-revision-hash":%q}},
	"spec":{"nodeName":"n1"},"status":{"phase":%q%s}}`, p.ordinal, p.ordinal, del, p.rev, p.phase, cond)
}

func claim(name string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":%q,"uid":"c-%s"},"spec":{}}`, name, name)
}

func reconcile(t *testing.T, s set, claims []string, pods ...pod) (*tug.ReconcileResult, statefulset.Status) {
	t.Helper()
	var raws []string
	for _, p := range pods {
		raws = append(raws, p.json())
	}
	res := testutil.Reconcile(t, "StatefulSet", &tug.ReconcileRequest{Parent: json.RawMessage(s.json()), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{statefulset.PodKey: testutil.Raw(raws...), statefulset.ClaimKey: testutil.Raw(claims...)}})
	if res.Children != nil {
		t.Fatalf("the result declares children %v: pods and claims are only acted on", res.Children)
	}
	return res, testutil.Decode[statefulset.Status](t, res.Status)
}

type object struct {
	Kind     string        `json:"kind"`
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Hostname  string `json:"hostname"`
		Subdomain string `json:"subdomain"`
		Volumes   []struct {
			Name                  string                      `json:"name"`
			PersistentVolumeClaim *struct{ ClaimName string } `json:"persistentVolumeClaim"`
			ConfigMap             json.RawMessage             `json:"configMap"`
		} `json:"volumes"`
		Resources json.RawMessage `json:"resources"`
	} `json:"spec"`
	Status json.RawMessage `json:"status"`
}

func creates(t *testing.T, res *tug.ReconcileResult) []object {
	return testutil.DecodeAll[object](t, res.Creates)
}

// actions is "+Kind/name" for each create and "-name" for each (pod) delete, in order.
func actions(t *testing.T, res *tug.ReconcileResult) string {
	t.Helper()
	var out []string
	for _, o := range creates(t, res) {
		out = append(out, "+"+o.Kind+"/"+o.Metadata.Name)
	}
	for _, d := range res.Deletes {
		if d.Kind != "Pod" || d.UID != strings.Replace(d.Name, "web-", "u-", 1) {
			t.Fatalf("delete %+v is not of a pod with its uid", d)
		}
		out = append(out, "-"+d.Name)
	}
	return strings.Join(out, " ")
}

func TestOrderedReadyCreation(t *testing.T) {
	for _, c := range []struct {
		name string
		pods []pod
		want string
	}{
		{"creates the first", nil, "+Pod/web-0"},
		{"waits for it to run", []pod{{ordinal: 0, rev: newRev, phase: "Pending", readyAgo: notReady}}, ""},
		{"waits for it to be ready", []pod{{ordinal: 0, rev: newRev, phase: "Running", readyAgo: notReady}}, ""},
		{"then creates the next", []pod{ready(0, newRev)}, "+Pod/web-1"},
		{"fills a gap first", []pod{ready(0, newRev), ready(2, newRev)}, "+Pod/web-1"},
		{"waits for a terminating pod", []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Running", readyAgo: time.Hour, deleting: true}}, ""},
		{"done", []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := reconcile(t, set{replicas: 3}, nil, c.pods...)
			if got := actions(t, res); got != c.want {
				t.Fatalf("actions %q, want %q", got, c.want)
			}
		})
	}
}

func TestParallelCreatesAtOnce(t *testing.T) {
	res, _ := reconcile(t, set{replicas: 4, extra: parallel}, nil, pod{ordinal: 1, rev: newRev, phase: "Pending", readyAgo: notReady})
	if got := actions(t, res); got != "+Pod/web-0 +Pod/web-2 +Pod/web-3" {
		t.Fatalf("actions %q", got)
	}
	var msgs []string
	for _, e := range res.Events {
		msgs = append(msgs, e.Reason+": "+e.Message)
	}
	if msgs[0] != "SuccessfulCreate: create Pod web-0 in StatefulSet web successful" || len(msgs) != 3 {
		t.Fatalf("events %q", msgs)
	}
}

func TestScaleDown(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra string
		pods  []pod
		want  string
	}{
		{"highest first, one at a time", "", []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev), ready(3, newRev)}, "-web-3"},
		{"waits for the terminating one", "", []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev), {ordinal: 3, rev: newRev, phase: "Running", readyAgo: time.Hour, deleting: true}}, ""},
		{"waits while a pod in range is not ready", "", []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Running", readyAgo: notReady}, ready(2, newRev)}, ""},
		{"an unhealthy highest pod goes first", "", []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev), {ordinal: 3, rev: newRev, phase: "Pending", readyAgo: notReady}}, "-web-3"},
		{"but not past a lower unhealthy one", "", []pod{ready(0, newRev), ready(1, newRev), {ordinal: 2, rev: newRev, phase: "Pending", readyAgo: notReady}, {ordinal: 3, rev: newRev, phase: "Pending", readyAgo: notReady}}, ""},
		{"Parallel deletes all at once", parallel, []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Pending", readyAgo: notReady}, ready(2, newRev), ready(3, newRev)}, "-web-3 -web-2"},
		{"claims stay", withClaim, []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev)}, "-web-2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			claims := []string{claim("data-web-0"), claim("data-web-1"), claim("data-web-2")}
			res, _ := reconcile(t, set{replicas: 2, extra: c.extra}, claims, c.pods...)
			if got := actions(t, res); got != c.want {
				t.Fatalf("actions %q, want %q", got, c.want)
			}
		})
	}
}

func TestClaimsBeforePods(t *testing.T) {
	t.Run("claim first", func(t *testing.T) {
		res, _ := reconcile(t, set{replicas: 2, extra: withClaim}, nil)
		if got := actions(t, res); got != "+PersistentVolumeClaim/data-web-0" {
			t.Fatalf("actions %q, want only web-0's claim", got)
		}
		c := creates(t, res)[0]
		if c.Metadata.Labels["app"] != "web" || c.Metadata.Labels["tier"] != "db" || len(c.Spec.Resources) == 0 || c.Status != nil {
			t.Fatalf("claim %+v: want the template's labels and spec, the selector's labels, no status", c)
		}
		if len(res.Events) != 1 || res.Events[0].Message != "create Claim data-web-0 Pod web-0 in StatefulSet web success" {
			t.Fatalf("events %+v", res.Events)
		}
	})
	t.Run("then the pod", func(t *testing.T) {
		res, _ := reconcile(t, set{replicas: 2, extra: withClaim}, []string{claim("data-web-0")})
		if got := actions(t, res); got != "+Pod/web-0" {
			t.Fatalf("actions %q", got)
		}
		var vols []string
		for _, v := range creates(t, res)[0].Spec.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil:
				vols = append(vols, v.Name+"=pvc:"+v.PersistentVolumeClaim.ClaimName)
			case v.ConfigMap != nil:
				vols = append(vols, v.Name+"=configMap")
			default:
				vols = append(vols, v.Name+"=other")
			}
		}
		// The claim replaces the template's volume of the same name.
		if want := []string{"data=pvc:data-web-0", "config=configMap"}; !slices.Equal(vols, want) {
			t.Fatalf("volumes %v, want %v", vols, want)
		}
	})
	t.Run("a claim being deleted holds its pod back", func(t *testing.T) {
		deleting := strings.Replace(claim("data-web-0"), `"uid"`, `"deletionTimestamp":"2026-11-22T09:00:00Z","uid"`, 1)
		res, _ := reconcile(t, set{replicas: 1, extra: withClaim}, []string{deleting})
		if got := actions(t, res); got != "" {
			t.Fatalf("actions %q", got)
		}
	})
	t.Run("Parallel makes every claim, and pods whose claims exist", func(t *testing.T) {
		res, _ := reconcile(t, set{replicas: 3, extra: withClaim + parallel}, []string{claim("data-web-1")})
		if got := actions(t, res); got != "+PersistentVolumeClaim/data-web-0 +Pod/web-1 +PersistentVolumeClaim/data-web-2" {
			t.Fatalf("actions %q", got)
		}
	})
}

func TestCreatedPodIdentity(t *testing.T) {
	res, _ := reconcile(t, set{replicas: 1, extra: `,"ordinals":{"start":5}`}, nil)
	cs := creates(t, res)
	if len(cs) != 1 {
		t.Fatalf("created %d, want 1", len(cs))
	}
	p := cs[0]
	if p.Metadata.Name != "web-5" || p.Metadata.GenerateName != "" || p.Spec.Hostname != "web-5" || p.Spec.Subdomain != "web-svc" {
		t.Fatalf("pod %+v: want web-5, hostname web-5, subdomain web-svc", p)
	}
	want := map[string]string{"app": "web", statefulset.PodNameLabel: "web-5", statefulset.PodIndexLabel: "5", statefulset.RevisionLabel: newRev}
	for k, v := range want {
		if p.Metadata.Labels[k] != v {
			t.Fatalf("labels %v, want %v", p.Metadata.Labels, want)
		}
	}
}

func TestFailedPodIsRecreated(t *testing.T) {
	res, _ := reconcile(t, set{replicas: 3}, nil, ready(0, newRev), pod{ordinal: 1, rev: newRev, phase: "Failed", readyAgo: notReady}, ready(2, newRev))
	// Deleted now, made again once the delete has landed: the name is taken until then.
	if got := actions(t, res); got != "-web-1" {
		t.Fatalf("actions %q", got)
	}
	if res.Events[0].Reason != "RecreatingFailedPod" {
		t.Fatalf("events %+v", res.Events)
	}
}

func TestRollingUpdate(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra string
		pods  []pod
		want  string
	}{
		{"highest first", "", []pod{ready(0, oldRev), ready(1, oldRev), ready(2, oldRev)}, "-web-2"},
		{"then the next", "", []pod{ready(0, oldRev), ready(1, oldRev), ready(2, newRev)}, "-web-1"},
		{"waits for the updated pod to be ready", "", []pod{ready(0, oldRev), ready(1, oldRev), {ordinal: 2, rev: newRev, phase: "Running", readyAgo: notReady}}, ""},
		{"recreates the deleted one", "", []pod{ready(0, oldRev), ready(1, oldRev)}, "+Pod/web-2"},
		{"stops at the partition", partition(2), []pod{ready(0, oldRev), ready(1, oldRev), ready(2, newRev)}, ""},
		{"above the partition", partition(1), []pod{ready(0, oldRev), ready(1, oldRev), ready(2, newRev)}, "-web-1"},
		{"maxUnavailable", `,"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}}`,
			[]pod{ready(0, oldRev), ready(1, oldRev), ready(2, oldRev)}, "-web-2 -web-1"},
		{"OnDelete leaves old pods", onDelete, []pod{ready(0, oldRev), ready(1, oldRev), ready(2, oldRev)}, ""},
		{"Parallel waits for unavailable pods", parallel, []pod{ready(0, oldRev), {ordinal: 1, rev: oldRev, phase: "Running", readyAgo: notReady}, ready(2, oldRev)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := reconcile(t, set{replicas: 3, extra: c.extra, status: `{"currentRevision":"web-old"}`}, nil, c.pods...)
			if got := actions(t, res); got != c.want {
				t.Fatalf("actions %q, want %q", got, c.want)
			}
			for _, o := range creates(t, res) {
				if o.Metadata.Labels[statefulset.RevisionLabel] != newRev {
					t.Fatalf("recreated %s at revision %q, want the update revision", o.Metadata.Name, o.Metadata.Labels[statefulset.RevisionLabel])
				}
			}
		})
	}
}

func TestOnDeleteRecreatesAtUpdateRevision(t *testing.T) {
	res, st := reconcile(t, set{replicas: 3, extra: onDelete, status: `{"currentRevision":"web-old"}`}, nil, ready(0, oldRev), ready(2, oldRev))
	cs := creates(t, res)
	if len(cs) != 1 || cs[0].Metadata.Name != "web-1" || cs[0].Metadata.Labels[statefulset.RevisionLabel] != newRev {
		t.Fatalf("created %+v, want web-1 at %s", cs, newRev)
	}
	if st.CurrentRevision != oldRev || st.CurrentReplicas != 2 || st.UpdatedReplicas != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		name   string
		s      set
		pods   []pod
		want   statefulset.Status
		requeu float64
	}{
		{name: "new set", s: set{replicas: 2}, pods: []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Pending", readyAgo: notReady}},
			want: statefulset.Status{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 2, UpdatedReplicas: 2, CurrentRevision: newRev, UpdateRevision: newRev}},
		{name: "mid rollout", s: set{replicas: 3, status: `{"currentRevision":"web-old"}`},
			pods: []pod{ready(0, oldRev), ready(1, oldRev), {ordinal: 2, rev: newRev, phase: "Running", readyAgo: notReady}},
			want: statefulset.Status{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 2, UpdatedReplicas: 1, CurrentRevision: oldRev, UpdateRevision: newRev}},
		{name: "rollout complete", s: set{replicas: 3, status: `{"currentRevision":"web-old"}`},
			pods: []pod{ready(0, newRev), ready(1, newRev), ready(2, newRev)},
			want: statefulset.Status{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3, UpdatedReplicas: 3, CurrentRevision: newRev, UpdateRevision: newRev}},
		{name: "partitioned rollout stays at the current revision", s: set{replicas: 2, extra: partition(1), status: `{"currentRevision":"web-old"}`},
			pods: []pod{ready(0, oldRev), ready(1, newRev)},
			want: statefulset.Status{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 1, UpdatedReplicas: 1, CurrentRevision: oldRev, UpdateRevision: newRev}},
		{name: "terminating pods count as replicas only", s: set{replicas: 1},
			pods: []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Running", readyAgo: time.Hour, deleting: true}},
			want: statefulset.Status{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, CurrentReplicas: 1, UpdatedReplicas: 1, CurrentRevision: newRev, UpdateRevision: newRev}},
		{name: "minReadySeconds", s: set{replicas: 2, extra: `,"minReadySeconds":30`},
			pods:   []pod{ready(0, newRev), {ordinal: 1, rev: newRev, phase: "Running", readyAgo: 12 * time.Second}},
			want:   statefulset.Status{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, CurrentReplicas: 2, UpdatedReplicas: 2, CurrentRevision: newRev, UpdateRevision: newRev},
			requeu: 18},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, st := reconcile(t, c.s, nil, c.pods...)
			c.want.ObservedGeneration = 5
			if st.CollisionCount == nil || *st.CollisionCount != 0 {
				t.Fatalf("collisionCount %v, want 0", st.CollisionCount)
			}
			st.CollisionCount = nil
			if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", c.want) {
				t.Fatalf("status\n%+v, want\n%+v", st, c.want)
			}
			if res.RequeueAfterSeconds != c.requeu {
				t.Fatalf("requeue after %vs, want %v", res.RequeueAfterSeconds, c.requeu)
			}
		})
	}
}

func TestDeletingSetChangesNothing(t *testing.T) {
	s := set{replicas: 3}
	raw := strings.Replace(s.json(), `"generation":5`, `"generation":5,"deletionTimestamp":"2026-11-22T09:00:00Z"`, 1)
	res := testutil.Reconcile(t, "StatefulSet", &tug.ReconcileRequest{Parent: json.RawMessage(raw), Now: now.Format(time.RFC3339Nano)})
	if len(res.Creates)+len(res.Deletes) != 0 || len(res.Status) == 0 {
		t.Fatalf("a set being deleted: %+v", res)
	}
}
