package limitranger_test

import (
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
)

func lr(limits string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr","namespace":"dev"},"spec":{"limits":[%s]}}`, limits)
}

func TestPodDefaults(t *testing.T) {
	defaults := lr(`{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m"}}`)
	for _, tc := range []struct {
		name, spec, limits, patch string
	}{
		{"no resources object", `"containers":[{"name":"c","image":"x"}]`, defaults,
			`[{"op":"add","path":"/spec/containers/0/resources","value":{"limits":{"cpu":"500m","memory":"256Mi"}}},{"op":"add","path":"/spec/containers/0/resources/requests","value":{"cpu":"100m","memory":"256Mi"}},{"op":"add","path":"/metadata/annotations","value":{"kubernetes.io/limit-ranger":"LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"}}]`},
		{"own values are kept", testutil.Containers("containers", `{"limits":{"cpu":"1"},"requests":{"cpu":"200m"}}`), defaults,
			`[{"op":"add","path":"/spec/containers/0/resources/limits/memory","value":"256Mi"},{"op":"add","path":"/spec/containers/0/resources/requests/memory","value":"256Mi"},{"op":"add","path":"/metadata/annotations","value":{"kubernetes.io/limit-ranger":"LimitRanger plugin set: memory request for container c0; memory limit for container c0"}}]`},
		{"the default request falls back to max", `"containers":[{"name":"c","image":"x","resources":{}}]`,
			lr(`{"type":"Container","max":{"cpu":"2"}}`),
			`[{"op":"add","path":"/spec/containers/0/resources","value":{"limits":{"cpu":"2"}}},{"op":"add","path":"/spec/containers/0/resources/requests","value":{"cpu":"2"}},{"op":"add","path":"/metadata/annotations","value":{"kubernetes.io/limit-ranger":"LimitRanger plugin set: cpu request for container c; cpu limit for container c"}}]`},
		{"init containers too", testutil.Containers("containers", `{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}}`) + "," + testutil.Containers("initContainers", `{"requests":{"cpu":"1","memory":"1Gi"}}`), defaults,
			`[{"op":"add","path":"/spec/initContainers/0/resources/limits","value":{"cpu":"500m","memory":"256Mi"}},{"op":"add","path":"/metadata/annotations","value":{"kubernetes.io/limit-ranger":"LimitRanger plugin set: cpu, memory limit for init container c0"}}]`},
		{"nothing to set", testutil.Containers("containers", `{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}}`), defaults, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.Admit(t, testutil.Request(t, "LimitRanger", "CREATE", testutil.Pod("dev", "web", tc.spec, ""), "", map[string][]string{"v1/LimitRange": {tc.limits}}))
			if !r.Allowed {
				t.Fatalf("denied: %s", testutil.Verdict(r))
			}
			if got := testutil.Patch(r); got != tc.patch {
				t.Errorf("patch\n got %s\nwant %s", got, tc.patch)
			}
		})
	}
}

func TestDenials(t *testing.T) {
	pod := func(spec string) string { return testutil.Pod("dev", "web", spec, "") }
	claim := func(storage string) string {
		return `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"dev"},"spec":{"resources":{"requests":{"storage":"` + storage + `"}}}}`
	}
	for _, tc := range []struct {
		name, op, obj, limits, verdict string
	}{
		{"container over max", "CREATE", pod(testutil.Containers("containers", `{"limits":{"cpu":"1"}}`)), lr(`{"type":"Container","max":{"cpu":"500m"}}`),
			`denied 403: pods "web" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`},
		{"defaulted request over max", "CREATE", pod(testutil.Containers("containers", `{"limits":{"cpu":"500m"},"requests":{"cpu":"600m"}}`)), lr(`{"type":"Container","max":{"cpu":"500m"}}`),
			`denied 403: pods "web" is forbidden: maximum cpu usage per Container is 500m, but request is 600m`},
		{"container under min", "CREATE", pod(testutil.Containers("containers", `{"requests":{"memory":"1Mi"}}`)), lr(`{"type":"Container","min":{"memory":"4Mi"},"default":{"memory":"8Mi"}}`),
			`denied 403: pods "web" is forbidden: minimum memory usage per Container is 4Mi, but request is 1Mi`},
		{"ratio", "CREATE", pod(testutil.Containers("containers", `{"requests":{"cpu":"100m"},"limits":{"cpu":"1"}}`)), lr(`{"type":"Container","maxLimitRequestRatio":{"cpu":"4"}}`),
			`denied 403: pods "web" is forbidden: cpu max limit to request ratio per Container is 4, but provided ratio is 10.000000`},
		{"several, in brackets", "CREATE", pod(testutil.Containers("containers", `{"limits":{"cpu":"1"}}`, `{"limits":{"cpu":"2"}}`)), lr(`{"type":"Container","max":{"cpu":"500m"}}`),
			`denied 403: pods "web" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, maximum cpu usage per Container is 500m, but limit is 2]`},
		{"pod max over the sum", "CREATE", pod(testutil.Containers("containers", `{"limits":{"memory":"1Gi"},"requests":{"memory":"1Gi"}}`, `{"limits":{"memory":"1Gi"},"requests":{"memory":"1Gi"}}`)), lr(`{"type":"Pod","max":{"memory":"1536Mi"}}`),
			`denied 403: pods "web" is forbidden: maximum memory usage per Pod is 1536Mi, but limit is 2Gi`},
		{"pod max without a limit", "CREATE", pod(testutil.Containers("containers", `{"requests":{"memory":"1Gi"}}`)), lr(`{"type":"Pod","max":{"memory":"2Gi"}}`),
			`denied 403: pods "web" is forbidden: maximum memory usage per Pod is 2Gi.  No limit is specified`},
		{"pod within limits", "CREATE", pod(testutil.Containers("containers", `{"limits":{"memory":"1Gi"},"requests":{"memory":"1Gi"}}`)), lr(`{"type":"Pod","max":{"memory":"2Gi"}}`), "allowed"},
		{"pod update is not checked", "UPDATE", pod(testutil.Containers("containers", `{"limits":{"cpu":"1"}}`)), lr(`{"type":"Container","max":{"cpu":"500m"}}`), "allowed"},
		{"claim over max", "CREATE", claim("10Gi"), lr(`{"type":"PersistentVolumeClaim","max":{"storage":"5Gi"},"min":{"storage":"1Gi"}}`),
			`denied 403: persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi`},
		{"claim under min on update", "UPDATE", claim("500Mi"), lr(`{"type":"PersistentVolumeClaim","max":{"storage":"5Gi"},"min":{"storage":"1Gi"}}`),
			`denied 403: persistentvolumeclaims "c" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi`},
		{"claim within", "CREATE", claim("2Gi"), lr(`{"type":"PersistentVolumeClaim","max":{"storage":"5Gi"},"min":{"storage":"1Gi"}}`), "allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := testutil.Request(t, "LimitRanger", tc.op, tc.obj, "", map[string][]string{"v1/LimitRange": {tc.limits}})
			if tc.op == "UPDATE" {
				req.OldObject = req.Object
			}
			if got := testutil.Verdict(testutil.Admit(t, req)); got != tc.verdict {
				t.Errorf("verdict\n got %s\nwant %s", got, tc.verdict)
			}
		})
	}
}
