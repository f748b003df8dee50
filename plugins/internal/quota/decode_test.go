package quota

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
)

// The objects of the differential tests: what an API server sends, with the fields the
// decoders skip and the ones they keep, nulls, numbers for quantities and white space.
var (
	podCorpus = []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9c-x2x9q","generateName":"web-7d4b9c-","namespace":"dev","labels":{"app":"web"},"annotations":{"a":"1","b":null},"deletionTimestamp":"2026-11-22T08:00:00Z","deletionGracePeriodSeconds":30,"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"a1","controller":true}]},"spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"name":"http","containerPort":80}],"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"250m","memory":"128Mi","example.com/gpu":1}},"securityContext":{"capabilities":{"drop":["ALL"]}}}],"initContainers":[{"name":"sidecar","restartPolicy":"Always","resources":{"requests":{"cpu":"0.1"}}},{"name":"init","resources":{}}],"overhead":{"cpu":"10m","memory":1e6},"resources":{"requests":{"cpu":"1"},"limits":null},"activeDeadlineSeconds":600,"priorityClassName":"high","affinity":{"nodeAffinity":{"x":1},"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaces":["a","b"],"topologyKey":"zone"},{"namespaceSelector":{"matchLabels":{"team":"x"}}}]},"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"namespaceSelector":{}}},{"weight":2,"podAffinityTerm":{"namespaces":[]}}]}}},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`,
		`{}`, `null`,
		` { "metadata" : { "name" : "spaced" , "annotations" : { } } , "spec" : { "containers" : [ ] , "initContainers" : null , "affinity" : null , "resources" : null , "overhead" : null } } `,
		`{"metadata":{"deletionTimestamp":null,"deletionGracePeriodSeconds":null},"spec":{"activeDeadlineSeconds":null,"containers":[{"resources":{"requests":null,"limits":{}}}],"affinity":{"podAffinity":null,"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":null,"preferredDuringSchedulingIgnoredDuringExecution":[{"podAffinityTerm":{"namespaceSelector":null,"namespaces":null}}]}}},"status":null}`,
	}
	quotaCorpus = []string{
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q","namespace":"dev","resourceVersion":"9","uid":"u"},"spec":{"hard":{"pods":"100","requests.cpu":"20","requests.memory":"40Gi"},"scopes":["NotTerminating","BestEffort"],"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high","low"]},{"scopeName":"Terminating","operator":"Exists"}]}},"status":{"hard":{"pods":"100"},"used":{"pods":"10","requests.cpu":"2500m","requests.memory":"1280Mi"}}}`,
		`{}`, `{"spec":{"hard":null,"scopes":null,"scopeSelector":null},"status":{"used":{}}}`,
		`{"spec":{"scopeSelector":{"matchExpressions":[]}},"status":null}`,
	}
	serviceCorpus = []string{
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"dev"},"spec":{"type":"LoadBalancer","allocateLoadBalancerNodePorts":false,"ports":[{"port":80,"nodePort":30080},{"port":443}],"selector":{"app":"web"}}}`,
		`{"spec":{"type":"NodePort","allocateLoadBalancerNodePorts":null,"ports":[]}}`, `{"spec":{"ports":null}}`, `{}`,
	}
	claimCorpus = []string{
		`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","annotations":{"volume.beta.kubernetes.io/storage-class":"gold"}},"spec":{"storageClassName":"fast","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"10Gi"},"limits":{"storage":"20Gi"}}},"status":{"phase":"Bound","allocatedResources":{"storage":"12Gi"}}}`,
		`{"spec":{"storageClassName":null,"resources":{"requests":null}},"status":{"allocatedResources":null}}`, `{"spec":{"storageClassName":""}}`, `{}`,
	}
)

// The kinds without their decoders: what encoding/json decodes by reflection, the
// reference the decoders are held to.
type (
	plainPod     Pod
	plainQuota   ResourceQuota
	plainService Service
	plainClaim   Claim
)

// The references: encoding/json into the kinds without their decoders.
func refPod(b []byte) (*Pod, error) {
	var p plainPod
	err := json.Unmarshal(b, &p)
	v := Pod(p)
	normalizePod(&v)
	return &v, err
}

func refQuota(b []byte) (*ResourceQuota, error) {
	var q plainQuota
	err := json.Unmarshal(b, &q)
	v := ResourceQuota(q)
	return &v, err
}

func refService(b []byte) (*Service, error) {
	var s plainService
	err := json.Unmarshal(b, &s)
	v := Service(s)
	return &v, err
}

func refClaim(b []byte) (*Claim, error) {
	var c plainClaim
	err := json.Unmarshal(b, &c)
	v := Claim(c)
	return &v, err
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range podCorpus {
		checkDecode(t, []byte(doc), refPod)
	}
	for _, doc := range quotaCorpus {
		checkDecode(t, []byte(doc), refQuota)
	}
	for _, doc := range serviceCorpus {
		checkDecode(t, []byte(doc), refService)
	}
	for _, doc := range claimCorpus {
		checkDecode(t, []byte(doc), refClaim)
	}
}

// normalizePod makes a null namespace selector, which encoding/json keeps as the bytes
// "null", nil as the decoder leaves it.
func normalizePod(p *Pod) {
	if p.Spec.Affinity == nil {
		return
	}
	for _, a := range []*podAffinity{p.Spec.Affinity.PodAffinity, p.Spec.Affinity.PodAntiAffinity} {
		if a == nil {
			continue
		}
		terms := make([]*affinityTerm, 0, len(a.Required)+len(a.Preferred))
		for i := range a.Required {
			terms = append(terms, &a.Required[i])
		}
		for i := range a.Preferred {
			terms = append(terms, &a.Preferred[i].Term)
		}
		for _, t := range terms {
			if string(t.NamespaceSelector) == "null" {
				t.NamespaceSelector = nil
			}
		}
	}
}

// checkDecode decodes doc with Decode and with the reference and compares.
func checkDecode[T any](t *testing.T, doc []byte, reference func([]byte) (*T, error)) {
	t.Helper()
	want, err := reference(doc)
	if err != nil {
		t.Fatalf("encoding/json refuses %s: %v", doc, err)
	}
	got, err := Decode[T](doc)
	if err != nil {
		t.Fatalf("Decode(%s): %v", doc, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%.80s…):\n got %+v\nwant %+v", doc, *got, *want)
	}
	// json.Unmarshal goes through the decoder too.
	var again T
	if err := json.Unmarshal(doc, &again); err != nil || !reflect.DeepEqual(&again, got) {
		t.Fatalf("json.Unmarshal(%.80s…) = %+v, %v; Decode gives %+v", doc, again, err, *got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, bad := range []string{
		``, `[]`, `"pod"`, `{`, `{"metadata":}`, `{"metadata":{"name":1}}`, `{"a":1,}`, `{} {}`,
		`{"spec":{"containers":[{"resources":{"requests":{"cpu":true}}}]}}`,
		`{"spec":{"containers":[{"resources":{"requests":{"cpu":"lots"}}}]}}`,
		`{"spec":{"overhead":{"cpu":null}}}`, `{"spec":{"activeDeadlineSeconds":1.5}}`,
		`{"metadata":{"deletionTimestamp":"yesterday"}}`, `{"metadata":{"deletionTimestamp":5}}`,
		`{"spec":{"containers":{}}}`, `{"metadata":{"annotations":{"a":1}}}`,
	} {
		if _, wantErr := refPod([]byte(bad)); wantErr == nil {
			t.Fatalf("encoding/json decodes %s", bad)
		}
		if p, err := Decode[Pod]([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", bad, p)
		}
	}
	// A namespace selector is a label selector: an object (kept raw, only whether it is set
	// matters).
	bad := `{"spec":{"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"namespaceSelector":"x"}]}}}}`
	if p, err := Decode[Pod]([]byte(bad)); err == nil {
		t.Errorf("Decode(%q) = %+v, want an error", bad, p)
	}
	for _, bad := range []string{`{"spec":{"hard":{"pods":"x"}}}`, `{"spec":{"scopes":"x"}}`, `{"status":{"used":[]}}`} {
		if q, err := Decode[ResourceQuota]([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", bad, q)
		}
	}
	for _, bad := range []string{`{"spec":{"ports":[{"nodePort":4294967296}]}}`, `{"spec":{"allocateLoadBalancerNodePorts":"no"}}`} {
		if s, err := Decode[Service]([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", bad, s)
		}
	}
	for _, bad := range []string{`{"spec":{"storageClassName":1}}`, `{"status":{"allocatedResources":{"storage":"1Q"}}}`} {
		if c, err := Decode[Claim]([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", bad, c)
		}
	}
}

// FuzzDecodePod holds the pod decoder to encoding/json: on any input it does not panic; on
// input encoding/json refuses as malformed JSON it fails too; and on encoding/json's own
// re-encoding of anything it accepts (no duplicate or differently cased keys) it gives what
// encoding/json gives.
func FuzzDecodePod(f *testing.F) {
	for _, doc := range podCorpus {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Decode[Pod](b)
		want, wantErr := refPod(b)
		var syntax *json.SyntaxError
		if errors.As(wantErr, &syntax) && err == nil {
			t.Fatalf("encoding/json: %v; Decode accepts it", wantErr)
		}
		if wantErr != nil {
			return
		}
		canon, err := json.Marshal((*plainPod)(want))
		if err != nil {
			return
		}
		checkDecode(t, canon, refPod)
	})
}

func TestStatusJSONMatchesEncodingJSON(t *testing.T) {
	type plainStatus Status
	l := quantity.List{"pods": quantity.MustParse("2"), "cpu": quantity.MustParse("1500m")}
	for _, s := range []Status{{}, {Hard: l}, {Used: l}, {Hard: l, Used: quantity.List{}}, {Hard: quantity.List{}, Used: l}} {
		want, _ := json.Marshal(plainStatus(s))
		if got, err := json.Marshal(s); err != nil || string(got) != string(want) {
			t.Errorf("status %v is written %s, %v; encoding/json writes %s", s, got, err, want)
		}
	}
}
