package defaulttolerationseconds_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
)

func TestDefaultTolerationSeconds(t *testing.T) {
	const (
		both     = `[{"op":"add","path":"/spec/tolerations","value":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}]`
		c        = `"containers":[{"name":"c","image":"x"}]`
		notReady = `{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":60}`
	)
	for _, tc := range []struct {
		name, op, spec, config, patch string
	}{
		{"no tolerations", "CREATE", c, "", both},
		{"configured seconds", "CREATE", c, `{"notReadySeconds": 10, "unreachableSeconds": 20}`,
			`[{"op":"add","path":"/spec/tolerations","value":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":10},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":20}]}]`},
		{"empty tolerations are appended to", "CREATE", c + `,"tolerations":[]`, "",
			`[{"op":"add","path":"/spec/tolerations/-","value":{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{"op":"add","path":"/spec/tolerations/-","value":{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}]`},
		{"its own not-ready toleration is kept", "CREATE", c + `,"tolerations":[` + notReady + `]`, "",
			`[{"op":"add","path":"/spec/tolerations/-","value":{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}]`},
		{"a NoSchedule toleration does not count", "CREATE", c + `,"tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoSchedule"}]`, "",
			`[{"op":"add","path":"/spec/tolerations/-","value":{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{"op":"add","path":"/spec/tolerations/-","value":{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}]`},
		{"an effectless toleration of the taint counts", "CREATE", c + `,"tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists"},` + notReady + `]`, "", ""},
		{"tolerating everything", "CREATE", c + `,"tolerations":[{"operator":"Exists"}]`, "", ""},
		{"tolerating every NoExecute taint", "CREATE", c + `,"tolerations":[{"operator":"Exists","effect":"NoExecute"}]`, "", ""},
		{"update of an older pod", "UPDATE", c, "", both},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testutil.Pod("dev", "web", tc.spec, "")
			req := testutil.Request(t, "DefaultTolerationSeconds", tc.op, pod, tc.config, nil)
			if tc.op == "UPDATE" {
				req.OldObject = req.Object
			}
			resp := testutil.Admit(t, req)
			if !resp.Allowed {
				t.Fatalf("denied: %s", testutil.Verdict(resp))
			}
			if got := testutil.Patch(resp); got != tc.patch {
				t.Errorf("patch\n got %s\nwant %s", got, tc.patch)
			}
		})
	}
	t.Run("not a pod", func(t *testing.T) {
		resp := testutil.Admit(t, testutil.Request(t, "DefaultTolerationSeconds", "CREATE", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"dev"}}`, "", nil))
		if !resp.Allowed || len(resp.Patch) != 0 {
			t.Errorf("response %+v, want allowed unpatched", resp)
		}
	})
	t.Run("bad configuration fails closed", func(t *testing.T) {
		resp := testutil.Admit(t, testutil.Request(t, "DefaultTolerationSeconds", "CREATE", testutil.Pod("dev", "web", c, ""), `{"notReadySeconds":"x"}`, nil))
		if resp.Allowed {
			t.Errorf("allowed with a configuration it cannot read")
		}
	})
}
