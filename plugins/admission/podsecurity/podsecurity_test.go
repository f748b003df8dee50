package podsecurity_test

import (
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
)

func ns(labels string) map[string][]string {
	return map[string][]string{"v1/Namespace": {`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev","labels":{` + labels + `}}}`}}
}

const (
	restrictedOK = `"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"c","image":"x","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]`
	plain        = `"containers":[{"name":"c","image":"x"}]`
	enforceR     = `"pod-security.kubernetes.io/enforce":"restricted"`
	enforceB     = `"pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/enforce-version":"v1.30"`
)

func TestPods(t *testing.T) {
	for _, tc := range []struct {
		name, spec, labels, config, verdict string
	}{
		{"restricted pod in a restricted namespace", restrictedOK, enforceR, "", "allowed"},
		{"plain pod in a restricted namespace", plain, enforceR, "",
			`denied 403: pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{"plain pod in a baseline namespace", plain, enforceB, "", "allowed"},
		{"privileged pod in a baseline namespace", `"hostNetwork":true,"containers":[{"name":"a","image":"x","securityContext":{"privileged":true}},{"name":"b","image":"x","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN","CHOWN"]}},"ports":[{"containerPort":80,"hostPort":8080}]}],"volumes":[{"name":"root","hostPath":{"path":"/"}}]`, enforceB, "",
			`denied 403: pods "web" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities (container "b" must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volume "root"), hostPort (container "b" uses hostPort 8080), privileged (containers "a", "b" must not set securityContext.privileged=true)`},
		{"unsafe sysctl and unconfined seccomp", `"securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"1"}],"seccompProfile":{"type":"Unconfined"}},` + plain, enforceB, "",
			`denied 403: pods "web" is forbidden: violates PodSecurity "baseline:latest": seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined"), forbidden sysctls (kernel.msgmax)`},
		{"config default enforces", plain, "", `{"defaults":{"enforce":"restricted"}}`, "denied"},
		{"exempt namespace", plain, enforceR, `{"exemptions":{"namespaces":["dev"]}}`, "allowed"},
		{"exempt user", plain, enforceR, `{"exemptions":{"usernames":["sdktest"]}}`, "allowed"},
		{"exempt runtime class", `"runtimeClassName":"kata",` + plain, enforceR, `{"exemptions":{"runtimeClasses":["kata"]}}`, "allowed"},
		{"restricted volume type", strings.Replace(restrictedOK, `"containers"`, `"volumes":[{"name":"n","nfs":{"server":"s","path":"/"}}],"containers"`, 1), enforceR, "",
			`denied 403: pods "web" is forbidden: violates PodSecurity "restricted:latest": restricted volume types (volume "n" uses restricted volume type "nfs")`},
		{"root user", strings.Replace(restrictedOK, `"runAsNonRoot":true`, `"runAsNonRoot":true,"runAsUser":0`, 1), enforceR, "",
			`denied 403: pods "web" is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 (pod must not set runAsUser=0)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.Admit(t, testutil.Request(t, "PodSecurity", "CREATE", testutil.Pod("dev", "web", tc.spec, ""), tc.config, ns(tc.labels)))
			got := testutil.Verdict(r)
			if tc.verdict == "denied" {
				if r.Allowed {
					t.Errorf("allowed, want denied")
				}
				return
			}
			if got != tc.verdict {
				t.Errorf("verdict\n got %s\nwant %s", got, tc.verdict)
			}
		})
	}
}

func TestWarnAuditAndTemplates(t *testing.T) {
	labels := `"pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/warn":"restricted","pod-security.kubernetes.io/audit":"restricted"`
	r := testutil.Admit(t, testutil.Request(t, "PodSecurity", "CREATE", testutil.Pod("dev", "web", plain, ""), "", ns(labels)))
	if !r.Allowed || len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`) {
		t.Errorf("response %+v, want allowed with one restricted warning", r)
	}
	if a := r.AuditAnnotations["pod-security.kubernetes.io/audit-violations"]; !strings.HasPrefix(a, `would violate PodSecurity "restricted:latest"`) {
		t.Errorf("audit annotations %v, want the restricted violations", r.AuditAnnotations)
	}

	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"dev"},"spec":{"template":{"metadata":{},"spec":{` + plain + `}}}}`
	r = testutil.Admit(t, testutil.Request(t, "PodSecurity", "CREATE", deploy, "", ns(enforceR)))
	if !r.Allowed || len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], `would violate PodSecurity "restricted:latest"`) {
		t.Errorf("deployment: response %+v, want allowed with one warning", r)
	}
	cron := `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cj","namespace":"dev"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostPID":true,` + plain + `}}}}}}`
	r = testutil.Admit(t, testutil.Request(t, "PodSecurity", "CREATE", cron, "", ns(enforceB)))
	if !r.Allowed || len(r.Warnings) != 1 || r.Warnings[0] != `would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)` {
		t.Errorf("cronjob: response %+v, want allowed with the host namespaces warning", r)
	}
}

func TestUpdates(t *testing.T) {
	old := testutil.Pod("dev", "web", plain, "")
	relabelled := testutil.Pod("dev", "web", plain, `,"labels":{"a":"b"}`)
	r := testutil.Admit(t, testutil.Update(t, "PodSecurity", old, relabelled, "", ns(enforceR)))
	if !r.Allowed {
		t.Errorf("a metadata-only update was checked: %s", testutil.Verdict(r))
	}
	changed := testutil.Pod("dev", "web", `"containers":[{"name":"c","image":"y"}]`, "")
	if r := testutil.Admit(t, testutil.Update(t, "PodSecurity", old, changed, "", ns(enforceR))); r.Allowed {
		t.Errorf("a spec update was not checked")
	}
}
