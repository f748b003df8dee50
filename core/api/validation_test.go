package api

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// --- expectations ---

// wantErr is one expected error: its type and its field path.
type wantErr struct {
	typ   field.ErrorType
	field string
}

func (w wantErr) String() string { return fmt.Sprintf("%s %s", w.field, w.typ) }

func invalid(f string) wantErr     { return wantErr{field.ErrorTypeInvalid, f} }
func required(f string) wantErr    { return wantErr{field.ErrorTypeRequired, f} }
func forbidden(f string) wantErr   { return wantErr{field.ErrorTypeForbidden, f} }
func duplicate(f string) wantErr   { return wantErr{field.ErrorTypeDuplicate, f} }
func unsupported(f string) wantErr { return wantErr{field.ErrorTypeNotSupported, f} }
func notFound(f string) wantErr    { return wantErr{field.ErrorTypeNotFound, f} }
func tooLong(f string) wantErr     { return wantErr{field.ErrorTypeTooLong, f} }
func tooMany(f string) wantErr     { return wantErr{field.ErrorTypeTooMany, f} }

// vcase validates obj as resource res: created when old is nil, else updated from old. The
// errors must be exactly want, compared as a set of (type, path); no want means valid.
type vcase struct {
	name string
	res  string
	obj  runtime.Object
	old  runtime.Object
	want []wantErr
}

func runCases(t *testing.T, cases []vcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.res+"/"+tc.name, func(t *testing.T) {
			v, ok := validators[tc.res]
			if !ok {
				t.Fatalf("no validator for %q", tc.res)
			}
			var errs field.ErrorList
			if tc.old == nil {
				errs = v.create(tc.obj)
			} else {
				errs = v.update(tc.obj, tc.old)
			}
			checkErrs(t, errs, tc.want)
		})
	}
}

// checkErrs fails t unless errs are exactly want, compared as a set of (type, path).
func checkErrs(t *testing.T, errs field.ErrorList, want []wantErr) {
	t.Helper()
	got, wanted := map[wantErr]bool{}, map[wantErr]bool{}
	for _, e := range errs {
		got[wantErr{e.Type, e.Field}] = true
	}
	for _, w := range want {
		wanted[w] = true
	}
	if !sameKeys(got, wanted) {
		t.Errorf("got errors %v\nwant %v\nfull: %v", keys(got), keys(wanted), errs)
	}
}

func sameKeys(a, b map[wantErr]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[wantErr]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

// --- fixtures: a valid object of each kind, changed by the case ---

func mk[T any](base T, muts ...func(T)) T {
	for _, m := range muts {
		m(base)
	}
	return base
}

func tptr[T any](v T) *T { return &v }

func nsMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: "1"}
}

func clusterMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, ResourceVersion: "1"}
}

func webLabels() map[string]string { return map[string]string{"app": "web"} }

func testPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "web",
			Image: "nginx:1.27",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}},
		}},
		Volumes:       []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		RestartPolicy: corev1.RestartPolicyAlways,
		DNSPolicy:     corev1.DNSClusterFirst,
	}
}

func testTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: webLabels()}, Spec: testPodSpec()}
}

func testJobTemplate() corev1.PodTemplateSpec {
	t := testTemplate()
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return t
}

func pod(m ...func(*corev1.Pod)) *corev1.Pod {
	return mk(&corev1.Pod{ObjectMeta: nsMeta("web"), Spec: testPodSpec()}, m...)
}

func deployment(m ...func(*appsv1.Deployment)) *appsv1.Deployment {
	return mk(&appsv1.Deployment{ObjectMeta: nsMeta("web"), Spec: appsv1.DeploymentSpec{
		Replicas: tptr(int32(2)),
		Selector: &metav1.LabelSelector{MatchLabels: webLabels()},
		Template: testTemplate(),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: tptr(intstr.FromString("25%")), MaxSurge: tptr(intstr.FromInt32(1))}},
		RevisionHistoryLimit:    tptr(int32(10)),
		ProgressDeadlineSeconds: tptr(int32(600)),
	}}, m...)
}

func replicaSet(m ...func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	return mk(&appsv1.ReplicaSet{ObjectMeta: nsMeta("web-5d4f"), Spec: appsv1.ReplicaSetSpec{
		Replicas: tptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: webLabels()}, Template: testTemplate(),
	}}, m...)
}

func statefulSet(m ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	tmpl := testTemplate()
	tmpl.Spec.Containers[0].VolumeMounts = append(tmpl.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	return mk(&appsv1.StatefulSet{ObjectMeta: nsMeta("db"), Spec: appsv1.StatefulSetSpec{
		Replicas:            tptr(int32(3)),
		Selector:            &metav1.LabelSelector{MatchLabels: webLabels()},
		Template:            tmpl,
		ServiceName:         "db",
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: tptr(int32(0))}},
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}},
	}}, m...)
}

func daemonSet(m ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	return mk(&appsv1.DaemonSet{ObjectMeta: nsMeta("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: webLabels()},
		Template: testTemplate(),
		UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: tptr(intstr.FromInt32(1)), MaxSurge: tptr(intstr.FromInt32(0))}},
	}}, m...)
}

func replicationController(m ...func(*corev1.ReplicationController)) *corev1.ReplicationController {
	tmpl := testTemplate()
	return mk(&corev1.ReplicationController{ObjectMeta: nsMeta("web"), Spec: corev1.ReplicationControllerSpec{
		Replicas: tptr(int32(1)), Selector: webLabels(), Template: &tmpl,
	}}, m...)
}

func job(m ...func(*batchv1.Job)) *batchv1.Job {
	return mk(&batchv1.Job{ObjectMeta: nsMeta("backup"), Spec: batchv1.JobSpec{
		Parallelism: tptr(int32(1)), Completions: tptr(int32(1)), BackoffLimit: tptr(int32(6)),
		Template: testJobTemplate(),
	}}, m...)
}

func cronJob(m ...func(*batchv1.CronJob)) *batchv1.CronJob {
	return mk(&batchv1.CronJob{ObjectMeta: nsMeta("nightly"), Spec: batchv1.CronJobSpec{
		Schedule:          "*/5 * * * *",
		ConcurrencyPolicy: batchv1.ForbidConcurrent,
		JobTemplate:       batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: testJobTemplate()}},
	}}, m...)
}

func service(m ...func(*corev1.Service)) *corev1.Service {
	return mk(&corev1.Service{ObjectMeta: nsMeta("web"), Spec: corev1.ServiceSpec{
		Type:     corev1.ServiceTypeClusterIP,
		Selector: webLabels(),
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
	}}, m...)
}

func configMap(m ...func(*corev1.ConfigMap)) *corev1.ConfigMap {
	return mk(&corev1.ConfigMap{ObjectMeta: nsMeta("settings"),
		Data:       map[string]string{"app.conf": "debug=false", "LEVEL": "info"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 0x50}},
	}, m...)
}

func secret(m ...func(*corev1.Secret)) *corev1.Secret {
	return mk(&corev1.Secret{ObjectMeta: nsMeta("creds"), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte("hunter2")}}, m...)
}

func namespace(m ...func(*corev1.Namespace)) *corev1.Namespace {
	return mk(&corev1.Namespace{ObjectMeta: clusterMeta("team-a"),
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}, m...)
}

func node(m ...func(*corev1.Node)) *corev1.Node {
	return mk(&corev1.Node{ObjectMeta: clusterMeta("node-1.example.com"), Spec: corev1.NodeSpec{
		PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"},
		Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}},
	}}, m...)
}

func event(m ...func(*corev1.Event)) *corev1.Event {
	return mk(&corev1.Event{ObjectMeta: nsMeta("web.17f0a2b3c4d5e6f7"),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:         "Scheduled", Message: "Successfully assigned default/web to node-1", Type: corev1.EventTypeNormal,
	}, m...)
}

func endpoints(m ...func(*corev1.Endpoints)) *corev1.Endpoints {
	return mk(&corev1.Endpoints{ObjectMeta: nsMeta("web"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5"}},
		Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", Port: 9090}},
	}}}, m...)
}

func endpointSlice(m ...func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	return mk(&discoveryv1.EndpointSlice{ObjectMeta: nsMeta("web-abcde"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}}},
		Ports:     []discoveryv1.EndpointPort{{Name: tptr("http"), Port: tptr(int32(8080)), Protocol: tptr(corev1.ProtocolTCP)}},
	}, m...)
}

func lease(m ...func(*coordinationv1.Lease)) *coordinationv1.Lease {
	return mk(&coordinationv1.Lease{ObjectMeta: nsMeta("controller"), Spec: coordinationv1.LeaseSpec{
		HolderIdentity: tptr("tug-1"), LeaseDurationSeconds: tptr(int32(15)), LeaseTransitions: tptr(int32(0)),
	}}, m...)
}

func persistentVolume(m ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	return mk(&corev1.PersistentVolume{ObjectMeta: clusterMeta("pv-1"), Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/pv-1"}},
	}}, m...)
}

func persistentVolumeClaim(m ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	return mk(&corev1.PersistentVolumeClaim{ObjectMeta: nsMeta("data"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}, m...)
}

func resourceQuota(m ...func(*corev1.ResourceQuota)) *corev1.ResourceQuota {
	return mk(&corev1.ResourceQuota{ObjectMeta: nsMeta("compute"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("4"),
		corev1.ResourceLimitsMemory: resource.MustParse("8Gi"), "count/deployments.apps": resource.MustParse("5"),
	}}}, m...)
}

func limitRange(m ...func(*corev1.LimitRange)) *corev1.LimitRange {
	return mk(&corev1.LimitRange{ObjectMeta: nsMeta("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		Min:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
		Max:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
		DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
	}}}}, m...)
}

func ingress(m ...func(*networkingv1.Ingress)) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return mk(&networkingv1.Ingress{ObjectMeta: nsMeta("web"), Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}},
		}}},
	}}, m...)
}

func serviceAccount(m ...func(*corev1.ServiceAccount)) *corev1.ServiceAccount {
	return mk(&corev1.ServiceAccount{ObjectMeta: nsMeta("builder")}, m...)
}

// --- tests ---

func TestEveryBuiltinKindIsValidated(t *testing.T) {
	for _, k := range Builtin() {
		if k.Validate == nil || k.ValidateUpdate == nil {
			t.Errorf("%s: no validation", k.Resource)
		}
	}
}

func TestValidObjects(t *testing.T) {
	runCases(t, []vcase{
		{name: "pod", res: "pods", obj: pod()},
		{name: "deployment", res: "deployments", obj: deployment()},
		{name: "replicaset", res: "replicasets", obj: replicaSet()},
		{name: "statefulset", res: "statefulsets", obj: statefulSet()},
		{name: "daemonset", res: "daemonsets", obj: daemonSet()},
		{name: "replicationcontroller", res: "replicationcontrollers", obj: replicationController()},
		{name: "job", res: "jobs", obj: job()},
		{name: "cronjob", res: "cronjobs", obj: cronJob()},
		{name: "service", res: "services", obj: service()},
		{name: "configmap", res: "configmaps", obj: configMap()},
		{name: "secret", res: "secrets", obj: secret()},
		{name: "namespace", res: "namespaces", obj: namespace()},
		{name: "node", res: "nodes", obj: node()},
		{name: "event", res: "events", obj: event()},
		{name: "endpoints", res: "endpoints", obj: endpoints()},
		{name: "endpointslice", res: "endpointslices", obj: endpointSlice()},
		{name: "lease", res: "leases", obj: lease()},
		{name: "persistentvolume", res: "persistentvolumes", obj: persistentVolume()},
		{name: "persistentvolumeclaim", res: "persistentvolumeclaims", obj: persistentVolumeClaim()},
		{name: "resourcequota", res: "resourcequotas", obj: resourceQuota()},
		{name: "limitrange", res: "limitranges", obj: limitRange()},
		{name: "ingress", res: "ingresses", obj: ingress()},
		{name: "serviceaccount", res: "serviceaccounts", obj: serviceAccount()},
		{name: "runtimeclass", res: "runtimeclasses", obj: runtimeClass()},
		{name: "role", res: "roles", obj: role()},
		{name: "clusterrole", res: "clusterroles", obj: clusterRole()},
		{name: "rolebinding", res: "rolebindings", obj: roleBinding()},
		{name: "clusterrolebinding", res: "clusterrolebindings", obj: clusterRoleBinding()},
		{name: "certificatesigningrequest", res: "certificatesigningrequests", obj: csrWith(testCSRPEM(t))},
		// Each valid object is also a valid no-op update of itself.
		{name: "pod unchanged", res: "pods", obj: pod(), old: pod()},
		{name: "statefulset unchanged", res: "statefulsets", obj: statefulSet(), old: statefulSet()},
		{name: "service unchanged", res: "services", obj: service(), old: service()},
		{name: "job unchanged", res: "jobs", obj: job(), old: job()},
		{name: "node unchanged", res: "nodes", obj: node(), old: node()},
		{name: "rolebinding unchanged", res: "rolebindings", obj: roleBinding(), old: roleBinding()},
		{name: "clusterrolebinding unchanged", res: "clusterrolebindings", obj: clusterRoleBinding(), old: clusterRoleBinding()},
	})
}

func runtimeClass(m ...func(*nodev1.RuntimeClass)) *nodev1.RuntimeClass {
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "wasm"}, Handler: "wasm"}
	for _, f := range m {
		f(rc)
	}
	return rc
}

func TestValidateRuntimeClass(t *testing.T) {
	runCases(t, []vcase{
		{name: "handler required", res: "runtimeclasses", obj: runtimeClass(func(rc *nodev1.RuntimeClass) { rc.Handler = "" }),
			want: []wantErr{required("handler")}},
		{name: "handler must be a DNS label", res: "runtimeclasses", obj: runtimeClass(func(rc *nodev1.RuntimeClass) { rc.Handler = "Not_A_Label" }),
			want: []wantErr{invalid("handler")}},
		{name: "handler is immutable", res: "runtimeclasses", obj: runtimeClass(func(rc *nodev1.RuntimeClass) { rc.Handler = "runc" }), old: runtimeClass(),
			want: []wantErr{invalid("handler")}},
	})
}

func TestValidateObjectMeta(t *testing.T) {
	runCases(t, []vcase{
		{name: "name required", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Name = "" }),
			want: []wantErr{required("metadata.name")}},
		{name: "name must be a DNS subdomain", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Name = "Bad_Name" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "name may contain dots", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Name = "app.v1" })},
		{name: "namespace name must be a DNS label", res: "namespaces", obj: namespace(func(n *corev1.Namespace) { n.Name = "team.a" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "service name must be a DNS-1035 label", res: "services", obj: service(func(s *corev1.Service) { s.Name = "web.v1" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "service name must start with a letter", res: "services", obj: service(func(s *corev1.Service) { s.Name = "1web" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "namespace required for namespaced kinds", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Namespace = "" }),
			want: []wantErr{required("metadata.namespace")}},
		{name: "namespace must be a DNS label", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Namespace = "Team_A" }),
			want: []wantErr{invalid("metadata.namespace")}},
		{name: "namespace forbidden for cluster-scoped kinds", res: "nodes", obj: node(func(n *corev1.Node) { n.Namespace = "default" }),
			want: []wantErr{forbidden("metadata.namespace")}},
		{name: "label key invalid", res: "pods", obj: pod(func(p *corev1.Pod) { p.Labels = map[string]string{"bad key": "x"} }),
			want: []wantErr{invalid("metadata.labels")}},
		{name: "label value invalid", res: "pods", obj: pod(func(p *corev1.Pod) { p.Labels = map[string]string{"app": "no spaces"} }),
			want: []wantErr{invalid("metadata.labels")}},
		{name: "annotation key invalid", res: "pods", obj: pod(func(p *corev1.Pod) { p.Annotations = map[string]string{"a/b/c": "x"} }),
			want: []wantErr{invalid("metadata.annotations")}},
		{name: "annotations over 256KiB", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{"big": strings.Repeat("x", 256*1024)}
		}), want: []wantErr{tooLong("metadata.annotations")}},
		{name: "finalizer neither standard nor qualified", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Finalizers = []string{"cleanup"} }),
			want: []wantErr{invalid("metadata.finalizers[0]")}},
		{name: "domain finalizer accepted", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Finalizers = []string{"example.com/cleanup"} })},
		{name: "update may not rename", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Name = "other" }), old: configMap(),
			want: []wantErr{invalid("metadata.name")}},
		{name: "update runs the create checks", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Data["bad key"] = "x" }), old: configMap(),
			want: []wantErr{invalid("data[bad key]")}},
	})
}

func TestValidatePod(t *testing.T) {
	c0 := "spec.containers[0]"
	runCases(t, []vcase{
		{name: "containers required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers = nil }),
			want: []wantErr{required("spec.containers")}},
		{name: "container name required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }),
			want: []wantErr{required(c0 + ".name")}},
		{name: "container name must be a DNS label", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" }),
			want: []wantErr{invalid(c0 + ".name")}},
		{name: "container names unique", res: "pods", obj: pod(func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}), want: []wantErr{duplicate("spec.containers[1].name")}},
		{name: "init container name unique across containers", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "web", Image: "busybox"}}
		}), want: []wantErr{duplicate("spec.initContainers[0].name")}},
		{name: "ephemeral container name unique", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "web", Image: "busybox"}}}
		}), want: []wantErr{duplicate("spec.ephemeralContainers[0].name")}},
		{name: "ephemeral container may not have ports", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 81}}}}}
		}), want: []wantErr{forbidden("spec.ephemeralContainers[0].ports")}},
		{name: "image required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }),
			want: []wantErr{required(c0 + ".image")}},
		{name: "image not whitespace", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "   " }),
			want: []wantErr{invalid(c0 + ".image")}},
		{name: "containerPort required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }),
			want: []wantErr{required(c0 + ".ports[0].containerPort")}},
		{name: "containerPort in range", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }),
			want: []wantErr{invalid(c0 + ".ports[0].containerPort")}},
		{name: "hostPort in range", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = -1 }),
			want: []wantErr{invalid(c0 + ".ports[0].hostPort")}},
		{name: "port name is an IANA_SVC_NAME", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "HTTP" }),
			want: []wantErr{invalid(c0 + ".ports[0].name")}},
		{name: "port name at most 15 characters", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "a-very-long-port-name" }),
			want: []wantErr{invalid(c0 + ".ports[0].name")}},
		{name: "port names unique", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 8080})
		}), want: []wantErr{duplicate(c0 + ".ports[1].name")}},
		{name: "port protocol supported", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }),
			want: []wantErr{unsupported(c0 + ".ports[0].protocol")}},
		{name: "host ports not claimed twice", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy",
				Ports: []corev1.ContainerPort{{ContainerPort: 9000, HostPort: 8080}}})
		}), want: []wantErr{duplicate("spec.containers[1].ports[0].hostPort")}},
		{name: "hostNetwork hostPort matches containerPort", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 8080
		}), want: []wantErr{invalid(c0 + ".ports[0].hostPort")}},
		{name: "restartPolicy supported", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }),
			want: []wantErr{unsupported("spec.restartPolicy")}},
		{name: "dnsPolicy supported", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = "Custom" }),
			want: []wantErr{unsupported("spec.dnsPolicy")}},
		{name: "dnsPolicy None needs dnsConfig", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }),
			want: []wantErr{required("spec.dnsConfig")}},
		{name: "dnsPolicy None with nameservers", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}
		})},
		{name: "dnsConfig nameservers are IPs", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"dns.example.com"}}
		}), want: []wantErr{invalid("spec.dnsConfig.nameservers[0]")}},
		{name: "volume name must be a DNS label", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "Tmp_Dir", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}), want: []wantErr{invalid("spec.volumes[1].name")}},
		{name: "volume names unique", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) }),
			want: []wantErr{duplicate("spec.volumes[1].name")}},
		{name: "volume needs a source", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "empty"})
		}), want: []wantErr{required("spec.volumes[1]")}},
		{name: "volume has one source", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}})
		}), want: []wantErr{forbidden("spec.volumes[1].hostPath")}},
		{name: "mounting an invalid volume", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Volumes[0].Secret = &corev1.SecretVolumeSource{SecretName: "s"} }),
			want: []wantErr{forbidden("spec.volumes[0].secret"), notFound(c0 + ".volumeMounts[0].name")}},
		{name: "secret volume needs a secret name", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}})
		}), want: []wantErr{required("spec.volumes[1].secret.secretName")}},
		{name: "volume mount references a volume", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "missing" }),
			want: []wantErr{notFound(c0 + ".volumeMounts[0].name")}},
		{name: "volume mount path required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].MountPath = "" }),
			want: []wantErr{required(c0 + ".volumeMounts[0].mountPath")}},
		{name: "volume mount paths unique", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: "/cache"})
		}), want: []wantErr{invalid(c0 + ".volumeMounts[1].mountPath")}},
		{name: "env name valid", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "1MODE=x" }),
			want: []wantErr{invalid(c0 + ".env[0].name")}},
		{name: "env name required", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "" }),
			want: []wantErr{required(c0 + ".env[0].name")}},
		{name: "env valueFrom needs a source", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{}}
		}), want: []wantErr{invalid(c0 + ".env[0].valueFrom")}},
		{name: "env valueFrom has one source", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{
				FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "LEVEL"},
			}}
		}), want: []wantErr{invalid(c0 + ".env[0].valueFrom")}},
		{name: "env value and valueFrom exclusive", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0].ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}
		}), want: []wantErr{invalid(c0 + ".env[0].valueFrom")}},
		{name: "env fieldRef path supported", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.replicas"}}}
		}), want: []wantErr{unsupported(c0 + ".env[0].valueFrom.fieldRef.fieldPath")}},
		{name: "request at most limit", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
		}), want: []wantErr{invalid(c0 + ".resources.requests")}},
		{name: "quantities not negative", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("-1Mi")
		}), want: []wantErr{invalid(c0 + ".resources.requests[memory]")}},
		{name: "resource names standard", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["gpu"] = resource.MustParse("1")
		}), want: []wantErr{invalid(c0 + ".resources.limits[gpu]")}},
		{name: "extended resource requests equal limits", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
			p.Spec.Containers[0].Resources.Limits["example.com/gpu"] = resource.MustParse("2")
		}), want: []wantErr{invalid(c0 + ".resources.requests")}},
		{name: "probe needs a handler", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = &corev1.Probe{} }),
			want: []wantErr{required(c0 + ".livenessProbe")}},
		{name: "probe has one handler", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet:   &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
			}}
		}), want: []wantErr{forbidden(c0 + ".livenessProbe.tcpSocket")}},
		{name: "probe port valid", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(0)}}}
		}), want: []wantErr{invalid(c0 + ".readinessProbe.tcpSocket.port")}},
		{name: "probe periodSeconds positive", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = tcpProbe(func(pr *corev1.Probe) { pr.PeriodSeconds = -1 })
		}), want: []wantErr{invalid(c0 + ".readinessProbe.periodSeconds")}},
		{name: "probe timeoutSeconds positive", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = tcpProbe(func(pr *corev1.Probe) { pr.TimeoutSeconds = -1 })
		}), want: []wantErr{invalid(c0 + ".readinessProbe.timeoutSeconds")}},
		{name: "probe failureThreshold positive", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = tcpProbe(func(pr *corev1.Probe) { pr.FailureThreshold = -3 })
		}), want: []wantErr{invalid(c0 + ".readinessProbe.failureThreshold")}},
		{name: "liveness successThreshold is 1", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = tcpProbe(func(pr *corev1.Probe) { pr.SuccessThreshold = 2 })
		}), want: []wantErr{invalid(c0 + ".livenessProbe.successThreshold")}},
		{name: "startup successThreshold is 1", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].StartupProbe = tcpProbe(func(pr *corev1.Probe) { pr.SuccessThreshold = 3 })
		}), want: []wantErr{invalid(c0 + ".startupProbe.successThreshold")}},
		{name: "readiness successThreshold may exceed 1", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = tcpProbe(func(pr *corev1.Probe) { pr.SuccessThreshold = 2 })
		})},
		{name: "init container probes need restartPolicy Always", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "migrate", LivenessProbe: tcpProbe()}}
		}), want: []wantErr{forbidden("spec.initContainers[0].livenessProbe")}},
		{name: "sidecar init container may have probes", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "envoy", LivenessProbe: tcpProbe(),
				RestartPolicy: tptr(corev1.ContainerRestartPolicyAlways)}}
		})},
		{name: "terminationGracePeriodSeconds not negative", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = tptr(int64(-1)) }),
			want: []wantErr{invalid("spec.terminationGracePeriodSeconds")}},
		{name: "activeDeadlineSeconds positive", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(0)) }),
			want: []wantErr{invalid("spec.activeDeadlineSeconds")}},
		{name: "nodeSelector labels valid", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "fast ssd"} }),
			want: []wantErr{invalid("spec.nodeSelector")}},
		{name: "toleration operator supported", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: "In", Value: "yes"}}
		}), want: []wantErr{unsupported("spec.tolerations[0].operator")}},
		{name: "toleration Exists has no value", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists, Value: "yes"}}
		}), want: []wantErr{invalid("spec.tolerations[0].operator")}},
		{name: "toleration effect supported", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: "NoRun"}}
		}), want: []wantErr{unsupported("spec.tolerations[0].effect")}},
		{name: "toleration Exists for all keys", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		})},
		{name: "serviceAccountName a DNS subdomain", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Builder" }),
			want: []wantErr{invalid("spec.serviceAccountName")}},
		{name: "node affinity needs terms", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}), want: []wantErr{required("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")}},
	})
}

func tcpProbe(muts ...func(*corev1.Probe)) *corev1.Probe {
	return mk(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}, muts...)
}

func TestValidatePodUpdate(t *testing.T) {
	bound := func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }
	runCases(t, []vcase{
		{name: "image may change", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }), old: pod()},
		{name: "activeDeadlineSeconds may be set", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(60)) }), old: pod()},
		{name: "activeDeadlineSeconds may shrink", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(30)) }),
			old: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(60)) })},
		{name: "activeDeadlineSeconds may not grow", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(90)) }),
			old: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(60)) }), want: []wantErr{invalid("spec.activeDeadlineSeconds")}},
		{name: "activeDeadlineSeconds may not be unset", res: "pods", obj: pod(),
			old: pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = tptr(int64(60)) }), want: []wantErr{invalid("spec.activeDeadlineSeconds")}},
		{name: "tolerations may be added", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}, {Key: "b", Operator: corev1.TolerationOpExists}}
		}), old: pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
		})},
		{name: "tolerations may not be removed", res: "pods", obj: pod(),
			old: pod(func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
			}),
			want: []wantErr{forbidden("spec.tolerations")}},
		{name: "terminationGracePeriodSeconds may change", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = tptr(int64(5)) }),
			old: pod(func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = tptr(int64(30)) })},
		{name: "binding sets nodeName", res: "pods", obj: pod(bound), old: pod()},
		{name: "nodeName fixed once set", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }), old: pod(bound),
			want: []wantErr{forbidden("spec")}},
		{name: "other fields fixed", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }), old: pod(),
			want: []wantErr{forbidden("spec")}},
		{name: "container env fixed", res: "pods", obj: pod(func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "dev" }), old: pod(),
			want: []wantErr{forbidden("spec")}},
		{name: "containers may not be added", res: "pods", obj: pod(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoy"})
		}), old: pod(), want: []wantErr{forbidden("spec.containers")}},
	})
}

func TestValidatePodTemplates(t *testing.T) {
	tc0 := "spec.template.spec.containers[0]"
	runCases(t, []vcase{
		{name: "deployment template container name", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Name = "Web"
		}), want: []wantErr{invalid(tc0 + ".name")}},
		{name: "replicaset template image required", res: "replicasets", obj: replicaSet(func(r *appsv1.ReplicaSet) {
			r.Spec.Template.Spec.Containers[1-1].Image = ""
		}), want: []wantErr{required(tc0 + ".image")}},
		{name: "daemonset template volumes", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "nope"
		}), want: []wantErr{notFound(tc0 + ".volumeMounts[0].name")}},
		{name: "statefulset template ports", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort = 0
		}), want: []wantErr{required(tc0 + ".ports[0].containerPort")}},
		{name: "statefulset claim template mount unknown", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Name = "other"
		}), want: []wantErr{notFound(tc0 + ".volumeMounts[1].name")}},
		{name: "replicationcontroller template env", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) {
			r.Spec.Template.Spec.Containers[0].Env[0].Name = ""
		}), want: []wantErr{required(tc0 + ".env[0].name")}},
		{name: "job template container name", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Name = "" }),
			want: []wantErr{required(tc0 + ".name")}},
		{name: "cronjob template container name", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Name = "Bad"
		}), want: []wantErr{invalid("spec.jobTemplate.spec.template.spec.containers[0].name")}},
		{name: "template labels valid", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Labels["tier"] = "front end"
		}), want: []wantErr{invalid("spec.template.labels")}},
		{name: "template ephemeral containers forbidden", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}), want: []wantErr{forbidden("spec.template.spec.ephemeralContainers")}},
		{name: "template image whitespace tolerated", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = " "
		})},
		{name: "deployment template restartPolicy Always", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}), want: []wantErr{unsupported("spec.template.spec.restartPolicy")}},
		{name: "statefulset template restartPolicy Always", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), want: []wantErr{unsupported("spec.template.spec.restartPolicy")}},
		{name: "daemonset template restartPolicy Always", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), want: []wantErr{unsupported("spec.template.spec.restartPolicy")}},
		{name: "replicaset template restartPolicy Always", res: "replicasets", obj: replicaSet(func(r *appsv1.ReplicaSet) {
			r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), want: []wantErr{unsupported("spec.template.spec.restartPolicy")}},
		{name: "replicationcontroller template restartPolicy Always", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) {
			r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), want: []wantErr{unsupported("spec.template.spec.restartPolicy")}},
		{name: "template restartPolicy defaults to Always", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.RestartPolicy = ""
		})},
		{name: "workload template has no deadline", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.ActiveDeadlineSeconds = tptr(int64(60))
		}), want: []wantErr{forbidden("spec.template.spec.activeDeadlineSeconds")}},
		{name: "job template restartPolicy Never or OnFailure", res: "jobs", obj: job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}), want: []wantErr{required("spec.template.spec.restartPolicy")}},
		{name: "job template restartPolicy required", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			want: []wantErr{required("spec.template.spec.restartPolicy")}},
		{name: "job template restartPolicy OnFailure", res: "jobs", obj: job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		})},
		{name: "cronjob template restartPolicy", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}), want: []wantErr{required("spec.jobTemplate.spec.template.spec.restartPolicy")}},
	})
}

func TestValidateWorkloads(t *testing.T) {
	ru := "spec.strategy.rollingUpdate"
	runCases(t, []vcase{
		// selectors, shared by the apps kinds
		{name: "selector required", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
			want: []wantErr{required("spec.selector")}},
		{name: "selector not empty", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "selector labels valid", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels["bad key"] = "x"
		}), want: []wantErr{invalid("spec.selector.matchLabels"), invalid("spec.selector")}},
		{name: "selector expression operator", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}
		}), want: []wantErr{forbidden("spec.selector.matchExpressions[0].values"), invalid("spec.selector")}},
		{name: "selector matches template labels", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Labels = map[string]string{"app": "api"}
		}), want: []wantErr{invalid("spec.template.metadata.labels")}},
		{name: "replicaset selector matches", res: "replicasets", obj: replicaSet(func(r *appsv1.ReplicaSet) { r.Spec.Template.Labels = nil }),
			want: []wantErr{invalid("spec.template.metadata.labels")}},
		{name: "statefulset selector required", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Spec.Selector = nil }),
			want: []wantErr{required("spec.selector")}},
		{name: "statefulset selector matches", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.Selector.MatchLabels = map[string]string{"app": "db"}
		}), want: []wantErr{invalid("spec.template.metadata.labels")}},
		{name: "daemonset selector required", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Spec.Selector = nil }),
			want: []wantErr{required("spec.selector")}},
		{name: "daemonset selector not empty", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) { d.Spec.Selector = &metav1.LabelSelector{} }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "daemonset selector matches", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.Selector.MatchLabels["tier"] = "node"
		}), want: []wantErr{invalid("spec.template.metadata.labels")}},

		// replicas and history
		{name: "deployment replicas not negative", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.replicas")}},
		{name: "replicaset replicas not negative", res: "replicasets", obj: replicaSet(func(r *appsv1.ReplicaSet) { r.Spec.Replicas = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.replicas")}},
		{name: "statefulset replicas not negative", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Spec.Replicas = tptr(int32(-2)) }),
			want: []wantErr{invalid("spec.replicas")}},
		{name: "zero replicas", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = tptr(int32(0)) })},
		{name: "revisionHistoryLimit not negative", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.revisionHistoryLimit")}},
		{name: "minReadySeconds not negative", res: "deployments", obj: deployment(func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }),
			want: []wantErr{invalid("spec.minReadySeconds")}},
		{name: "progressDeadlineSeconds beyond minReadySeconds", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 600
		}), want: []wantErr{invalid("spec.progressDeadlineSeconds")}},

		// deployment strategy
		{name: "strategy type supported", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "BlueGreen"}
		}), want: []wantErr{unsupported("spec.strategy")}},
		{name: "Recreate has no rollingUpdate", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		}), want: []wantErr{forbidden(ru)}},
		{name: "Recreate", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		})},
		{name: "maxUnavailable and maxSurge not both 0", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: tptr(intstr.FromInt32(0)), MaxSurge: tptr(intstr.FromString("0%"))}
		}), want: []wantErr{invalid(ru + ".maxUnavailable")}},
		{name: "maxUnavailable at most 100%", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = tptr(intstr.FromString("150%"))
		}), want: []wantErr{invalid(ru + ".maxUnavailable")}},
		{name: "maxSurge int or percent", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = tptr(intstr.FromString("half"))
		}), want: []wantErr{invalid(ru + ".maxSurge")}},
		{name: "maxSurge not negative", res: "deployments", obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = tptr(intstr.FromInt32(-1))
		}), want: []wantErr{invalid(ru + ".maxSurge")}},

		// statefulset specifics
		{name: "statefulset name a DNS label", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Name = "db.v1" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "statefulset without serviceName", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" })},
		{name: "podManagementPolicy supported", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }),
			want: []wantErr{invalid("spec.podManagementPolicy")}},
		{name: "podManagementPolicy Parallel", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		})},
		{name: "statefulset updateStrategy supported", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: "Canary"}
		}), want: []wantErr{invalid("spec.updateStrategy")}},
		{name: "OnDelete has no rollingUpdate", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
		}), want: []wantErr{invalid("spec.updateStrategy.rollingUpdate")}},
		{name: "partition not negative", res: "statefulsets", obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.Partition = tptr(int32(-1))
		}), want: []wantErr{invalid("spec.updateStrategy.rollingUpdate.partition")}},

		// daemonset strategy
		{name: "daemonset updateStrategy supported", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: "Recreate"}
		}), want: []wantErr{unsupported("spec.updateStrategy")}},
		{name: "daemonset OnDelete", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		})},
		{name: "daemonset maxUnavailable not 0 with maxSurge 0", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = tptr(intstr.FromInt32(0))
		}), want: []wantErr{required("spec.updateStrategy.rollingUpdate.maxUnavailable")}},
		{name: "daemonset maxSurge only with maxUnavailable 0", res: "daemonsets", obj: daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = tptr(intstr.FromString("10%"))
		}), want: []wantErr{invalid("spec.updateStrategy.rollingUpdate.maxSurge")}},

		// replication controllers
		{name: "rc selector required", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) { r.Spec.Selector = nil }),
			want: []wantErr{required("spec.selector")}},
		{name: "rc selector matches template", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) {
			r.Spec.Selector = map[string]string{"app": "api"}
		}), want: []wantErr{invalid("spec.template.metadata.labels")}},
		{name: "rc replicas not negative", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) {
			r.Spec.Replicas = tptr(int32(-1))
		}), want: []wantErr{invalid("spec.replicas")}},
		{name: "rc template required", res: "replicationcontrollers", obj: replicationController(func(r *corev1.ReplicationController) { r.Spec.Template = nil }),
			want: []wantErr{required("spec.template")}},
	})
}

func TestValidateWorkloadUpdates(t *testing.T) {
	otherSelector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}
	moreLabels := func(t *corev1.PodTemplateSpec) { t.Labels["tier"] = "front" }
	runCases(t, []vcase{
		{name: "deployment selector immutable", res: "deployments", old: deployment(),
			obj:  deployment(func(d *appsv1.Deployment) { d.Spec.Selector = otherSelector; moreLabels(&d.Spec.Template) }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "deployment template and replicas may change", res: "deployments", old: deployment(), obj: deployment(func(d *appsv1.Deployment) {
			d.Spec.Replicas = tptr(int32(5))
			d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		})},
		{name: "replicaset selector immutable", res: "replicasets", old: replicaSet(),
			obj:  replicaSet(func(r *appsv1.ReplicaSet) { r.Spec.Selector = otherSelector; moreLabels(&r.Spec.Template) }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "daemonset selector immutable", res: "daemonsets", old: daemonSet(),
			obj:  daemonSet(func(d *appsv1.DaemonSet) { d.Spec.Selector = otherSelector; moreLabels(&d.Spec.Template) }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "statefulset selector immutable", res: "statefulsets", old: statefulSet(),
			obj:  statefulSet(func(s *appsv1.StatefulSet) { s.Spec.Selector = otherSelector; moreLabels(&s.Spec.Template) }),
			want: []wantErr{invalid("spec.selector"), forbidden("spec")}},
		{name: "statefulset serviceName immutable", res: "statefulsets", old: statefulSet(),
			obj: statefulSet(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db-headless" }), want: []wantErr{forbidden("spec")}},
		{name: "statefulset claim templates immutable", res: "statefulsets", old: statefulSet(), obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}), want: []wantErr{forbidden("spec")}},
		{name: "statefulset mutable fields", res: "statefulsets", old: statefulSet(), obj: statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = tptr(int32(5))
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			s.Spec.MinReadySeconds = 10
			s.Spec.RevisionHistoryLimit = tptr(int32(3))
			s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
		})},
		{name: "rc selector may change", res: "replicationcontrollers", old: replicationController(), obj: replicationController(func(r *corev1.ReplicationController) {
			r.Spec.Selector["tier"] = "front"
			r.Spec.Template.Labels["tier"] = "front"
		})},
	})
}

func TestValidateJobs(t *testing.T) {
	manual := func(j *batchv1.Job) {
		j.Spec.ManualSelector = tptr(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: webLabels()}
	}
	runCases(t, []vcase{
		{name: "manual selector", res: "jobs", obj: job(manual)},
		{name: "parallelism not negative", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.Parallelism = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.parallelism")}},
		{name: "completions not negative", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.Completions = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.completions")}},
		{name: "backoffLimit not negative", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.BackoffLimit = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.backoffLimit")}},
		{name: "activeDeadlineSeconds positive", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = tptr(int64(0)) }),
			want: []wantErr{invalid("spec.activeDeadlineSeconds")}},
		{name: "ttlSecondsAfterFinished not negative", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.ttlSecondsAfterFinished")}},
		{name: "completionMode supported", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.CompletionMode = tptr(batchv1.CompletionMode("Ordered")) }),
			want: []wantErr{unsupported("spec.completionMode")}},
		{name: "Indexed needs completions", res: "jobs", obj: job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = tptr(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}), want: []wantErr{required("spec.completions")}},
		{name: "Indexed", res: "jobs", obj: job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = tptr(batchv1.IndexedCompletion)
			j.Spec.Completions = tptr(int32(5))
		})},
		{name: "manual selector required", res: "jobs", obj: job(func(j *batchv1.Job) { j.Spec.ManualSelector = tptr(true) }),
			want: []wantErr{required("spec.selector")}},
		{name: "selector matches template", res: "jobs", obj: job(manual, func(j *batchv1.Job) { j.Spec.Template.Labels = nil }),
			want: []wantErr{invalid("spec.template.metadata.labels")}},
		{name: "podFailurePolicy needs restartPolicy Never", res: "jobs", obj: job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
		}), want: []wantErr{invalid("spec.template.spec.restartPolicy")}},
		// updates
		{name: "parallelism may change", res: "jobs", old: job(), obj: job(func(j *batchv1.Job) { j.Spec.Parallelism = tptr(int32(3)) })},
		{name: "completions immutable", res: "jobs", old: job(), obj: job(func(j *batchv1.Job) { j.Spec.Completions = tptr(int32(3)) }),
			want: []wantErr{invalid("spec.completions")}},
		{name: "template immutable", res: "jobs", old: job(), obj: job(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "backup:2" }),
			want: []wantErr{invalid("spec.template")}},
		{name: "selector immutable", res: "jobs", old: job(manual), obj: job(manual, func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels = map[string]string{"app": "web", "x": "y"}
			j.Spec.Template.Labels["x"] = "y"
		}), want: []wantErr{invalid("spec.selector"), invalid("spec.template")}},
		{name: "completionMode immutable", res: "jobs", old: job(), obj: job(func(j *batchv1.Job) { j.Spec.CompletionMode = tptr(batchv1.IndexedCompletion) }),
			want: []wantErr{invalid("spec.completionMode")}},
	})
}

func TestValidateCronJobs(t *testing.T) {
	sched := func(s string) func(*batchv1.CronJob) { return func(c *batchv1.CronJob) { c.Spec.Schedule = s } }
	runCases(t, []vcase{
		{name: "macro", res: "cronjobs", obj: cronJob(sched("@hourly"))},
		{name: "names, ranges and lists", res: "cronjobs", obj: cronJob(sched("0,30 9-17 * JAN-MAR,dec mon-fri"))},
		{name: "schedule required", res: "cronjobs", obj: cronJob(sched("")), want: []wantErr{required("spec.schedule")}},
		{name: "schedule has five fields", res: "cronjobs", obj: cronJob(sched("* * * *")), want: []wantErr{invalid("spec.schedule")}},
		{name: "schedule values in range", res: "cronjobs", obj: cronJob(sched("60 * * * *")), want: []wantErr{invalid("spec.schedule")}},
		{name: "schedule macro known", res: "cronjobs", obj: cronJob(sched("@fortnightly")), want: []wantErr{invalid("spec.schedule")}},
		{name: "schedule without TZ", res: "cronjobs", obj: cronJob(sched("TZ=UTC 0 * * * *")), want: []wantErr{invalid("spec.schedule")}},
		{name: "timeZone field", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = tptr("Europe/Paris") })},
		{name: "timeZone known", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = tptr("Mars/Olympus") }),
			want: []wantErr{invalid("spec.timeZone")}},
		{name: "concurrencyPolicy supported", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Queue" }),
			want: []wantErr{unsupported("spec.concurrencyPolicy")}},
		{name: "startingDeadlineSeconds not negative", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = tptr(int64(-1)) }),
			want: []wantErr{invalid("spec.startingDeadlineSeconds")}},
		{name: "successfulJobsHistoryLimit not negative", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.SuccessfulJobsHistoryLimit = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.successfulJobsHistoryLimit")}},
		{name: "failedJobsHistoryLimit not negative", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.FailedJobsHistoryLimit = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.failedJobsHistoryLimit")}},
		{name: "name at most 52 characters", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "long name kept on update", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }),
			old: cronJob(func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) })},
		{name: "job template selector generated", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: webLabels()}
		}), want: []wantErr{invalid("spec.jobTemplate.spec.selector")}},
		{name: "job template backoffLimit", res: "cronjobs", obj: cronJob(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.BackoffLimit = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.jobTemplate.spec.backoffLimit")}},
	})
}

func TestParseCronSchedule(t *testing.T) {
	for _, tc := range []struct {
		schedule string
		err      string // substring; empty means valid
	}{
		{"* * * * *", ""},
		{"*/15 * * * *", ""},
		{"0 0 1 1 0", ""},
		{"59 23 31 12 6", ""},
		{"5-55/10 */2 1-15 * *", ""},
		{"30 8 ? * MON", ""},
		{"0 9 * feb-apr SUN,sat", ""},
		{"5/15 * * * *", ""},
		{"@yearly", ""},
		{"@annually", ""},
		{"@monthly", ""},
		{"@weekly", ""},
		{"@daily", ""},
		{"@midnight", ""},
		{"@hourly", ""},
		{"@every 1h30m", ""},
		{"CRON_TZ=UTC 0 * * * *", ""},
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4"},
		{"* * * * * *", "expected exactly 5 fields, found 6"},
		{"60 * * * *", "end of range (60) above maximum (59)"},
		{"* 24 * * *", "end of range (24) above maximum (23)"},
		{"* * 0 * *", "beginning of range (0) below minimum (1)"},
		{"* * 32 * *", "end of range (32) above maximum (31)"},
		{"* * * 13 *", "end of range (13) above maximum (12)"},
		{"* * * * 7", "end of range (7) above maximum (6)"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1)"},
		{"*/0 * * * *", "step of range should be a positive number"},
		{"1-2-3 * * * *", "too many hyphens"},
		{"*/2/3 * * * *", "too many slashes"},
		{"x * * * *", "failed to parse int from x"},
		{"* * * JANUARY *", "failed to parse int from JANUARY"},
		{"1,,2 * * * *", "failed to parse int from"},
		{"@fortnightly", "unrecognized descriptor"},
		{"@every soon", "failed to parse duration"},
		{"TZ=Nowhere/City * * * * *", "provided bad location Nowhere/City"},
	} {
		err := parseCronSchedule(tc.schedule)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.schedule, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got error %v, want one containing %q", tc.schedule, err, tc.err)
		}
	}
}

func TestValidateServices(t *testing.T) {
	headless := func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }
	extName := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "db.example.com"
		s.Spec.Selector = nil
		s.Spec.Ports = nil
	}
	nodePort := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}
	allocated := func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"} }
	runCases(t, []vcase{
		{name: "headless without ports", res: "services", obj: service(headless, func(s *corev1.Service) { s.Spec.Ports = nil })},
		{name: "ExternalName", res: "services", obj: service(extName)},
		{name: "ExternalName fully qualified", res: "services", obj: service(extName, func(s *corev1.Service) { s.Spec.ExternalName = "db.example.com." })},
		{name: "NodePort", res: "services", obj: service(nodePort)},
		{name: "LoadBalancer with externalTrafficPolicy", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		})},
		{name: "ports required", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports = nil }),
			want: []wantErr{required("spec.ports")}},
		{name: "port not zero", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }),
			want: []wantErr{invalid("spec.ports[0].port")}},
		{name: "port in range", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].Port = 65536 }),
			want: []wantErr{invalid("spec.ports[0].port")}},
		{name: "protocol supported", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }),
			want: []wantErr{unsupported("spec.ports[0].protocol")}},
		{name: "port names required with several ports", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 443})
		}), want: []wantErr{required("spec.ports[1].name")}},
		{name: "port names unique", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 443})
		}), want: []wantErr{duplicate("spec.ports[1].name")}},
		{name: "port name a DNS label", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }),
			want: []wantErr{invalid("spec.ports[0].name")}},
		{name: "port and protocol unique", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "alt", Port: 80, Protocol: corev1.ProtocolTCP})
		}), want: []wantErr{duplicate("spec.ports[1]")}},
		{name: "same port over UDP", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 80, Protocol: corev1.ProtocolUDP})
		})},
		{name: "targetPort number in range", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }),
			want: []wantErr{invalid("spec.ports[0].targetPort")}},
		{name: "targetPort name valid", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Web_Port") }),
			want: []wantErr{invalid("spec.ports[0].targetPort")}},
		{name: "nodePort not for ClusterIP", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			want: []wantErr{forbidden("spec.ports[0].nodePort")}},
		{name: "type supported", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Type = "Ingress" }),
			want: []wantErr{unsupported("spec.type")}},
		{name: "ExternalName needs externalName", res: "services", obj: service(extName, func(s *corev1.Service) { s.Spec.ExternalName = "" }),
			want: []wantErr{required("spec.externalName")}},
		{name: "externalName a DNS subdomain", res: "services", obj: service(extName, func(s *corev1.Service) { s.Spec.ExternalName = "db_host" }),
			want: []wantErr{invalid("spec.externalName")}},
		{name: "ExternalName has no clusterIP", res: "services", obj: service(extName, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" }),
			want: []wantErr{forbidden("spec.clusterIPs")}},
		{name: "clusterIP an IP", res: "services", obj: service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.300" }),
			want: []wantErr{invalid("spec.clusterIPs[0]")}},
		{name: "clusterIP given", res: "services", obj: service(allocated)},
		{name: "headless LoadBalancer", res: "services", obj: service(headless, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer }),
			want: []wantErr{invalid("spec.clusterIPs[0]")}},
		{name: "sessionAffinity supported", res: "services", obj: service(func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }),
			want: []wantErr{unsupported("spec.sessionAffinity")}},
		{name: "selector labels valid", res: "services", obj: service(func(s *corev1.Service) { s.Spec.Selector["app"] = "-web" }),
			want: []wantErr{invalid("spec.selector")}},
		{name: "externalTrafficPolicy only when externally accessible", res: "services", obj: service(func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}), want: []wantErr{invalid("spec.externalTrafficPolicy")}},
		{name: "externalIPs valid", res: "services", obj: service(func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }),
			want: []wantErr{invalid("spec.externalIPs[0]")}},
		// updates
		{name: "clusterIP immutable", res: "services", old: service(allocated),
			obj:  service(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"} }),
			want: []wantErr{invalid("spec.clusterIP")}},
		{name: "clusterIP left to the server", res: "services", old: service(allocated), obj: service()},
		{name: "type changed to ExternalName", res: "services", old: service(allocated), obj: service(allocated, extName)},
		{name: "type changed from NodePort", res: "services", old: service(allocated, nodePort), obj: service(allocated, func(s *corev1.Service) {
			s.Spec.Ports[0].NodePort = 30080
		})},
	})
}

func TestValidateConfigMapsAndSecrets(t *testing.T) {
	immutableCM := func(c *corev1.ConfigMap) { c.Immutable = tptr(true) }
	immutableSecret := func(s *corev1.Secret) { s.Immutable = tptr(true) }
	tlsSecret := func(s *corev1.Secret) {
		s.Type = corev1.SecretTypeTLS
		s.Data = map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")}
	}
	runCases(t, []vcase{
		{name: "key valid", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Data["a/b"] = "x" }),
			want: []wantErr{invalid("data[a/b]")}},
		{name: "binaryData key valid", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.BinaryData[".."] = nil }),
			want: []wantErr{invalid("binaryData[..]")}},
		{name: "key not in data and binaryData", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.BinaryData["LEVEL"] = []byte("x") }),
			want: []wantErr{invalid("data[LEVEL]")}},
		{name: "at most 1MiB", res: "configmaps", obj: configMap(func(c *corev1.ConfigMap) { c.Data["big"] = strings.Repeat("x", 1<<20) }),
			want: []wantErr{tooLong("[]")}}, // kube-apiserver's path for the whole object
		{name: "mutable data may change", res: "configmaps", old: configMap(), obj: configMap(func(c *corev1.ConfigMap) { c.Data["LEVEL"] = "debug" })},
		{name: "may become immutable", res: "configmaps", old: configMap(), obj: configMap(immutableCM)},
		{name: "immutable data fixed", res: "configmaps", old: configMap(immutableCM),
			obj: configMap(immutableCM, func(c *corev1.ConfigMap) { c.Data["LEVEL"] = "debug" }), want: []wantErr{forbidden("data")}},
		{name: "immutable binaryData fixed", res: "configmaps", old: configMap(immutableCM),
			obj: configMap(immutableCM, func(c *corev1.ConfigMap) { c.BinaryData = nil }), want: []wantErr{forbidden("binaryData")}},
		{name: "immutable stays set", res: "configmaps", old: configMap(immutableCM), obj: configMap(), want: []wantErr{forbidden("immutable")}},

		{name: "secret key valid", res: "secrets", obj: secret(func(s *corev1.Secret) { s.Data["pass word"] = nil }),
			want: []wantErr{invalid("data[pass word]")}},
		{name: "stringData key valid", res: "secrets", obj: secret(func(s *corev1.Secret) { s.StringData = map[string]string{"a:b": "x"} }),
			want: []wantErr{invalid("data[a:b]")}},
		{name: "secret at most 1MiB", res: "secrets", obj: secret(func(s *corev1.Secret) { s.Data["big"] = make([]byte, 1<<20) }),
			want: []wantErr{tooLong("data")}},
		{name: "tls", res: "secrets", obj: secret(tlsSecret)},
		{name: "tls via stringData", res: "secrets", obj: secret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeTLS
			s.StringData = map[string]string{corev1.TLSCertKey: "cert", corev1.TLSPrivateKeyKey: "key"}
		})},
		{name: "tls needs tls.key", res: "secrets", obj: secret(tlsSecret, func(s *corev1.Secret) { delete(s.Data, corev1.TLSPrivateKeyKey) }),
			want: []wantErr{required("data[tls.key]")}},
		{name: "tls needs tls.crt", res: "secrets", obj: secret(tlsSecret, func(s *corev1.Secret) { delete(s.Data, corev1.TLSCertKey) }),
			want: []wantErr{required("data[tls.crt]")}},
		{name: "dockerconfigjson", res: "secrets", obj: secret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeDockerConfigJson
			s.Data = map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}
		})},
		{name: "dockerconfigjson needs .dockerconfigjson", res: "secrets", obj: secret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockerConfigJson }),
			want: []wantErr{required("data[.dockerconfigjson]")}},
		{name: "dockerconfigjson is JSON", res: "secrets", obj: secret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeDockerConfigJson
			s.Data = map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":`)}
		}), want: []wantErr{invalid("data[.dockerconfigjson]")}},
		{name: "basic-auth needs username or password", res: "secrets", obj: secret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeBasicAuth
			s.Data = nil
		}), want: []wantErr{required("data[username]"), required("data[password]")}},
		{name: "basic-auth with a username", res: "secrets", obj: secret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeBasicAuth
			s.Data = map[string][]byte{corev1.BasicAuthUsernameKey: []byte("admin")}
		})},
		{name: "ssh-auth needs a key", res: "secrets", obj: secret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeSSHAuth }),
			want: []wantErr{required("data[ssh-privatekey]")}},
		{name: "service-account-token needs its account", res: "secrets", obj: secret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeServiceAccountToken }),
			want: []wantErr{required("metadata.annotations[kubernetes.io/service-account.name]")}},
		{name: "type immutable", res: "secrets", old: secret(), obj: secret(tlsSecret), want: []wantErr{invalid("type")}},
		{name: "immutable secret data fixed", res: "secrets", old: secret(immutableSecret),
			obj: secret(immutableSecret, func(s *corev1.Secret) { s.Data["password"] = []byte("changed") }), want: []wantErr{forbidden("data")}},
		{name: "immutable secret stays immutable", res: "secrets", old: secret(immutableSecret), obj: secret(),
			want: []wantErr{forbidden("immutable")}},
	})
}

func TestValidateClusterKinds(t *testing.T) {
	runCases(t, []vcase{
		{name: "finalizer qualified", res: "namespaces", obj: namespace(func(n *corev1.Namespace) {
			n.Spec.Finalizers = append(n.Spec.Finalizers, "cleanup")
		}), want: []wantErr{invalid("spec.finalizers")}},
		{name: "finalize with a bad name", res: "namespaces", old: namespace(), obj: namespace(func(n *corev1.Namespace) {
			n.Spec.Finalizers = []corev1.FinalizerName{"not a/valid name"}
		}), want: []wantErr{invalid("spec.finalizers[0]")}},
		{name: "finalizers removed", res: "namespaces", old: namespace(), obj: namespace(func(n *corev1.Namespace) { n.Spec.Finalizers = nil })},

		{name: "node name a DNS subdomain", res: "nodes", obj: node(func(n *corev1.Node) { n.Name = "Node_1" }),
			want: []wantErr{invalid("metadata.name")}},
		{name: "podCIDR valid", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0/33", []string{"10.244.1.0/33"} }),
			want: []wantErr{invalid("spec.podCIDRs[0]")}},
		{name: "podCIDR alone", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0", nil }),
			want: []wantErr{invalid("spec.podCIDR")}},
		{name: "dual-stack podCIDRs", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00:10:244:1::/64"} })},
		{name: "one podCIDR per family", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.245.1.0/24"} }),
			want: []wantErr{invalid("spec.podCIDRs")}},
		// kube-apiserver reports node taints under metadata.taints.
		{name: "taint key qualified", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.Taints[0].Key = "bad key" }),
			want: []wantErr{invalid("metadata.taints[0].key")}},
		{name: "taint effect required", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }),
			want: []wantErr{required("metadata.taints[0].effect")}},
		{name: "taint effect supported", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" }),
			want: []wantErr{unsupported("metadata.taints[0].effect")}},
		{name: "taints unique by key and effect", res: "nodes", obj: node(func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }),
			want: []wantErr{duplicate("metadata.taints[1]")}},
		{name: "capacity not negative", res: "nodes", obj: node(func(n *corev1.Node) {
			n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
		}), want: []wantErr{invalid("status.capacity.cpu")}},
		{name: "podCIDR immutable", res: "nodes", old: node(), obj: node(func(n *corev1.Node) {
			n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"}
		}), want: []wantErr{forbidden("spec.podCIDRs")}},
		{name: "podCIDR assigned once", res: "nodes", old: node(func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil }), obj: node()},
		{name: "taints may change", res: "nodes", old: node(), obj: node(func(n *corev1.Node) { n.Spec.Taints = nil })},

		{name: "pv capacity required", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) { p.Spec.Capacity = nil }),
			want: []wantErr{required("spec.capacity"), unsupported("spec.capacity")}},
		{name: "pv capacity only storage", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.Capacity[corev1.ResourceCPU] = resource.MustParse("1")
		}), want: []wantErr{unsupported("spec.capacity")}},
		{name: "pv capacity positive", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("0")
		}), want: []wantErr{invalid("spec.capacity[storage]")}},
		{name: "pv accessModes required", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) { p.Spec.AccessModes = nil }),
			want: []wantErr{required("spec.accessModes")}},
		{name: "pv accessModes supported", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		}), want: []wantErr{unsupported("spec.accessModes")}},
		{name: "pv ReadWriteOncePod alone", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.AccessModes = append(p.Spec.AccessModes, corev1.ReadWriteOncePod)
		}), want: []wantErr{forbidden("spec.accessModes")}},
		{name: "pv needs a source", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{}
		}), want: []wantErr{required("spec")}},
		{name: "pv has one source", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.NFS = &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/exports"}
		}), want: []wantErr{forbidden("spec.nfs")}},
		{name: "pv reclaim policy supported", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.PersistentVolumeReclaimPolicy = "Archive"
		}), want: []wantErr{unsupported("spec.persistentVolumeReclaimPolicy")}},
		{name: "pv local needs node affinity", res: "persistentvolumes", obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk1"}}
		}), want: []wantErr{required("spec.nodeAffinity")}},
		{name: "pv source immutable", res: "persistentvolumes", old: persistentVolume(), obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.HostPath.Path = "/srv/other"
		}), want: []wantErr{forbidden("spec.persistentvolumesource")}},
		{name: "pv capacity may change", res: "persistentvolumes", old: persistentVolume(), obj: persistentVolume(func(p *corev1.PersistentVolume) {
			p.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("20Gi")
		})},
	})
}

func TestValidateClaimsQuotasAndLimits(t *testing.T) {
	storage := func(q string) func(*corev1.PersistentVolumeClaim) {
		return func(p *corev1.PersistentVolumeClaim) {
			p.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(q)
		}
	}
	pvLimit := func(l *corev1.LimitRange) {
		l.Spec.Limits = append(l.Spec.Limits, corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim,
			Max: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}})
	}
	item := "spec.limits[0]"
	runCases(t, []vcase{
		{name: "pvc accessModes required", res: "persistentvolumeclaims", obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) { p.Spec.AccessModes = nil }),
			want: []wantErr{required("spec.accessModes")}},
		{name: "pvc accessModes supported", res: "persistentvolumeclaims", obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadMostly"}
		}), want: []wantErr{unsupported("spec.accessModes")}},
		{name: "pvc storage required", res: "persistentvolumeclaims", obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.Resources.Requests = nil
		}), want: []wantErr{required("spec.resources[storage]")}},
		{name: "pvc storage positive", res: "persistentvolumeclaims", obj: persistentVolumeClaim(storage("0")),
			want: []wantErr{invalid("spec.resources[storage]")}},
		{name: "pvc storageClassName a DNS subdomain", res: "persistentvolumeclaims", obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.StorageClassName = tptr("Fast_SSD")
		}), want: []wantErr{invalid("spec.storageClassName")}},
		{name: "pvc storage may grow", res: "persistentvolumeclaims", old: persistentVolumeClaim(), obj: persistentVolumeClaim(storage("2Gi"))},
		{name: "pvc storage may not shrink", res: "persistentvolumeclaims", old: persistentVolumeClaim(storage("2Gi")), obj: persistentVolumeClaim(),
			want: []wantErr{forbidden("spec.resources.requests.storage")}},
		{name: "pvc accessModes immutable", res: "persistentvolumeclaims", old: persistentVolumeClaim(), obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}), want: []wantErr{forbidden("spec")}},
		{name: "pvc volumeName set once", res: "persistentvolumeclaims", old: persistentVolumeClaim(), obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) {
			p.Spec.VolumeName = "pv-1"
		})},
		{name: "pvc volumeName fixed once set", res: "persistentvolumeclaims", old: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) { p.Spec.VolumeName = "pv-1" }),
			obj: persistentVolumeClaim(func(p *corev1.PersistentVolumeClaim) { p.Spec.VolumeName = "pv-2" }), want: []wantErr{forbidden("spec")}},

		{name: "quota not negative", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard[corev1.ResourceRequestsCPU] = resource.MustParse("-1")
		}), want: []wantErr{invalid("spec.hard[requests.cpu]")}},
		{name: "quota counts whole", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("1500m")
		}), want: []wantErr{invalid("spec.hard[pods]")}},
		{name: "quota resource names standard", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard["widgets"] = resource.MustParse("1")
		}), want: []wantErr{invalid("spec.hard[widgets]")}},
		{name: "quota resource names qualified", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard["bad name!"] = resource.MustParse("1")
		}), want: []wantErr{invalid("spec.hard[bad name!]")}},
		{name: "quota scopes", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeTerminating}
		})},
		{name: "quota scope supported", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}
			q.Spec.Scopes = []corev1.ResourceQuotaScope{"Cheap"}
		}), want: []wantErr{invalid("spec.scopes")}},
		{name: "quota scopes not conflicting", res: "resourcequotas", obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating}
		}), want: []wantErr{invalid("spec.scopes")}},
		{name: "quota scopes immutable", res: "resourcequotas", old: resourceQuota(), obj: resourceQuota(func(q *corev1.ResourceQuota) {
			q.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}
		}), want: []wantErr{invalid("spec.scopes")}},

		{name: "limit type supported", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) { l.Spec.Limits[0].Type = "Namespace" }),
			want: []wantErr{invalid(item + ".type")}},
		{name: "limit types unique", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits = append(l.Spec.Limits, corev1.LimitRangeItem{Type: corev1.LimitTypeContainer})
		}), want: []wantErr{duplicate("spec.limits[1].type")}},
		{name: "min at most max", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Min[corev1.ResourceCPU] = resource.MustParse("3")
			l.Spec.Limits[0].Default = nil
			l.Spec.Limits[0].DefaultRequest = nil
		}), want: []wantErr{invalid(item + ".min[cpu]")}},
		{name: "default at most max", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Default[corev1.ResourceCPU] = resource.MustParse("4")
		}), want: []wantErr{invalid(item + ".default[cpu]")}},
		{name: "min at most default", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Default[corev1.ResourceCPU] = resource.MustParse("10m")
			l.Spec.Limits[0].DefaultRequest = nil
		}), want: []wantErr{invalid(item + ".default[cpu]")}},
		{name: "defaultRequest at most default", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].DefaultRequest[corev1.ResourceCPU] = resource.MustParse("1")
		}), want: []wantErr{invalid(item + ".defaultRequest[cpu]")}},
		{name: "min at most defaultRequest", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].DefaultRequest[corev1.ResourceCPU] = resource.MustParse("10m")
		}), want: []wantErr{invalid(item + ".defaultRequest[cpu]")}},
		{name: "defaultRequest at most max", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Default = nil
			l.Spec.Limits[0].DefaultRequest[corev1.ResourceCPU] = resource.MustParse("3")
		}), want: []wantErr{invalid(item + ".defaultRequest[cpu]")}},
		{name: "Pod limits have no defaults", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Type = corev1.LimitTypePod
			l.Spec.Limits[0].DefaultRequest = nil
		}), want: []wantErr{forbidden(item + ".default")}},
		{name: "claim limits", res: "limitranges", obj: limitRange(pvLimit)},
		{name: "claim limits need storage bounds", res: "limitranges", obj: limitRange(pvLimit, func(l *corev1.LimitRange) { l.Spec.Limits[1].Max = nil }),
			want: []wantErr{required("spec.limits[1].limits")}},
		{name: "limit resource names for containers", res: "limitranges", obj: limitRange(func(l *corev1.LimitRange) {
			l.Spec.Limits[0].Max[corev1.ResourceStorage] = resource.MustParse("1Gi")
		}), want: []wantErr{invalid(item + ".max[storage]")}},
	})
}

func TestValidateEventsAndEndpoints(t *testing.T) {
	newStyle := func(e *corev1.Event) {
		e.EventTime = metav1.NewMicroTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
		e.ReportingController = "tug.io/scheduler"
		e.ReportingInstance = "scheduler-1"
		e.Action = "Binding"
	}
	ss := "subsets[0]"
	runCases(t, []vcase{
		{name: "involved object in the event namespace", res: "events", obj: event(func(e *corev1.Event) { e.InvolvedObject.Namespace = "kube-system" }),
			want: []wantErr{invalid("involvedObject.namespace")}},
		{name: "cluster-scoped involved object in default", res: "events", obj: event(func(e *corev1.Event) {
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		})},
		{name: "cluster-scoped involved object elsewhere", res: "events", obj: event(func(e *corev1.Event) {
			e.Namespace = "team-a"
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}), want: []wantErr{invalid("involvedObject.namespace")}},
		{name: "event type supported", res: "events", obj: event(func(e *corev1.Event) { e.Type = "Error" }),
			want: []wantErr{unsupported("type")}},
		{name: "reason at most 128 characters", res: "events", obj: event(func(e *corev1.Event) { e.Reason = strings.Repeat("R", 129) }),
			want: []wantErr{invalid("reason")}},
		{name: "new-style event", res: "events", obj: event(newStyle)},
		{name: "new-style event needs an action", res: "events", obj: event(newStyle, func(e *corev1.Event) { e.Action = "" }),
			want: []wantErr{required("action")}},
		{name: "new-style message at most 1024 characters", res: "events", obj: event(newStyle, func(e *corev1.Event) { e.Message = strings.Repeat("m", 1025) }),
			want: []wantErr{invalid("message")}},

		{name: "address an IP", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "10.244.1" }),
			want: []wantErr{invalid(ss + ".addresses[0].ip")}},
		{name: "address not loopback", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "127.0.0.1" }),
			want: []wantErr{invalid(ss + ".addresses[0].ip")}},
		{name: "a wasm pod's loopback address with its node", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) {
			e.Subsets[0].Addresses[0].IP, e.Subsets[0].Addresses[0].NodeName = "127.100.0.7", ptr("node-a")
		})},
		{name: "a wasm pod's loopback address without a node", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) {
			e.Subsets[0].Addresses[0].IP, e.Subsets[0].Addresses[0].NodeName = "127.100.0.7", nil
		}), want: []wantErr{invalid(ss + ".addresses[0].ip")}},
		{name: "slice: a wasm pod's loopback address with its node", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Endpoints[0].Addresses, e.Endpoints[0].NodeName = []string{"127.100.0.7"}, ptr("node-a")
		})},
		{name: "slice: other loopback addresses never", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Endpoints[0].Addresses, e.Endpoints[0].NodeName = []string{"127.0.0.1"}, ptr("node-a")
		}), want: []wantErr{invalid("endpoints[0].addresses[0]")}},
		{name: "subset needs addresses", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Addresses = nil }),
			want: []wantErr{required(ss)}},
		{name: "not-ready addresses suffice", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) {
			e.Subsets[0].NotReadyAddresses, e.Subsets[0].Addresses = e.Subsets[0].Addresses, nil
		})},
		{name: "endpoint port in range", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }),
			want: []wantErr{invalid(ss + ".ports[0].port")}},
		{name: "endpoint protocol supported", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Protocol = "QUIC" }),
			want: []wantErr{unsupported(ss + ".ports[0].protocol")}},
		{name: "endpoint port names required", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Ports[1].Name = "" }),
			want: []wantErr{required(ss + ".ports[1].name")}},
		{name: "endpoint port names unique", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) { e.Subsets[0].Ports[1].Name = "http" }),
			want: []wantErr{duplicate(ss + ".ports[1].name")}},
		{name: "single unnamed endpoint port", res: "endpoints", obj: endpoints(func(e *corev1.Endpoints) {
			e.Subsets[0].Ports = []corev1.EndpointPort{{Port: 8080}}
		})},

		{name: "addressType required", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) { e.AddressType = "" }),
			want: []wantErr{required("addressType")}},
		{name: "addressType supported", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) { e.AddressType = "MAC" }),
			want: []wantErr{unsupported("addressType")}},
		{name: "addresses of the slice type", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Endpoints[0].Addresses = []string{"fd00::5"}
		}), want: []wantErr{invalid("endpoints[0].addresses[0]")}},
		{name: "addresses valid", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Endpoints[0].Addresses = []string{"10.244.1.500"}
		}), want: []wantErr{invalid("endpoints[0].addresses[0]")}},
		{name: "FQDN slice", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.AddressType = discoveryv1.AddressTypeFQDN
			e.Endpoints[0].Addresses = []string{"db-0.db.default.svc"}
		})},
		{name: "endpoint needs an address", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) { e.Endpoints[0].Addresses = nil }),
			want: []wantErr{required("endpoints[0].addresses")}},
		{name: "endpoint at most 100 addresses", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Endpoints[0].Addresses = nil
			for i := 0; i < 101; i++ {
				e.Endpoints[0].Addresses = append(e.Endpoints[0].Addresses, fmt.Sprintf("10.244.%d.%d", i/200, i%200+1))
			}
		}), want: []wantErr{tooMany("endpoints[0].addresses")}},
		{name: "at most 1000 endpoints", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			for len(e.Endpoints) <= 1000 {
				e.Endpoints = append(e.Endpoints, e.Endpoints[0])
			}
		}), want: []wantErr{tooMany("endpoints")}},
		{name: "slice port in range", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) { e.Ports[0].Port = tptr(int32(70000)) }),
			want: []wantErr{invalid("ports[0].port")}},
		{name: "slice port protocol supported", res: "endpointslices", obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.Ports[0].Protocol = tptr(corev1.Protocol("ICMP"))
		}), want: []wantErr{unsupported("ports[0].protocol")}},
		{name: "addressType immutable", res: "endpointslices", old: endpointSlice(), obj: endpointSlice(func(e *discoveryv1.EndpointSlice) {
			e.AddressType = discoveryv1.AddressTypeIPv6
			e.Endpoints[0].Addresses = []string{"fd00::5"}
		}), want: []wantErr{invalid("addressType")}},
	})
}

func TestValidateLeasesAndIngresses(t *testing.T) {
	path0 := "spec.rules[0].http.paths[0]"
	runCases(t, []vcase{
		{name: "leaseDurationSeconds positive", res: "leases", obj: lease(func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = tptr(int32(0)) }),
			want: []wantErr{invalid("spec.leaseDurationSeconds")}},
		{name: "leaseTransitions not negative", res: "leases", obj: lease(func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = tptr(int32(-1)) }),
			want: []wantErr{invalid("spec.leaseTransitions")}},
		{name: "empty lease", res: "leases", obj: lease(func(l *coordinationv1.Lease) { l.Spec = coordinationv1.LeaseSpec{} })},

		{name: "rules or default backend", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules = nil }),
			want: []wantErr{invalid("spec")}},
		{name: "default backend alone", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}}
			i.Spec.Rules = nil
		})},
		{name: "wildcard host", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "*.example.com" })},
		{name: "host a DNS subdomain", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "Shop.Example.com" }),
			want: []wantErr{invalid("spec.rules[0].host")}},
		{name: "host wildcard only as first label", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "shop.*.com" }),
			want: []wantErr{invalid("spec.rules[0].host")}},
		{name: "host not an IP", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }),
			want: []wantErr{invalid("spec.rules[0].host")}},
		{name: "paths required", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths = nil }),
			want: []wantErr{required("spec.rules[0].http.paths")}},
		{name: "pathType required", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil }),
			want: []wantErr{required(path0 + ".pathType")}},
		{name: "pathType supported", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].PathType = tptr(networkingv1.PathType("Regex"))
		}), want: []wantErr{unsupported(path0 + ".pathType")}},
		{name: "Prefix paths absolute", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Path = "api" }),
			want: []wantErr{invalid(path0 + ".path")}},
		{name: "Exact paths absolute", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].PathType = tptr(networkingv1.PathTypeExact)
			i.Spec.Rules[0].HTTP.Paths[0].Path = ""
		}), want: []wantErr{invalid(path0 + ".path")}},
		{name: "ImplementationSpecific path may be empty", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].PathType = tptr(networkingv1.PathTypeImplementationSpecific)
			i.Spec.Rules[0].HTTP.Paths[0].Path = ""
		})},
		{name: "backend service name required", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = ""
		}), want: []wantErr{required(path0 + ".backend.service.name")}},
		{name: "backend port required", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{}
		}), want: []wantErr{required(path0 + ".backend")}},
		{name: "backend port number in range", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 70000
		}), want: []wantErr{invalid(path0 + ".backend.service.port.number")}},
		{name: "backend port name valid", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{Name: "Web_Port"}
		}), want: []wantErr{invalid(path0 + ".backend.service.port.name")}},
		{name: "backend port name or number", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "http"
		}), want: []wantErr{invalid(path0 + ".backend")}},
		{name: "backend required", res: "ingresses", obj: ingress(func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{}
		}), want: []wantErr{invalid(path0 + ".backend")}},

		{name: "serviceaccount name a DNS subdomain", res: "serviceaccounts", obj: serviceAccount(func(s *corev1.ServiceAccount) { s.Name = "Builder" }),
			want: []wantErr{invalid("metadata.name")}},
	})
}

// TestDefaultedObjectsStayValid runs each valid object through what the API server does before
// validating a create, PrepareForCreate and Default, so that defaults never produce an object
// validation rejects.
func TestDefaultedObjectsStayValid(t *testing.T) {
	csrPEM := testCSRPEM(t)
	fixtures := map[string]func() runtime.Object{
		"pods": func() runtime.Object { return pod() }, "deployments": func() runtime.Object { return deployment() },
		"replicasets": func() runtime.Object { return replicaSet() }, "statefulsets": func() runtime.Object { return statefulSet() },
		"daemonsets": func() runtime.Object { return daemonSet() }, "replicationcontrollers": func() runtime.Object { return replicationController() },
		"jobs": func() runtime.Object { return job() }, "cronjobs": func() runtime.Object { return cronJob() },
		"services": func() runtime.Object { return service() }, "configmaps": func() runtime.Object { return configMap() },
		"secrets": func() runtime.Object { return secret() }, "namespaces": func() runtime.Object { return namespace() },
		"nodes": func() runtime.Object { return node() }, "events": func() runtime.Object { return event() },
		"endpoints": func() runtime.Object { return endpoints() }, "endpointslices": func() runtime.Object { return endpointSlice() },
		"leases": func() runtime.Object { return lease() }, "persistentvolumes": func() runtime.Object { return persistentVolume() },
		"persistentvolumeclaims": func() runtime.Object { return persistentVolumeClaim() },
		"resourcequotas":         func() runtime.Object { return resourceQuota() }, "limitranges": func() runtime.Object { return limitRange() },
		"ingresses": func() runtime.Object { return ingress() }, "serviceaccounts": func() runtime.Object { return serviceAccount() },
		"roles": func() runtime.Object { return role() }, "clusterroles": func() runtime.Object { return clusterRole() },
		"rolebindings": func() runtime.Object { return roleBinding() }, "clusterrolebindings": func() runtime.Object { return clusterRoleBinding() },
		"certificatesigningrequests": func() runtime.Object { return csrWith(csrPEM) },
		"headless services": func() runtime.Object {
			return service(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Ports = corev1.ClusterIPNone, nil })
		},
	}
	used := 0
	for _, k := range Builtin() {
		for name, fixture := range fixtures {
			if name != k.Resource && name != "headless "+k.Resource {
				continue
			}
			used++
			obj := fixture()
			if k.PrepareForCreate != nil {
				k.PrepareForCreate(obj)
			}
			if k.Default != nil {
				k.Default(obj)
			}
			if errs := k.Validate(obj); len(errs) > 0 {
				t.Errorf("%s: defaulted object invalid: %v", name, errs)
			}
			if errs := k.ValidateUpdate(obj, obj.DeepCopyObject()); len(errs) > 0 {
				t.Errorf("%s: defaulted object invalid as an update: %v", name, errs)
			}
		}
	}
	if used != len(fixtures) {
		t.Errorf("checked %d of %d fixtures", used, len(fixtures))
	}
}
