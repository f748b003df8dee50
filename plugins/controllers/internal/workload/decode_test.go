package workload

import (
	"encoding/json"
	"reflect"
	"testing"
)

// DecodePod gives what encoding/json gives.
func TestDecodePodMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-x","generateName":"web-","namespace":"shop","uid":"u1","resourceVersion":"42","generation":3,
		  "creationTimestamp":"2026-11-22T08:00:00Z","deletionTimestamp":"2026-11-22T09:00:00.5Z","labels":{"app":"web","n":null},"annotations":{"a":"caf\u00e9 \"q\""},
		  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"rs","controller":true,"blockOwnerDeletion":true},{"apiVersion":"v1","kind":"X","name":"x","uid":"x","controller":null}],
		  "managedFields":[{"manager":"m","fieldsV1":{"f:metadata":{}}}]},
		  "spec":{"containers":[{"name":"c","image":"nginx"}],"nodeName":"n1","tolerations":[]},
		  "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-22T08:01:00Z","lastProbeTime":null,"reason":"r","message":"m"}],
		  "containerStatuses":[{"name":"c","restartCount":4,"state":{"running":{}}},{"restartCount":0}],"podIP":"10.0.0.1"}}`,
		`{}`,
		`{"metadata":null,"spec":null,"status":null}`,
		`{"metadata":{"labels":null,"ownerReferences":null,"deletionTimestamp":null,"generation":null},"status":{"conditions":null,"containerStatuses":[{"restartCount":null}]}}`,
		` { "metadata" : { "name" : "spaced" , "ownerReferences" : [ ] } , "status" : { "conditions" : [ ] } } `,
	} {
		var want Pod
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		got, err := DecodePod([]byte(doc))
		if err != nil {
			t.Fatalf("DecodePod(%.50s…): %v", doc, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("DecodePod(%.50s…):\n got %+v\nwant %+v", doc, *got, want)
		}
	}
	for _, bad := range []string{``, `null`, `[]`, `{"metadata":{"name":1}}`, `{"metadata":{"creationTimestamp":"yesterday"}}`,
		`{"status":{"containerStatuses":[{"restartCount":"4"}]}}`, `{"a":1,}`, `{} {}`} {
		var p Pod
		encErr := json.Unmarshal([]byte(bad), &p)
		if _, err := DecodePod([]byte(bad)); err == nil {
			t.Errorf("DecodePod(%q) succeeded; encoding/json says %v", bad, encErr)
		}
	}
}
