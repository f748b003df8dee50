package tug

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The pods and nodes of the differential tests: what a real API server sends, with the
// fields the decoders skip (managedFields, volumes, …) and the ones they keep.
var decodeCorpus = []string{
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9c-x2x9q","generateName":"web-7d4b9c-","namespace":"shop","uid":"0b9f3c2e-8d0a-4a57-9b5e-2a1f0c3d4e5f","resourceVersion":"4711","creationTimestamp":"2026-11-22T08:00:00Z","labels":{"app":"web","pod-template-hash":"7d4b9c"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-21T10:00:00Z","note":"caf\u00e9 \ud83d\ude80 \"quoted\" \\ back\/slash"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c","uid":"a1","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-22T08:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}]},"spec":{"volumes":[{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}],"defaultMode":420}}],"containers":[{"name":"web","image":"nginx:1.27","ports":[{"name":"http","containerPort":80,"protocol":"TCP"},{"containerPort":443,"hostPort":8443,"hostIP":"0.0.0.0"}],"resources":{"limits":{"cpu":"1","memory":"512Mi"},"requests":{"cpu":"250m","memory":"128Mi","nvidia.com/gpu":1}},"env":[{"name":"A","value":"1"}],"imagePullPolicy":"IfNotPresent"},{"name":"sidecar","image":"envoy","resources":{}}],"initContainers":[{"name":"init","image":"busybox","restartPolicy":"Always","resources":{"requests":{"cpu":"2"}}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeSelector":{"disktype":"ssd"},"serviceAccountName":"default","nodeName":"","hostNetwork":false,"schedulerName":"default-scheduler","priorityClassName":"high","priority":1000,"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"gpu","operator":"Equal","value":"true","effect":"NoSchedule"}],"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]}}},"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}],"overhead":{"cpu":"10m"}},"status":{"phase":"Pending","nominatedNodeName":"n2","conditions":[{"type":"PodScheduled","status":"False"}],"qosClass":"Burstable"}}`,
	`{"metadata":{"name":"bare"}}`,
	`{}`,
	` { "metadata" : { "name" : "spaced" , "labels" : { } } , "spec" : { "containers" : [ ] , "priority" : null , "affinity" : null } } `,
	`{"metadata":{"name":"nulls","labels":null,"ownerReferences":null,"annotations":{"a":null}},"spec":{"tolerations":null,"containers":null,"overhead":null,"nodeSelector":null},"status":null}`,
	`{"spec":{"containers":[{"name":"q","resources":{"requests":{"cpu":0.5,"memory":1e9,"x":-3,"y":"1.5Gi"}}}]}}`,
	"{\"metadata\":{\"name\":\"bad utf8 \xff\xfe here\",\"labels\":{\"k\":\"lone surrogate \\ud800 and \\udc00x\"}}}",
	`{"kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1","topology.kubernetes.io/zone":"a"}},"spec":{"podCIDR":"10.244.1.0/24","unschedulable":true,"taints":[{"key":"gpu","value":"true","effect":"NoSchedule","timeAdded":null}]},"status":{"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"7800m","memory":"31Gi","pods":"110","nvidia.com/gpu":"2"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-11-22T08:00:00Z","reason":"KubeletReady"}],"addresses":[{"type":"InternalIP","address":"10.0.0.1"}],"images":[{"names":["nginx:1.27"],"sizeBytes":70000000}]}}`,
}

// plainPod and plainNode are Pod and Node as encoding/json decodes them, by reflection.
type (
	plainPod  Pod
	plainNode Node
)

// viaReflection decodes b with encoding/json, the reference the decoders are held to.
// A null json.RawMessage field is what the SDK's decoders leave nil.
func viaReflection(b []byte) (*Pod, *Node, error) {
	var p plainPod
	var n plainNode
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, nil, err
	}
	for _, m := range []*json.RawMessage{&p.Spec.Affinity, &p.Spec.TopologySpreadConstraints} {
		if string(*m) == "null" {
			*m = nil
		}
	}
	pp, nn := Pod(p), Node(n)
	pp.Raw, nn.Raw = b, b
	return &pp, &nn, nil
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range decodeCorpus {
		b := []byte(doc)
		wantPod, wantNode, err := viaReflection(b)
		if err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		gotPod, err := DecodePod(b)
		if err != nil {
			t.Fatalf("DecodePod(%s): %v", doc, err)
		}
		gotNode, err := DecodeNode(b)
		if err != nil {
			t.Fatalf("DecodeNode(%s): %v", doc, err)
		}
		if !reflect.DeepEqual(gotPod, wantPod) {
			t.Errorf("DecodePod(%.60s…):\n got %+v\nwant %+v", doc, *gotPod, *wantPod)
		}
		if !reflect.DeepEqual(gotNode, wantNode) {
			t.Errorf("DecodeNode(%.60s…):\n got %+v\nwant %+v", doc, *gotNode, *wantNode)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, bad := range []string{
		``, `null`, `[]`, `"pod"`, `{`, `{"metadata":}`, `{"metadata":{"name":1}}`,
		`{"spec":{"containers":[{"ports":[{"containerPort":1.5}]}]}}`,
		`{"spec":{"priority":4294967296}}`, `{"spec":{"hostNetwork":"yes"}}`,
		`{"spec":{"overhead":{"cpu":true}}}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":[1,]}`,
		`{"a":"\x01"}`, `{"a":"\u12"}`, `{"a":"\q"}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`,
		`{"a":1e}`, `{"a":tru}`, `{} {}`, `{"a":"unterminated}`,
	} {
		if p, err := DecodePod([]byte(bad)); err == nil {
			t.Errorf("DecodePod(%q) = %+v, want an error", bad, p)
		}
	}
}

// FuzzDecode holds the decoders to encoding/json: on any input they do not panic; on input
// that encoding/json refuses as malformed JSON they fail too; and on the canonical form of
// anything encoding/json accepts (its own re-encoding, so no duplicate or differently
// cased keys), they give what it gives.
func FuzzDecode(f *testing.F) {
	for _, doc := range decodeCorpus {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, errPod := DecodePod(b)
		_, errNode := DecodeNode(b)
		p, _, err := viaReflection(b)
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) && (errPod == nil || errNode == nil) {
			t.Fatalf("encoding/json: %v; DecodePod: %v; DecodeNode: %v", err, errPod, errNode)
		}
		if err != nil || bytes.HasPrefix(bytes.TrimSpace(b), []byte("null")) {
			return
		}
		canon, err := json.Marshal((*plainPod)(p))
		if err != nil {
			return
		}
		wantPod, wantNode, err := viaReflection(canon)
		if err != nil {
			t.Fatalf("encoding/json refuses its own output %s: %v", canon, err)
		}
		gotPod, err := DecodePod(canon)
		if err != nil {
			t.Fatalf("DecodePod(%s): %v", canon, err)
		}
		gotNode, err := DecodeNode(canon)
		if err != nil {
			t.Fatalf("DecodeNode(%s): %v", canon, err)
		}
		if !reflect.DeepEqual(gotPod, wantPod) {
			t.Fatalf("DecodePod(%s):\n got %+v\nwant %+v", canon, *gotPod, *wantPod)
		}
		if !reflect.DeepEqual(gotNode, wantNode) {
			t.Fatalf("DecodeNode(%s):\n got %+v\nwant %+v", canon, *gotNode, *wantNode)
		}
	})
}

// The reconcile request decoder gives what encoding/json gives, raw objects compared as
// bytes after compaction.
func TestDecodeReconcileRequestMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"parent":{"kind":"ReplicaSet","metadata":{"name":"web"}},"children":{"v1/Pod":[` + decodeCorpus[0] + `,{"metadata":{"name":"b"}}],"v1/Empty":[]},
		  "related":{"v1/Node":[` + decodeCorpus[7] + `]},"now":"2026-11-22T10:00:00.5Z","future":{"x":[1,2]}}`,
		`{"parent":{}}`,
		` { "parent" : { "a" : [ 1 , { } ] } , "children" : { "v1/Pod" : null } , "related" : null } `,
	} {
		var want ReconcileRequest
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		got, err := decodeReconcileRequest([]byte(doc))
		if err != nil {
			t.Fatalf("decodeReconcileRequest(%s): %v", doc, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(&want)
		if !bytes.Equal(a, b) {
			t.Errorf("decodeReconcileRequest(%.60s…):\n got %s\nwant %s", doc, a, b)
		}
	}
	for _, bad := range []string{``, `null`, `{"parent":}`, `{"children":{"v1/Pod":[{]}}`, `{"children":[]}`, `{"now":1}`} {
		if r, err := decodeReconcileRequest([]byte(bad)); err == nil {
			t.Errorf("decodeReconcileRequest(%q) = %+v, want an error", bad, r)
		}
	}
}

// The admission request decoder gives what encoding/json gives, nulls and unknown fields
// included.
func TestDecodeAdmissionRequestMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
		  "requestKind":{"group":"","version":"v1","kind":"Pod"},"requestResource":{"group":"","version":"v1","resource":"pods"},
		  "subResource":"","requestSubResource":"status","name":"web","namespace":"shop","operation":"CREATE",
		  "userInfo":{"username":"alice","uid":"a","groups":["dev","system:authenticated"],"extra":{"scopes":["x","y"],"none":[]}},
		  "object":` + decodeCorpus[0] + `,"oldObject":null,"dryRun":true,"options":{"kind":"CreateOptions"},
		  "policy":"LimitRanger","config":{"a":[1,{"b":null}]},"related":{"v1/LimitRange":[{"metadata":{"name":"l"}}],"v1/Namespace":[]},"future":{"x":1}}`,
		`{"uid":"u2","operation":"DELETE","oldObject":{"metadata":{"name":"x"}},"dryRun":null,"requestKind":null,"config":null,"related":{"v1/ResourceQuota":null}}`,
		`{}`,
	} {
		var want AdmissionRequest
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		got, err := decodeAdmissionRequest([]byte(doc))
		if err != nil {
			t.Fatalf("decodeAdmissionRequest(%s): %v", doc, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(&want)
		if !bytes.Equal(a, b) {
			t.Errorf("decodeAdmissionRequest(%.60s…):\n got %s\nwant %s", doc, a, b)
		}
		if !reflect.DeepEqual(got.UserInfo, want.UserInfo) || (got.DryRun == nil) != (want.DryRun == nil) {
			t.Errorf("decodeAdmissionRequest(%.60s…): userInfo %+v dryRun %v, want %+v %v", doc, got.UserInfo, got.DryRun, want.UserInfo, want.DryRun)
		}
	}
	for _, bad := range []string{``, `null`, `{"uid":}`, `{"related":{"v1/Pod":[{]}}`, `{"kind":[]}`, `{"userInfo":{"groups":"x"}}`, `{"dryRun":1}`} {
		if r, err := decodeAdmissionRequest([]byte(bad)); err == nil {
			t.Errorf("decodeAdmissionRequest(%q) = %+v, want an error", bad, r)
		}
	}
}
