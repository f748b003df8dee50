package api

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

var tableNow = time.Date(2025, 4, 23, 12, 0, 0, 0, time.UTC)

// pinTableClock fixes the clock ages are measured on.
func pinTableClock(t *testing.T) {
	t.Helper()
	old := nowFunc
	nowFunc = func() metav1.Time { return metav1.NewTime(tableNow) }
	t.Cleanup(func() { nowFunc = old })
}

func ago(d time.Duration) metav1.Time { return metav1.NewTime(tableNow.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func objMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}
}

func podSpec(images ...string) corev1.PodTemplateSpec {
	var cs []corev1.Container
	for i, im := range images {
		cs = append(cs, corev1.Container{Name: "c" + string(rune('0'+i)), Image: im})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: cs},
	}
}

func ptr[T any](v T) *T { return &v }

// tableSamples holds a representative object of every builtin resource.
func tableSamples() map[string]runtime.Object {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	return map[string]runtime.Object{
		"namespaces": &corev1.Namespace{ObjectMeta: objMeta("ns"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		"pods": &corev1.Pod{ObjectMeta: objMeta("p"),
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}, NodeName: "n1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"}},
		"nodes": &corev1.Node{ObjectMeta: objMeta("n1")},
		"services": &corev1.Service{ObjectMeta: objMeta("s"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}}},
		"endpoints":       &corev1.Endpoints{ObjectMeta: objMeta("e")},
		"configmaps":      &corev1.ConfigMap{ObjectMeta: objMeta("cm"), Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}},
		"secrets":         &corev1.Secret{ObjectMeta: objMeta("sec"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": nil}},
		"serviceaccounts": &corev1.ServiceAccount{ObjectMeta: objMeta("sa"), Secrets: []corev1.ObjectReference{{Name: "x"}}},
		"events": &corev1.Event{ObjectMeta: objMeta("ev"), Type: "Normal", Reason: "Scheduled", Message: "ok",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"}, FirstTimestamp: ago(time.Minute), LastTimestamp: ago(time.Minute), Count: 1},
		"resourcequotas": &corev1.ResourceQuota{ObjectMeta: objMeta("q")},
		"limitranges":    &corev1.LimitRange{ObjectMeta: objMeta("lr")},
		"replicationcontrollers": &corev1.ReplicationController{ObjectMeta: objMeta("rc"),
			Spec: corev1.ReplicationControllerSpec{Replicas: ptr(int32(2)), Selector: map[string]string{"app": "web"}}},
		"persistentvolumes":      &corev1.PersistentVolume{ObjectMeta: objMeta("pv")},
		"persistentvolumeclaims": &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("pvc")},
		"deployments": &appsv1.Deployment{ObjectMeta: objMeta("d"),
			Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: sel, Template: podSpec("nginx")}},
		"replicasets": &appsv1.ReplicaSet{ObjectMeta: objMeta("rs"),
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: sel, Template: podSpec("nginx")}},
		"statefulsets": &appsv1.StatefulSet{ObjectMeta: objMeta("ss"),
			Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(1)), Selector: sel, Template: podSpec("db")}},
		"daemonsets": &appsv1.DaemonSet{ObjectMeta: objMeta("ds"), Spec: appsv1.DaemonSetSpec{Selector: sel, Template: podSpec("agent")}},
		"jobs": &batchv1.Job{ObjectMeta: objMeta("j"),
			Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Selector: sel, Template: podSpec("busybox")}},
		"cronjobs": &batchv1.CronJob{ObjectMeta: objMeta("cj"), Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podSpec("busybox")}}}},
		"leases":         &coordinationv1.Lease{ObjectMeta: objMeta("l"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("me")}},
		"endpointslices": &discoveryv1.EndpointSlice{ObjectMeta: objMeta("es"), AddressType: discoveryv1.AddressTypeIPv4},
		"ingresses":      &networkingv1.Ingress{ObjectMeta: objMeta("ing")},
		"runtimeclasses": &nodev1.RuntimeClass{ObjectMeta: objMeta("wasm"), Handler: "wasm"},
		"wasmplugins": &pluginsv1alpha1.WasmPlugin{ObjectMeta: metav1.ObjectMeta{Name: "wp"},
			Spec: pluginsv1alpha1.WasmPluginSpec{Kinds: []string{"admission"}, Module: pluginsv1alpha1.ModuleSource{Digest: "sha256:abababababababababababababababababababababababababababababababab"}}},
		"schedulerprofiles": &pluginsv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "sp"},
			Spec: pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "sp"}},
		"controllers": &pluginsv1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Name: "c"},
			Spec: pluginsv1alpha1.ControllerSpec{Parent: pluginsv1alpha1.KindReference{APIVersion: "apps/v1", Kind: "ReplicaSet"}}},
		"admissionpolicies": &pluginsv1alpha1.AdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "ap"},
			Spec: pluginsv1alpha1.AdmissionPolicySpec{Type: pluginsv1alpha1.PolicyValidating}},
		"customresourcedefinitions": &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"}},
		"roles":                     &rbacv1.Role{ObjectMeta: objMeta("r")},
		"clusterroles":              &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cr", CreationTimestamp: ago(time.Minute)}},
		"rolebindings": &rbacv1.RoleBinding{ObjectMeta: objMeta("rb"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "jane"}}},
		"clusterrolebindings": &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cr"}},
		"certificatesigningrequests": &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr"},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/s", Username: "jane"}},
	}
}

func TestTableEveryKindHasPrinter(t *testing.T) {
	pinTableClock(t)
	samples := tableSamples()
	for _, k := range Builtin() {
		t.Run(k.Resource, func(t *testing.T) {
			if _, ok := tables[k.Resource]; !ok {
				t.Fatalf("no printer for %s", k.Resource)
			}
			obj, ok := samples[k.Resource]
			if !ok {
				t.Fatalf("no sample for %s", k.Resource)
			}
			nameCols := 0
			for i, c := range k.Columns {
				if c.Description == "" {
					t.Errorf("column %d %q has no description", i, c.Name)
				}
				if c.Format == "name" {
					nameCols++
				}
			}
			if nameCols != 1 {
				t.Errorf("%d name columns, want 1", nameCols)
			}
			if k.Resource != "events" {
				if c := k.Columns[0]; c.Name != "Name" || c.Type != "string" || c.Format != "name" || c.Priority != 0 {
					t.Errorf("first column %+v, want Name", c)
				}
			}
			for _, o := range []runtime.Object{obj, k.New()} {
				row := k.Row(o)
				if len(row) != len(k.Columns) {
					t.Fatalf("%T: %d cells for %d columns: %#v", o, len(row), len(k.Columns), row)
				}
				for i, cell := range row {
					switch cell.(type) {
					case string, int64:
					default:
						t.Errorf("cell %d (%s) is %T", i, k.Columns[i].Name, cell)
					}
					if k.Columns[i].Type == "integer" {
						if _, ok := cell.(int64); !ok {
							t.Errorf("integer column %s holds %T", k.Columns[i].Name, cell)
						}
					}
				}
			}
		})
	}
}

func columnNames(res string) []string {
	var names []string
	for _, c := range tables[res].columns {
		n := c.Name
		if c.Priority == 1 {
			n += "*"
		}
		names = append(names, n)
	}
	return names
}

func TestTableColumnLayouts(t *testing.T) {
	want := map[string][]string{
		"pods":                       {"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"},
		"deployments":                {"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*", "Selector*"},
		"replicasets":                {"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"},
		"replicationcontrollers":     {"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"},
		"statefulsets":               {"Name", "Ready", "Age", "Containers*", "Images*"},
		"daemonsets":                 {"Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers*", "Images*", "Selector*"},
		"jobs":                       {"Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*", "Selector*"},
		"cronjobs":                   {"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers*", "Images*", "Selector*"},
		"services":                   {"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"},
		"nodes":                      {"Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*", "OS-Image*", "Kernel-Version*", "Container-Runtime*"},
		"events":                     {"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"},
		"persistentvolumes":          {"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode*"},
		"persistentvolumeclaims":     {"Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode*"},
		"resourcequotas":             {"Name", "Request", "Limit", "Age"},
		"limitranges":                {"Name", "Created At"},
		"ingresses":                  {"Name", "Class", "Hosts", "Address", "Ports", "Age"},
		"endpointslices":             {"Name", "AddressType", "Ports", "Endpoints", "Age"},
		"roles":                      {"Name", "Created At"},
		"clusterroles":               {"Name", "Created At"},
		"rolebindings":               {"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"},
		"clusterrolebindings":        {"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"},
		"certificatesigningrequests": {"Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"},
	}
	for res, w := range want {
		if got := columnNames(res); !reflect.DeepEqual(got, w) {
			t.Errorf("%s columns:\n got %q\nwant %q", res, got, w)
		}
	}
}

func TestTablePodStatus(t *testing.T) {
	pinTableClock(t)
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}}
	waiting := func(r string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
	}
	terminated := func(reason string, code, signal int32) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, Signal: signal}}
	}
	two := []corev1.Container{{Name: "a"}, {Name: "b"}}
	cases := []struct {
		name        string
		pod         corev1.Pod
		ready, want string
	}{
		{name: "pending", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			ready: "0/2", want: "Pending"},
		{name: "container creating", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: waiting("ContainerCreating")}}}},
			ready: "0/1", want: "ContainerCreating"},
		{name: "crash loop", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: waiting("CrashLoopBackOff")}, {Name: "b", Ready: true, State: running}}}},
			ready: "1/2", want: "CrashLoopBackOff"},
		{name: "image pull", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: waiting("ErrImagePull")}}}},
			ready: "0/1", want: "ErrImagePull"},
		{name: "running", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}, {Name: "b", Ready: true, State: running}}}},
			ready: "2/2", want: "Running"},
		{name: "init running", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "a", State: waiting("PodInitializing")}}}},
			ready: "0/1", want: "Init:0/1"},
		{name: "init second of two", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}, {Name: "j"}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "i", State: terminated("Completed", 0, 0)}, {Name: "j", State: waiting("PodInitializing")}}}},
			ready: "0/1", want: "Init:1/2"},
		{name: "init crash loop", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: waiting("CrashLoopBackOff")}}}},
			ready: "0/1", want: "Init:CrashLoopBackOff"},
		{name: "init error", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodFailed,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: terminated("Error", 1, 0)}}}},
			ready: "0/1", want: "Init:Error"},
		{name: "init exit code", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: terminated("", 3, 0)}}}},
			ready: "0/1", want: "Init:ExitCode:3"},
		{name: "sidecar started counts ready", pod: corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "side", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "side", Started: ptr(true), Ready: true, State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}}}},
			ready: "2/2", want: "Running"},
		{name: "completed", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("Completed", 0, 0)}}}},
			ready: "0/1", want: "Completed"},
		{name: "error", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("Error", 1, 0)}}}},
			ready: "0/1", want: "Error"},
		{name: "signal", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("", 137, 9)}}}},
			ready: "0/1", want: "Signal:9"},
		{name: "exit code", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("", 2, 0)}}}},
			ready: "0/1", want: "ExitCode:2"},
		{name: "not ready", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("Completed", 0, 0)}, {Name: "b", Ready: true, State: running}}}},
			ready: "1/2", want: "NotReady"},
		{name: "completed sidecar-ish but ready", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("Completed", 0, 0)}, {Name: "b", Ready: true, State: running}}}},
			ready: "1/2", want: "Running"},
		{name: "terminating", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: agoPtr(time.Second)},
			Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}}}},
			ready: "1/1", want: "Terminating"},
		{name: "deleted but succeeded", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: agoPtr(time.Second)},
			Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: terminated("Completed", 0, 0)}}}},
			ready: "0/1", want: "Completed"},
		{name: "node lost", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: agoPtr(time.Second)},
			Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"}},
			ready: "0/1", want: "Unknown"},
		{name: "evicted", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}},
			ready: "0/1", want: "Evicted"},
		{name: "scheduling gated", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SchedulingGated"}}}},
			ready: "0/1", want: "SchedulingGated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.pod.Name = "p"
			row := podTable.row(&tc.pod)
			if row[1] != tc.ready || row[2] != tc.want {
				t.Errorf("READY, STATUS = %v, %v; want %s, %s", row[1], row[2], tc.ready, tc.want)
			}
		})
	}
}

func TestTablePodRestartsAndWide(t *testing.T) {
	pinTableClock(t)
	lastTerm := func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(d)}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(2 * time.Hour)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}, NodeName: "node-1",
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x/one"}, {ConditionType: "x/two"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.1.0.7"}},
			Conditions: []corev1.PodCondition{{Type: "x/one", Status: corev1.ConditionTrue}, {Type: "x/two", Status: corev1.ConditionFalse}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", Ready: true, RestartCount: 1, LastTerminationState: lastTerm(time.Hour),
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "b", Ready: true, RestartCount: 1, LastTerminationState: lastTerm(5 * time.Minute),
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}},
	}
	want := []any{"web", "2/2", "Running", "2 (5m ago)", "120m", "10.1.0.7", "node-1", "<none>", "1/2"}
	if got := podTable.row(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %#v\nwant %#v", got, want)
	}

	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "a", RestartCount: 0}}}}
	want = []any{"bare", "0/0", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"}
	if got := podTable.row(bare); !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %#v\nwant %#v", got, want)
	}
}

func TestTableServices(t *testing.T) {
	pinTableClock(t)
	cases := []struct {
		name               string
		spec               corev1.ServiceSpec
		status             corev1.ServiceStatus
		clusterIP, ext, pt string
		selector           string
	}{
		{name: "nodeport", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.1.1",
			Selector: map[string]string{"app": "web", "tier": "fe"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
				{Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP}}},
			clusterIP: "10.96.1.1", ext: "<none>", pt: "80:30080/TCP,443:30443/TCP", selector: "app=web,tier=fe"},
		{name: "clusterip external ips", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.1.2"},
			ExternalIPs: []string{"1.2.3.4", "5.6.7.8"}, Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}},
			clusterIP: "10.96.1.2", ext: "1.2.3.4,5.6.7.8", pt: "53/UDP", selector: "<none>"},
		{name: "lb pending", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.1.3",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}}},
			clusterIP: "10.96.1.3", ext: "<pending>", pt: "80:31000/TCP", selector: "<none>"},
		{name: "lb ingress", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.1.4"},
			status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
				{IP: "203.0.113.9"}, {Hostname: "a-very-long-load-balancer.example.com"}}}},
			clusterIP: "10.96.1.4", ext: "203.0.113.9,a-very-long-load-balancer.example.com", pt: "<none>", selector: "<none>"},
		{name: "external name", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			clusterIP: "<none>", ext: "db.example.com", pt: "<none>", selector: "<none>"},
		{name: "headless", spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None",
			Ports: []corev1.ServicePort{{Port: 5432, Protocol: corev1.ProtocolTCP}}},
			clusterIP: "None", ext: "<none>", pt: "5432/TCP", selector: "<none>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: objMeta("s"), Spec: tc.spec, Status: tc.status}
			want := []any{"s", string(tc.spec.Type), tc.clusterIP, tc.ext, tc.pt, "5m", tc.selector}
			if got := serviceTable.row(svc); !reflect.DeepEqual(got, want) {
				t.Errorf("row\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestTableNodes(t *testing.T) {
	pinTableClock(t)
	node := func(status *corev1.ConditionStatus, unschedulable bool, labels map[string]string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: labels, CreationTimestamp: ago(48 * time.Hour)},
			Spec: corev1.NodeSpec{Unschedulable: unschedulable}}
		if status != nil {
			n.Status.Conditions = []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: *status}}
		}
		return n
	}
	tr, fa, un := corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown
	cases := []struct {
		name         string
		node         *corev1.Node
		status, role string
	}{
		{"ready", node(&tr, false, nil), "Ready", "<none>"},
		{"cordoned", node(&tr, true, map[string]string{"node-role.kubernetes.io/control-plane": ""}), "Ready,SchedulingDisabled", "control-plane"},
		{"not ready", node(&fa, false, map[string]string{"kubernetes.io/role": "worker", "node-role.kubernetes.io/infra": ""}), "NotReady", "infra,worker"},
		{"unknown condition", node(&un, false, nil), "NotReady", "<none>"},
		{"no conditions", node(nil, true, nil), "Unknown,SchedulingDisabled", "<none>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := nodeTable.row(tc.node)
			if row[1] != tc.status || row[2] != tc.role || row[3] != "2d" {
				t.Errorf("STATUS, ROLES, AGE = %v, %v, %v; want %s, %s, 2d", row[1], row[2], row[3], tc.status, tc.role)
			}
		})
	}
	n := node(&tr, false, nil)
	n.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.33.0", OSImage: "Debian", KernelVersion: "6.1", ContainerRuntimeVersion: "containerd://2.0"}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}
	want := []any{"n1", "Ready", "<none>", "2d", "v1.33.0", "192.168.1.10", "<none>", "Debian", "6.1", "containerd://2.0"}
	if got := nodeTable.row(n); !reflect.DeepEqual(got, want) {
		t.Errorf("row\n got %#v\nwant %#v", got, want)
	}
	if got := nodeTable.row(node(&tr, false, nil)); got[7] != "<unknown>" {
		t.Errorf("empty OS image printed %v", got[7])
	}
}

func TestTableWorkloads(t *testing.T) {
	pinTableClock(t)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	cases := []struct {
		name string
		res  string
		obj  runtime.Object
		want []any
	}{
		{"deployment", "deployments", &appsv1.Deployment{ObjectMeta: objMeta("web"),
			Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: sel, Template: podSpec("nginx:1", "sidecar:2")},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			[]any{"web", "2/3", int64(3), int64(2), "5m", "c0,c1", "nginx:1,sidecar:2", "app=web"}},
		{"deployment without selector", "deployments", &appsv1.Deployment{ObjectMeta: objMeta("web")},
			[]any{"web", "0/0", int64(0), int64(0), "5m", "", "", ""}},
		{"replicaset", "replicasets", &appsv1.ReplicaSet{ObjectMeta: objMeta("web-1"),
			Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: sel, Template: podSpec("nginx")},
			Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}},
			[]any{"web-1", int64(3), int64(3), int64(1), "5m", "c0", "nginx", "app=web"}},
		{"replicationcontroller", "replicationcontrollers", &corev1.ReplicationController{ObjectMeta: objMeta("rc"),
			Spec:   corev1.ReplicationControllerSpec{Replicas: ptr(int32(2)), Selector: map[string]string{"app": "web"}},
			Status: corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2}},
			[]any{"rc", int64(2), int64(2), int64(2), "5m", "", "", "app=web"}},
		{"statefulset", "statefulsets", &appsv1.StatefulSet{ObjectMeta: objMeta("db"),
			Spec:   appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: podSpec("postgres")},
			Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
			[]any{"db", "1/3", "5m", "c0", "postgres"}},
		{"daemonset", "daemonsets", &appsv1.DaemonSet{ObjectMeta: objMeta("agent"),
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"kubernetes.io/os": "linux"}, Containers: []corev1.Container{{Name: "a", Image: "agent"}}}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			[]any{"agent", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "5m", "a", "agent", "app=web"}},
		{"daemonset no node selector", "daemonsets", &appsv1.DaemonSet{ObjectMeta: objMeta("agent")},
			[]any{"agent", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "5m", "", "", "<none>"}},
		{"job complete", "jobs", &batchv1.Job{ObjectMeta: objMeta("j"),
			Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Selector: sel, Template: podSpec("busybox")},
			Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(4 * time.Minute), CompletionTime: agoPtr(4*time.Minute - 12*time.Second),
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			[]any{"j", "Complete", "1/1", "12s", "5m", "c0", "busybox", "app=web"}},
		{"job running parallel", "jobs", &batchv1.Job{ObjectMeta: objMeta("j"),
			Spec:   batchv1.JobSpec{Parallelism: ptr(int32(3))},
			Status: batchv1.JobStatus{StartTime: agoPtr(90 * time.Second)}},
			[]any{"j", "Running", "0/1 of 3", "90s", "5m", "", "", "<none>"}},
		{"job failed", "jobs", &batchv1.Job{ObjectMeta: objMeta("j"),
			Spec:   batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2))},
			Status: batchv1.JobStatus{Succeeded: 2, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}}},
			[]any{"j", "Failed", "2/5", "", "5m", "", "", "<none>"}},
		{"job suspended", "jobs", &batchv1.Job{ObjectMeta: objMeta("j"),
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}}},
			[]any{"j", "Suspended", "0/1", "", "5m", "", "", "<none>"}},
		{"cronjob", "cronjobs", &batchv1.CronJob{ObjectMeta: objMeta("cj"),
			Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", TimeZone: ptr("Europe/Paris"), Suspend: ptr(true),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Selector: sel, Template: podSpec("busybox")}}},
			Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "cj-1"}}, LastScheduleTime: agoPtr(time.Minute)}},
			[]any{"cj", "0 * * * *", "Europe/Paris", "True", int64(1), "60s", "5m", "c0", "busybox", "app=web"}},
		{"cronjob never scheduled", "cronjobs", &batchv1.CronJob{ObjectMeta: objMeta("cj"), Spec: batchv1.CronJobSpec{Schedule: "@daily", Suspend: ptr(false)}},
			[]any{"cj", "@daily", "<none>", "False", int64(0), "<none>", "5m", "", "", "<none>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tables[tc.res].row(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestTableCoreKinds(t *testing.T) {
	pinTableClock(t)
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	fs := corev1.PersistentVolumeFilesystem
	cases := []struct {
		name string
		res  string
		obj  runtime.Object
		want []any
	}{
		{"namespace", "namespaces", &corev1.Namespace{ObjectMeta: objMeta("kube-system"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]any{"kube-system", "Active", "5m"}},
		{"configmap", "configmaps", &corev1.ConfigMap{ObjectMeta: objMeta("cm"), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": nil}},
			[]any{"cm", int64(3), "5m"}},
		{"secret", "secrets", &corev1.Secret{ObjectMeta: objMeta("tls"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}, StringData: map[string]string{"tls.key": "x", "ca.crt": "y"}},
			[]any{"tls", "kubernetes.io/tls", int64(3), "5m"}},
		{"serviceaccount", "serviceaccounts", &corev1.ServiceAccount{ObjectMeta: objMeta("default")},
			[]any{"default", int64(0), "5m"}},
		{"endpoints none", "endpoints", &corev1.Endpoints{ObjectMeta: objMeta("e")}, []any{"e", "<none>", "5m"}},
		{"endpoints", "endpoints", &corev1.Endpoints{ObjectMeta: objMeta("e"), Subsets: []corev1.EndpointSubset{
			{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
			[]any{"e", "10.0.0.1:80,10.0.0.2:80", "5m"}},
		{"endpoints more", "endpoints", &corev1.Endpoints{ObjectMeta: objMeta("e"), Subsets: []corev1.EndpointSubset{
			{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::4"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}}}},
			[]any{"e", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more...", "5m"}},
		{"endpoints headless", "endpoints", &corev1.Endpoints{ObjectMeta: objMeta("e"), Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1")}}},
			[]any{"e", "10.0.0.1", "5m"}},
		{"event", "events", &corev1.Event{ObjectMeta: objMeta("web.17a"), Type: "Warning", Reason: "BackOff", Message: " Back-off restarting \n",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{a}"},
			Source:         corev1.EventSource{Component: "kubelet", Host: "n1"}, Count: 7,
			FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(30 * time.Second)},
			[]any{"30s", "Warning", "BackOff", "pod/web", "spec.containers{a}", "kubelet, n1", "Back-off restarting", "10m", int64(7), "web.17a"}},
		{"event new api", "events", &corev1.Event{ObjectMeta: objMeta("e2"), Type: "Normal", Reason: "Scheduled",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod"}, ReportingController: "default-scheduler",
			EventTime: metav1.NewMicroTime(tableNow.Add(-2 * time.Minute))},
			[]any{"2m", "Normal", "Scheduled", "pod", "", "default-scheduler", "", "2m", int64(1), "e2"}},
		{"event series", "events", &corev1.Event{ObjectMeta: objMeta("e3"), EventTime: metav1.NewMicroTime(tableNow.Add(-time.Hour)),
			Series: &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(tableNow.Add(-3 * time.Second))}},
			[]any{"3s", "", "", "", "", "", "", "60m", int64(4), "e3"}},
		{"event no time", "events", &corev1.Event{ObjectMeta: objMeta("e4")},
			[]any{"<unknown>", "", "", "", "", "", "", "<unknown>", int64(1), "e4"}},
		{"resourcequota", "resourcequotas", &corev1.ResourceQuota{ObjectMeta: objMeta("q"), Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"requests.memory": resource.MustParse("1Gi"), "requests.cpu": resource.MustParse("1"),
				"limits.cpu": resource.MustParse("2"), "pods": resource.MustParse("10")},
			Used: corev1.ResourceList{"requests.cpu": resource.MustParse("500m"), "pods": resource.MustParse("3")}}},
			[]any{"q", "pods: 3/10, requests.cpu: 500m/1, requests.memory: 0/1Gi", "limits.cpu: 0/2", "5m"}},
		{"limitrange", "limitranges", &corev1.LimitRange{ObjectMeta: objMeta("lr")},
			[]any{"lr", "2025-04-23T11:55:00Z"}},
		{"pv", "persistentvolumes", &corev1.PersistentVolume{ObjectMeta: objMeta("pv1"), Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
			ClaimRef:    &corev1.ObjectReference{Namespace: "default", Name: "data"}, StorageClassName: "standard",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, VolumeMode: &fs},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			[]any{"pv1", "10Gi", "RWO,ROX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "5m", "Filesystem"}},
		{"pv terminating", "persistentvolumes", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv2", DeletionTimestamp: agoPtr(time.Second),
			Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "old"}},
			Spec: corev1.PersistentVolumeSpec{StorageClassName: "new", VolumeAttributesClassName: ptr("gold")}},
			[]any{"pv2", "0", "", "", "Terminating", "", "old", "gold", "", "<unknown>", "<unset>"}},
		{"pvc bound", "persistentvolumeclaims", &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("data"),
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1", StorageClassName: ptr("standard"), VolumeMode: &fs},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
			[]any{"data", "Bound", "pv1", "10Gi", "RWO", "standard", "<unset>", "5m", "Filesystem"}},
		{"pvc pending", "persistentvolumeclaims", &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("data"),
			Spec:   corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
			[]any{"data", "Pending", "", "", "", "", "<unset>", "5m", "<unset>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tables[tc.res].row(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestTableNetworkKinds(t *testing.T) {
	pinTableClock(t)
	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	cases := []struct {
		name string
		res  string
		obj  runtime.Object
		want []any
	}{
		{"lease", "leases", &coordinationv1.Lease{ObjectMeta: objMeta("kube-scheduler"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("n1_abc")}},
			[]any{"kube-scheduler", "n1_abc", "5m"}},
		{"lease unheld", "leases", &coordinationv1.Lease{ObjectMeta: objMeta("l")}, []any{"l", "", "5m"}},
		{"endpointslice", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Port: ptr(int32(443))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}},
				{Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4", "10.0.0.5"}}}},
			[]any{"web-abc", "IPv4", "80,443", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "5m"}},
		{"endpointslice empty", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("e"), AddressType: discoveryv1.AddressTypeIPv6},
			[]any{"e", "IPv6", "<unset>", "<unset>", "5m"}},
		{"endpointslice port without number", "endpointslices", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("e"), AddressType: discoveryv1.AddressTypeFQDN,
			Ports: []discoveryv1.EndpointPort{{}, {Name: ptr("http")}}},
			[]any{"e", "FQDN", "*,http", "<unset>", "5m"}},
		{"ingress", "ingresses", &networkingv1.Ingress{ObjectMeta: objMeta("web"),
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("nginx"), Rules: rules("a.example.com", "b.example.com"),
				TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}}},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{
				{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}}}}},
			[]any{"web", "nginx", "a.example.com,b.example.com", "203.0.113.10,lb.example.com", "80, 443", "5m"}},
		{"ingress default", "ingresses", &networkingv1.Ingress{ObjectMeta: objMeta("web"), Spec: networkingv1.IngressSpec{Rules: rules("")}},
			[]any{"web", "<none>", "*", "", "80", "5m"}},
		{"ingress many hosts", "ingresses", &networkingv1.Ingress{ObjectMeta: objMeta("web"), Spec: networkingv1.IngressSpec{Rules: rules("a", "b", "c", "d", "e")}},
			[]any{"web", "<none>", "a,b,c + 2 more...", "", "80", "5m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tables[tc.res].row(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestTableAuthKinds(t *testing.T) {
	pinTableClock(t)
	csr := func(m ...func(*certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
		return mk(&certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "jane", CreationTimestamp: ago(5 * time.Minute)},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client", Username: "admin"}}, m...)
	}
	cond := func(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue}
	}
	conds := func(ts ...certificatesv1.RequestConditionType) func(*certificatesv1.CertificateSigningRequest) {
		return func(c *certificatesv1.CertificateSigningRequest) {
			for _, t := range ts {
				c.Status.Conditions = append(c.Status.Conditions, cond(t))
			}
		}
	}
	issued := func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Certificate = []byte("-----BEGIN CERTIFICATE-----")
	}
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "jane"}, {Kind: rbacv1.UserKind, Name: "joe"}, {Kind: rbacv1.GroupKind, Name: "devs"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "builder"}, {Kind: "Robot", Name: "r2"},
	}
	cases := []struct {
		name string
		res  string
		obj  runtime.Object
		want []any
	}{
		{"role", "roles", &rbacv1.Role{ObjectMeta: objMeta("pod-reader")}, []any{"pod-reader", "2025-04-23T11:55:00Z"}},
		{"clusterrole", "clusterroles", &rbacv1.ClusterRole{ObjectMeta: objMeta("view")}, []any{"view", "2025-04-23T11:55:00Z"}},
		{"rolebinding", "rolebindings", &rbacv1.RoleBinding{ObjectMeta: objMeta("read-pods"),
			RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "pod-reader"}, Subjects: subjects},
			[]any{"read-pods", "Role/pod-reader", "5m", "jane, joe", "devs", "ci/builder"}},
		{"rolebinding without subjects", "rolebindings", &rbacv1.RoleBinding{ObjectMeta: objMeta("empty"),
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}},
			[]any{"empty", "ClusterRole/view", "5m", "", "", ""}},
		{"clusterrolebinding", "clusterrolebindings", &rbacv1.ClusterRoleBinding{ObjectMeta: objMeta("cluster-admin"),
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}, Subjects: subjects[2:3]},
			[]any{"cluster-admin", "ClusterRole/cluster-admin", "5m", "", "devs", ""}},
		{"csr pending", "certificatesigningrequests", csr(), []any{"jane", "5m", "kubernetes.io/kube-apiserver-client", "admin", "<none>", "Pending"}},
		{"csr approved and issued", "certificatesigningrequests", csr(conds(certificatesv1.CertificateApproved), issued,
			func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr(int32(3600)) }),
			[]any{"jane", "5m", "kubernetes.io/kube-apiserver-client", "admin", "60m", "Approved,Issued"}},
		{"csr denied wins", "certificatesigningrequests", csr(conds(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied)),
			[]any{"jane", "5m", "kubernetes.io/kube-apiserver-client", "admin", "<none>", "Denied"}},
		{"csr failed", "certificatesigningrequests", csr(conds(certificatesv1.CertificateApproved, certificatesv1.CertificateFailed),
			func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" }),
			[]any{"jane", "5m", "<none>", "admin", "<none>", "Approved,Failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tables[tc.res].row(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestTableRowOtherObjects(t *testing.T) {
	pinTableClock(t)
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "creationTimestamp": "2025-04-23T11:55:00Z"},
		"spec":     map[string]any{"replicas": int64(2)},
		"status":   map[string]any{"readyReplicas": int64(1)},
	}}
	if got := deploymentTable.row(u); got[0] != "web" || got[1] != "1/2" || got[4] != "5m" {
		t.Errorf("unstructured deployment row %#v", got)
	}
	// An object of the wrong kind still yields one cell per column, its name in the name column.
	got := eventTable.row(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}})
	if len(got) != len(eventTable.columns) || got[len(got)-1] != "p" || got[0] != "" {
		t.Errorf("fallback row %#v", got)
	}
	var nilPod *corev1.Pod
	if got := podTable.row(nilPod); len(got) != len(podTable.columns) {
		t.Errorf("nil pod row %#v", got)
	}
}

func TestTableTranslateAge(t *testing.T) {
	pinTableClock(t)
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 3*time.Minute + 2*time.Second: "3m2s", 4 * time.Hour: "4h", 50 * time.Hour: "2d2h",
	} {
		if got := translateAge(ago(d)); got != want {
			t.Errorf("translateAge(-%v) = %q, want %q", d, got, want)
		}
	}
	if got := translateAge(metav1.Time{}); got != "<unknown>" {
		t.Errorf("zero time printed %q", got)
	}
}
