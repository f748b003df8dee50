package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// serviceCIDR is tug's default --service-cluster-ip-range.
var _, serviceCIDR, _ = net.ParseCIDR("10.96.0.0/12")

// TestKubectl runs each kubectl scenario with every kubectl version against one shared `tug up`,
// each scenario and version in its own namespace.
func TestKubectl(t *testing.T) {
	srv := shared(t)
	scenarios := []struct {
		name string
		run  func(t *testing.T, k *kctl)
	}{
		{"apply", testApply},
		{"get", testGet},
		{"watch", testWatch},
		{"verbs", testVerbs},
		{"replace-conflict", testReplaceConflict},
		{"validation", testValidation},
	}
	for _, v := range kubectlVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(filepath.Join(kubectlDir, "kubectl."+v)); err != nil {
				t.Fatalf("kubectl %s is not installed: %v", v, err)
			}
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					ns := fmt.Sprintf("k%s-%s", strings.ReplaceAll(v, ".", ""), sc.name)
					sc.run(t, &kctl{srv: srv, version: v, ns: ns})
				})
			}
		})
	}
}

// kctl runs one kubectl version in one namespace.
type kctl struct {
	srv     *server
	version string
	ns      string
}

// run runs kubectl with -n ns.
func (k *kctl) run(t *testing.T, args ...string) kubectlResult {
	t.Helper()
	return k.srv.kubectl(t, k.version, append([]string{"-n", k.ns}, args...)...)
}

// must runs kubectl with -n ns and returns stdout; it fails t if kubectl fails.
func (k *kctl) must(t *testing.T, args ...string) string {
	t.Helper()
	r := k.run(t, args...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	return r.stdout
}

// mustIn is must with stdin.
func (k *kctl) mustIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := k.srv.kubectlIn(t, k.version, stdin, append([]string{"-n", k.ns}, args...)...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	return r.stdout
}

// createNamespace creates the scenario's namespace.
func (k *kctl) createNamespace(t *testing.T) {
	t.Helper()
	r := k.srv.kubectl(t, k.version, "create", "namespace", k.ns)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
}

// getJSON gets one object as JSON into out.
func (k *kctl) getJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	stdout := k.must(t, append([]string{"get", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("kubectl get -o json %s: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// writeFile writes content into a file in a fresh temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// headerFields returns the fields of the first line of a table.
func headerFields(table string) []string {
	first, _, _ := strings.Cut(table, "\n")
	return strings.Fields(first)
}

// rowOf returns the fields of the first table row whose first fields are prefix, or nil.
func rowOf(table string, prefix ...string) []string {
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= len(prefix) && slices.Equal(f[:len(prefix)], prefix) {
			return f
		}
	}
	return nil
}

func containerNamed(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func containerPorts(c *corev1.Container) []int32 {
	var ps []int32
	for _, p := range c.Ports {
		ps = append(ps, p.ContainerPort)
	}
	slices.Sort(ps)
	return ps
}

// appManifest is the multi-document manifest of the apply scenario; edited selects the second
// version (sidecar image changed, an env var added to it, a port added to web).
func appManifest(ns string, edited bool) string {
	sidecarImage, sidecarEnv, webExtraPort := "busybox:1.36", "", ""
	if edited {
		sidecarImage = "busybox:1.37"
		sidecarEnv = `
        env:
        - name: MODE
          value: edited`
		webExtraPort = `
        - name: metrics
          containerPort: 9090`
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: %[1]s
  labels:
    app: app
spec:
  replicas: 2
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - name: http
          containerPort: 80%[4]s
      - name: sidecar
        image: %[2]s
        command: ["sleep", "infinity"]
        ports:
        - name: admin
          containerPort: 9000%[3]s
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: %[1]s
spec:
  selector:
    app: app
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: %[1]s
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: %[1]s
type: Opaque
data:
  password: czNjcmV0
`, ns, sidecarImage, sidecarEnv, webExtraPort)
}

// testApply applies a multi-document manifest, applies an edited version, then the edited
// version again.
func testApply(t *testing.T, k *kctl) {
	file := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(file, []byte(appManifest(k.ns, false)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := k.must(t, "apply", "-f", file)
	for _, want := range []string{
		"namespace/" + k.ns + " created",
		"deployment.apps/app created",
		"service/app created",
		"configmap/app-config created",
		"secret/app-secret created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply: output lacks %q:\n%s", want, out)
		}
	}
	var d appsv1.Deployment
	k.getJSON(t, &d, "deployment", "app")
	if d.Generation != 1 {
		t.Errorf("after first apply: metadata.generation = %d, want 1", d.Generation)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 2 {
		t.Fatalf("after first apply: %d containers, want 2: %+v", n, d.Spec.Template.Spec.Containers)
	}
	var svc corev1.Service
	k.getJSON(t, &svc, "service", "app")
	if svc.Spec.Selector["app"] != "app" {
		t.Errorf("service selector = %v, want app=app", svc.Spec.Selector)
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip == nil || !serviceCIDR.Contains(ip) {
		t.Errorf("service clusterIP = %q, want one allocated from %s", svc.Spec.ClusterIP, serviceCIDR)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("service ports = %+v, want one with targetPort http and the default protocol TCP", svc.Spec.Ports)
	}
	var cm corev1.ConfigMap
	k.getJSON(t, &cm, "configmap", "app-config")
	if cm.Data["greeting"] != "hello" {
		t.Errorf("configmap data = %v, want greeting=hello", cm.Data)
	}
	var sec corev1.Secret
	k.getJSON(t, &sec, "secret", "app-secret")
	if string(sec.Data["password"]) != "s3cret" {
		t.Errorf("secret data[password] = %q, want %q", sec.Data["password"], "s3cret")
	}

	// Second apply: the edited manifest.
	if err := os.WriteFile(file, []byte(appManifest(k.ns, true)), 0o600); err != nil {
		t.Fatal(err)
	}
	out = k.must(t, "apply", "-f", file)
	if !strings.Contains(out, "deployment.apps/app configured") {
		t.Errorf("second apply: output lacks %q:\n%s", "deployment.apps/app configured", out)
	}
	d = appsv1.Deployment{}
	k.getJSON(t, &d, "deployment", "app")
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 2 {
		t.Fatalf("after second apply: %d containers, want both web and sidecar kept: %+v", len(cs), cs)
	}
	web, sidecar := containerNamed(cs, "web"), containerNamed(cs, "sidecar")
	if web == nil || sidecar == nil {
		t.Fatalf("after second apply: containers %+v, want web and sidecar", cs)
	}
	if web.Image != "nginx:1.25" {
		t.Errorf("web image = %q, want nginx:1.25 (unchanged)", web.Image)
	}
	if got := containerPorts(web); !slices.Equal(got, []int32{80, 9090}) {
		t.Errorf("web ports = %v, want [80 9090]", got)
	}
	if sidecar.Image != "busybox:1.37" {
		t.Errorf("sidecar image = %q, want busybox:1.37", sidecar.Image)
	}
	if len(sidecar.Env) != 1 || sidecar.Env[0].Name != "MODE" || sidecar.Env[0].Value != "edited" {
		t.Errorf("sidecar env = %+v, want [MODE=edited]", sidecar.Env)
	}
	if got := containerPorts(sidecar); !slices.Equal(got, []int32{9000}) {
		t.Errorf("sidecar ports = %v, want [9000]", got)
	}
	if d.Generation != 2 {
		t.Errorf("after second apply: metadata.generation = %d, want 2", d.Generation)
	}
	rv := d.ResourceVersion

	// Third apply: the same file changes nothing.
	out = k.must(t, "apply", "-f", file)
	for _, want := range []string{
		"namespace/" + k.ns + " unchanged",
		"deployment.apps/app unchanged",
		"service/app unchanged",
		"configmap/app-config unchanged",
		"secret/app-secret unchanged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("third apply: output lacks %q:\n%s", want, out)
		}
	}
	d = appsv1.Deployment{}
	k.getJSON(t, &d, "deployment", "app")
	if d.ResourceVersion != rv {
		t.Errorf("third apply changed resourceVersion %s → %s", rv, d.ResourceVersion)
	}
	if d.Generation != 2 {
		t.Errorf("after third apply: metadata.generation = %d, want 2", d.Generation)
	}
}

// testGet checks kubectl get's output formats.
func testGet(t *testing.T, k *kctl) {
	k.createNamespace(t)
	k.mustIn(t, `apiVersion: v1
kind: Pod
metadata:
  name: bare
  labels:
    tier: web
spec:
  containers:
  - name: main
    image: nginx:1.25
---
apiVersion: v1
kind: Pod
metadata:
  name: other
  labels:
    tier: db
spec:
  containers:
  - name: main
    image: postgres:16
`, "create", "-f", "-")
	k.must(t, "create", "deployment", "dep", "--image=nginx:1.25")

	deps := k.must(t, "get", "deployments")
	if got, want := headerFields(deps), []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}; !slices.Equal(got, want) {
		t.Errorf("get deployments header = %q, want %q", got, want)
	}
	// Nothing runs pods yet, so none is ready, up to date or available.
	if row := rowOf(deps, "dep"); len(row) != 5 || row[1] != "0/1" || row[2] != "0" || row[3] != "0" {
		t.Errorf("get deployments: row for dep = %q, want [dep 0/1 0 0 AGE]:\n%s", row, deps)
	}
	pods := k.must(t, "get", "pods")
	if got, want := headerFields(pods), []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}; !slices.Equal(got, want) {
		t.Errorf("get pods header = %q, want %q\n%s", got, want, pods)
	}
	if row := rowOf(pods, "bare"); row == nil {
		t.Errorf("get pods: no row for bare:\n%s", pods)
	} else if len(row) != 5 || row[1] != "0/1" {
		t.Errorf("get pods: row %q, want 5 columns with READY 0/1", row)
	}

	wide := k.must(t, "get", "pods", "-o", "wide")
	h := headerFields(wide)
	for _, col := range []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"} {
		if !slices.Contains(h, col) {
			t.Errorf("get pods -o wide header %q lacks %s", h, col)
		}
	}

	var pod corev1.Pod
	y := k.must(t, "get", "pod", "bare", "-o", "yaml")
	if err := yaml.Unmarshal([]byte(y), &pod); err != nil {
		t.Errorf("get -o yaml does not parse: %v\n%s", err, y)
	} else if pod.Name != "bare" || pod.Kind != "Pod" || pod.APIVersion != "v1" || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != "nginx:1.25" {
		t.Errorf("get -o yaml = %+v, want Pod bare with image nginx:1.25", pod)
	}
	pod = corev1.Pod{}
	k.getJSON(t, &pod, "pod", "bare")
	if pod.Name != "bare" || pod.Namespace != k.ns || pod.Labels["tier"] != "web" || pod.UID == "" || pod.ResourceVersion == "" || pod.CreationTimestamp.IsZero() {
		t.Errorf("get -o json = %+v, want Pod bare in %s with label, uid, resourceVersion, creationTimestamp", pod.ObjectMeta, k.ns)
	}
	var list corev1.PodList
	k.getJSON(t, &list, "pods")
	if len(list.Items) != 2 {
		t.Errorf("get pods -o json: %d items, want 2", len(list.Items))
	}

	all := k.srv.mustKubectl(t, k.version, "get", "pods", "-A")
	if got := headerFields(all); len(got) == 0 || got[0] != "NAMESPACE" {
		t.Errorf("get pods -A header = %q, want NAMESPACE first", got)
	}
	if row := rowOf(all, k.ns, "bare"); row == nil {
		t.Errorf("get pods -A: no row with NAMESPACE %s NAME bare:\n%s", k.ns, all)
	}
	allNS := k.srv.mustKubectl(t, k.version, "get", "deployments", "--all-namespaces")
	if row := rowOf(allNS, k.ns, "dep"); row == nil {
		t.Errorf("get deployments --all-namespaces: no row with NAMESPACE %s NAME dep:\n%s", k.ns, allNS)
	}

	sel := k.must(t, "get", "pods", "-l", "tier=web", "-o", "name")
	if got := strings.Fields(sel); !slices.Equal(got, []string{"pod/bare"}) {
		t.Errorf("get pods -l tier=web -o name = %q, want [pod/bare]", got)
	}
	sel = k.must(t, "get", "pods", "-l", "tier!=web", "-o", "name")
	if got := strings.Fields(sel); !slices.Equal(got, []string{"pod/other"}) {
		t.Errorf("get pods -l tier!=web -o name = %q, want [pod/other]", got)
	}

	labels := k.must(t, "get", "pods", "--show-labels")
	if h := headerFields(labels); len(h) == 0 || h[len(h)-1] != "LABELS" {
		t.Errorf("get pods --show-labels header = %q, want LABELS last", h)
	}
	if row := rowOf(labels, "bare"); row == nil || row[len(row)-1] != "tier=web" {
		t.Errorf("get pods --show-labels: row for bare = %q, want LABELS tier=web:\n%s", row, labels)
	}
}

// testWatch checks that kubectl get -w prints a change made by another kubectl.
func testWatch(t *testing.T, k *kctl) {
	k.createNamespace(t)
	k.must(t, "create", "configmap", "watched", "--from-literal=k=v1")
	w := k.srv.kubectlBackground(t, k.version, "-n", k.ns, "get", "configmap", "watched", "-w", "-o", `jsonpath={.data.k}{"\n"}`)
	w.waitLine(t, "the initial value v1", func(l string) bool { return l == "v1" })
	k.must(t, "patch", "configmap", "watched", "--type=merge", "-p", `{"data":{"k":"v2"}}`)
	w.waitLine(t, "the changed value v2", func(l string) bool { return l == "v2" })

	// A second watcher with -o name prints the name once for the initial state and once more
	// for a label change.
	w2 := k.srv.kubectlBackground(t, k.version, "-n", k.ns, "get", "configmap", "watched", "-w", "-o", "name")
	w2.waitLine(t, "the initial configmap/watched", func(l string) bool { return l == "configmap/watched" })
	k.must(t, "label", "configmap", "watched", "changed=yes")
	w2.waitLines(t, "configmap/watched a second time, for the label change", func(ls []string) bool {
		n := 0
		for _, l := range ls {
			if l == "configmap/watched" {
				n++
			}
		}
		return n >= 2
	})
}

// testVerbs checks label, annotate, scale, create deployment, patch and delete.
func testVerbs(t *testing.T, k *kctl) {
	k.createNamespace(t)
	k.must(t, "create", "configmap", "c", "--from-literal=a=1")
	k.must(t, "label", "configmap", "c", "env=prod")
	k.must(t, "annotate", "configmap", "c", "note=hello world")
	var cm corev1.ConfigMap
	k.getJSON(t, &cm, "configmap", "c")
	if cm.Labels["env"] != "prod" {
		t.Errorf("after label: labels = %v, want env=prod", cm.Labels)
	}
	if cm.Annotations["note"] != "hello world" {
		t.Errorf("after annotate: annotations = %v, want note=hello world", cm.Annotations)
	}
	k.must(t, "label", "configmap", "c", "env-")
	cm = corev1.ConfigMap{}
	k.getJSON(t, &cm, "configmap", "c")
	if _, ok := cm.Labels["env"]; ok {
		t.Errorf("after label env-: labels = %v, want env removed", cm.Labels)
	}

	k.must(t, "create", "deployment", "web", "--image=nginx")
	var d appsv1.Deployment
	k.getJSON(t, &d, "deployment", "web")
	if cs := d.Spec.Template.Spec.Containers; len(cs) != 1 || cs[0].Image != "nginx" {
		t.Fatalf("created deployment containers = %+v, want one with image nginx", cs)
	}
	if d.Spec.Selector == nil || d.Spec.Selector.MatchLabels["app"] != "web" {
		t.Errorf("created deployment selector = %+v, want app=web", d.Spec.Selector)
	}

	k.must(t, "scale", "deployment", "web", "--replicas=5")
	d = appsv1.Deployment{}
	k.getJSON(t, &d, "deployment", "web")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 5 {
		t.Errorf("after scale --replicas=5: spec.replicas = %v, want 5", ptrStr(d.Spec.Replicas))
	}
	gen := d.Generation

	k.must(t, "patch", "deployment", "web", "--type=merge", "-p", `{"metadata":{"labels":{"patched":"merge"},"annotations":{"merge":"yes"}},"spec":{"minReadySeconds":7}}`)
	d = appsv1.Deployment{}
	k.getJSON(t, &d, "deployment", "web")
	if d.Labels["patched"] != "merge" || d.Annotations["merge"] != "yes" || d.Spec.MinReadySeconds != 7 {
		t.Errorf("after merge patch: labels %v annotations %v minReadySeconds %d, want patched=merge, merge=yes and 7", d.Labels, d.Annotations, d.Spec.MinReadySeconds)
	}
	if d.Generation != gen+1 {
		t.Errorf("after merge patch of spec: generation %d, want %d", d.Generation, gen+1)
	}

	k.must(t, "patch", "deployment", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/annotations/json","value":"patched"}]`)
	d = appsv1.Deployment{}
	k.getJSON(t, &d, "deployment", "web")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 || d.Annotations["json"] != "patched" {
		t.Errorf("after json patch: replicas %s annotations %v, want 3 and json=patched", ptrStr(d.Spec.Replicas), d.Annotations)
	}

	// A JSON patch whose test op fails changes nothing.
	r := k.run(t, "patch", "deployment", "web", "--type=json", "-p", `[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":1}]`)
	if r.err == nil {
		t.Errorf("json patch with failing test op succeeded:\n%s", r)
	}
	d2 := appsv1.Deployment{}
	k.getJSON(t, &d2, "deployment", "web")
	// (Not its resourceVersion: when tug runs its controllers, the Deployment's status and
	// its revision annotation may be written meanwhile.)
	delete(d.Annotations, "deployment.kubernetes.io/revision")
	delete(d2.Annotations, "deployment.kubernetes.io/revision")
	if d2.Generation != d.Generation || !reflect.DeepEqual(d2.Annotations, d.Annotations) || !reflect.DeepEqual(d2.Labels, d.Labels) ||
		d2.Spec.Replicas == nil || *d2.Spec.Replicas != 3 {
		t.Errorf("failed json patch changed the deployment: generation %d → %d, annotations %v → %v, replicas %s",
			d.Generation, d2.Generation, d.Annotations, d2.Annotations, ptrStr(d2.Spec.Replicas))
	}

	out := k.must(t, "delete", "configmap", "c")
	if !strings.Contains(out, `configmap "c" deleted`) {
		t.Errorf("delete configmap output = %q", out)
	}
	expectNotFound(t, k, "configmap", "c")

	out = k.must(t, "delete", "deployment", "web", "--wait")
	if !strings.Contains(out, `deployment.apps "web" deleted`) {
		t.Errorf("delete --wait output = %q", out)
	}
	expectNotFound(t, k, "deployment", "web")
}

func expectNotFound(t *testing.T, k *kctl, kind, name string) {
	t.Helper()
	r := k.run(t, "get", kind, name)
	if r.err == nil || !strings.Contains(r.stderr, "NotFound") || !strings.Contains(r.stderr, "not found") {
		t.Errorf("get deleted %s %s: want a NotFound error:\n%s", kind, name, r)
	}
}

func ptrStr(p *int32) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// testReplaceConflict replaces with a stale resourceVersion.
func testReplaceConflict(t *testing.T, k *kctl) {
	k.createNamespace(t)
	k.must(t, "create", "configmap", "s", "--from-literal=a=1")
	old := k.must(t, "get", "configmap", "s", "-o", "json")
	var oldCM corev1.ConfigMap
	if err := json.Unmarshal([]byte(old), &oldCM); err != nil {
		t.Fatal(err)
	}
	k.must(t, "label", "configmap", "s", "modified=yes")
	var mod corev1.ConfigMap
	k.getJSON(t, &mod, "configmap", "s")
	if mod.ResourceVersion == oldCM.ResourceVersion {
		t.Fatalf("label did not change resourceVersion %s", mod.ResourceVersion)
	}

	// The stale copy, with a data change, must not overwrite the newer object.
	oldCM.Data["a"] = "stale"
	stale, err := json.Marshal(oldCM)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "old.json", string(stale))
	r := k.run(t, "replace", "-f", file)
	if r.err == nil {
		t.Fatalf("replace with stale resourceVersion succeeded:\n%s", r)
	}
	if !strings.Contains(r.stderr, "Conflict") || !strings.Contains(r.stderr, "the object has been modified") {
		t.Errorf("replace with stale resourceVersion: want a Conflict saying the object has been modified:\n%s", r)
	}
	var now corev1.ConfigMap
	k.getJSON(t, &now, "configmap", "s")
	if now.ResourceVersion != mod.ResourceVersion || now.Data["a"] != "1" || now.Labels["modified"] != "yes" {
		t.Errorf("after failed replace: rv %s data %v labels %v, want rv %s data a=1 labels modified=yes",
			now.ResourceVersion, now.Data, now.Labels, mod.ResourceVersion)
	}
}

// testValidation checks kubectl's strict field validation and name validation.
func testValidation(t *testing.T, k *kctl) {
	k.createNamespace(t)
	unknown := writeFile(t, "unknown.yaml", fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  namespace: %s
spec:
  replicas: 1
  replicaz: 3
  selector:
    matchLabels:
      app: typo
  template:
    metadata:
      labels:
        app: typo
    spec:
      containers:
      - name: main
        image: nginx
`, k.ns))
	r := k.run(t, "apply", "-f", unknown)
	if r.err == nil {
		t.Errorf("apply of a Deployment with unknown field spec.replicaz succeeded:\n%s", r)
	} else if !strings.Contains(r.stderr, "replicaz") {
		t.Errorf("apply with unknown field: error does not name replicaz:\n%s", r)
	}
	if r := k.run(t, "get", "deployment", "typo"); r.err == nil {
		t.Errorf("the Deployment with an unknown field was stored:\n%s", r)
	}

	bad := writeFile(t, "bad.yaml", fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: Bad_Name
  namespace: %s
data:
  a: "1"
`, k.ns))
	r = k.run(t, "apply", "-f", bad)
	if r.err == nil {
		t.Errorf("apply of ConfigMap Bad_Name succeeded:\n%s", r)
	} else if !strings.Contains(r.stderr, "is invalid") || !strings.Contains(r.stderr, "metadata.name") {
		t.Errorf("apply of ConfigMap Bad_Name: want an Invalid error naming metadata.name:\n%s", r)
	}
	if out := k.must(t, "get", "configmaps", "-o", "name"); strings.Contains(strings.ToLower(out), "bad_name") {
		t.Errorf("the invalid ConfigMap was stored: %s", out)
	}
}
