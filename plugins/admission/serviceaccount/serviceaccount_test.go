package serviceaccount_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
)

const (
	defaultSA = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"dev"}}`
	builder   = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder","namespace":"dev"},"imagePullSecrets":[{"name":"regcred"}],"automountServiceAccountToken":false}`
	c         = `"containers":[{"name":"c","image":"x"}]`
)

func TestServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		name, spec, meta, config string
		accounts                 []string
		verdict, patch           string
	}{
		{"default is set", c, "", "", []string{defaultSA}, "allowed",
			`[{"op":"add","path":"/spec/serviceAccount","value":"default"},{"op":"add","path":"/spec/serviceAccountName","value":"default"}]`},
		{"named account exists, its pull secrets are taken", c + `,"serviceAccountName":"builder"`, "", "", []string{defaultSA, builder}, "allowed",
			`[{"op":"add","path":"/spec/imagePullSecrets","value":[{"name":"regcred"}]}]`},
		{"own pull secrets are kept", c + `,"serviceAccountName":"builder","imagePullSecrets":[{"name":"mine"}]`, "", "", []string{builder}, "allowed", ""},
		{"the deprecated field names the account", c + `,"serviceAccount":"builder"`, "", "", []string{builder}, "allowed",
			`[{"op":"add","path":"/spec/serviceAccountName","value":"builder"},{"op":"add","path":"/spec/imagePullSecrets","value":[{"name":"regcred"}]}]`},
		{"missing account", c + `,"serviceAccountName":"ghost"`, "", "", []string{defaultSA},
			`denied 403: pods "web" is forbidden: error looking up service account dev/ghost: serviceaccount "ghost" not found`, ""},
		{"missing default account", c, "", "", nil,
			`denied 403: pods "web" is forbidden: error looking up service account dev/default: serviceaccount "default" not found`, ""},
		{"mirror pods are exempt", c, `,"annotations":{"kubernetes.io/config.mirror":"x"}`, "", nil, "allowed", ""},
		{"mirror pods may not name an account", c + `,"serviceAccountName":"default"`, `,"annotations":{"kubernetes.io/config.mirror":"x"}`, "", []string{defaultSA},
			`denied 403: pods "web" is forbidden: a mirror pod may not reference service accounts`, ""},
		{"no token when the account opts out", c + `,"serviceAccountName":"builder","imagePullSecrets":[{"name":"mine"}]`, "", `{"tokenVolume":true}`, []string{builder}, "allowed", ""},
		{"no token when the pod opts out", c + `,"serviceAccountName":"default","automountServiceAccountToken":false`, "", `{"tokenVolume":true}`, []string{defaultSA}, "allowed", ""},
		{"the pod's own mount at the path wins", `"serviceAccountName":"default","containers":[{"name":"c","image":"x","volumeMounts":[{"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}]`, "", `{"tokenVolume":true}`, []string{defaultSA}, "allowed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.Admit(t, testutil.Request(t, "ServiceAccount", "CREATE", testutil.Pod("dev", "web", tc.spec, tc.meta), tc.config, map[string][]string{"v1/ServiceAccount": tc.accounts}))
			if got := testutil.Verdict(r); got != tc.verdict {
				t.Fatalf("verdict\n got %s\nwant %s", got, tc.verdict)
			}
			if got := testutil.Patch(r); got != tc.patch {
				t.Errorf("patch\n got %s\nwant %s", got, tc.patch)
			}
		})
	}
}

func TestTokenVolume(t *testing.T) {
	spec := `"serviceAccountName":"default","volumes":[{"name":"data","emptyDir":{}}],"initContainers":[{"name":"i","image":"x"}],"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"data","mountPath":"/data"}]}]`
	req := testutil.Request(t, "ServiceAccount", "CREATE", testutil.Pod("dev", "web", spec, ""), `{"tokenVolume":true}`, map[string][]string{"v1/ServiceAccount": {defaultSA}})
	r := testutil.Admit(t, req)
	patch := testutil.Patch(r)
	name := regexp.MustCompile(`kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}`).FindString(patch)
	if name == "" {
		t.Fatalf("patch %s names no kube-api-access-xxxxx volume", patch)
	}
	want := `[{"op":"add","path":"/spec/initContainers/0/volumeMounts","value":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"NAME","readOnly":true}]},` +
		`{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"NAME","readOnly":true}},` +
		`{"op":"add","path":"/spec/volumes/-","value":{"name":"NAME","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}}]`
	if want = strings.ReplaceAll(want, "NAME", name); patch != want {
		t.Errorf("patch\n got %s\nwant %s", patch, want)
	}
	// The same pod gets the same name; another pod another.
	if again := testutil.Patch(testutil.Admit(t, req)); again != patch {
		t.Errorf("a second admission of the same pod patched differently:\n%s\n%s", again, patch)
	}
	other := testutil.Request(t, "ServiceAccount", "CREATE", testutil.Pod("dev", "web2", spec, ""), `{"tokenVolume":true}`, map[string][]string{"v1/ServiceAccount": {defaultSA}})
	if strings.Contains(testutil.Patch(testutil.Admit(t, other)), name) {
		t.Errorf("pods web and web2 got the same volume name %s", name)
	}
	// A pod that has the volume already keeps it.
	spec = `"serviceAccountName":"default","volumes":[{"name":"kube-api-access-abcde","projected":{}}],"containers":[{"name":"c","image":"x"}]`
	r = testutil.Admit(t, testutil.Request(t, "ServiceAccount", "CREATE", testutil.Pod("dev", "web", spec, ""), `{"tokenVolume":true}`, map[string][]string{"v1/ServiceAccount": {defaultSA}}))
	if want := `[{"op":"add","path":"/spec/containers/0/volumeMounts","value":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-abcde","readOnly":true}]}]`; testutil.Patch(r) != want {
		t.Errorf("patch\n got %s\nwant %s", testutil.Patch(r), want)
	}
}
