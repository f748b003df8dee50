package serviceaccount_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/serviceaccount"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func ns(name, extra, phase string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q,"uid":"ns-%s"%s},"status":{"phase":%q}}`, name, name, extra, phase)
}

func sa(namespace, name string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":%q,"namespace":%q,"uid":"sa-%s"}}`, name, namespace, name)
}

func TestDefaultServiceAccount(t *testing.T) {
	key := serviceaccount.ServiceAccountKey
	cases := []struct {
		name       string
		parent     string
		children   []string
		related    []string // nil: the host hands over no related accounts
		wantCreate bool
	}{
		{name: "active namespace without one gets one", parent: ns("team", "", "Active"), wantCreate: true},
		{name: "namespace without a phase yet gets one", parent: ns("team", "", ""), wantCreate: true},
		{name: "created once: the host reports it as a child", parent: ns("team", "", "Active"), children: []string{sa("team", "default")}},
		{name: "other accounts do not stand in for it, and stay", parent: ns("team", "", "Active"), children: []string{sa("team", "builder")}, wantCreate: true},
		{name: "a user's default account, owned by no namespace, counts", parent: ns("team", "", "Active"), related: []string{sa("team", "default")}},
		{name: "another namespace's default account does not", parent: ns("team", "", "Active"), related: []string{sa("other", "default"), sa("team", "x")}, wantCreate: true},
		{name: "terminating phase: nothing made", parent: ns("team", "", "Terminating")},
		{name: "being deleted: nothing made", parent: ns("team", `,"deletionTimestamp":"2026-11-22T10:00:00Z"`, "Active")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &tug.ReconcileRequest{Parent: json.RawMessage(c.parent), Children: map[string][]json.RawMessage{key: testutil.Raw(c.children...)}}
			if c.related != nil {
				req.Related = map[string][]json.RawMessage{key: testutil.Raw(c.related...)}
			}
			res := testutil.Reconcile(t, "ServiceAccount", req)
			if len(res.Children) != 0 || len(res.Updates) != 0 || len(res.Deletes) != 0 || res.Status != nil {
				t.Fatalf("result %+v does more than create", res)
			}
			if !c.wantCreate {
				if len(res.Creates) != 0 {
					t.Fatalf("created %s", res.Creates)
				}
				return
			}
			if len(res.Creates) != 1 {
				t.Fatalf("creates %d, want 1", len(res.Creates))
			}
			var got struct {
				APIVersion, Kind string
				Metadata         struct{ Name, Namespace string }
			}
			if err := json.Unmarshal(res.Creates[0], &got); err != nil {
				t.Fatal(err)
			}
			if got.APIVersion != "v1" || got.Kind != "ServiceAccount" || got.Metadata.Name != "default" || got.Metadata.Namespace != "team" {
				t.Fatalf("created %s, want ServiceAccount team/default", res.Creates[0])
			}
		})
	}
}
