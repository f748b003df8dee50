package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/core/kubelet"
)

// Config describes the hollow nodes: Count nodes named Prefix-0 … Prefix-(Count-1), alike.
type Config struct {
	Client kubernetes.Interface
	Prefix string
	Count  int
	// Capacity is each node's capacity and allocatable (cpu, memory, pods, and any
	// extended resource such as nvidia.com/gpu).
	Capacity corev1.ResourceList
	Labels   map[string]string
	Taints   []corev1.Taint
	// Heartbeat is how often each node renews its Lease (0: never, for very large runs).
	Heartbeat time.Duration
	// RunFor is how long a pod that runs to completion (restartPolicy Never or OnFailure)
	// runs before it exits; a pod's annotation sim.tug.dev/run-for overrides it, and
	// sim.tug.dev/exit-code sets its exit code (default 0). Zero means 1s.
	RunFor time.Duration
	Logger *slog.Logger
}

// Annotations a pod may carry to steer how a hollow node pretends to run it.
const (
	AnnotationRunFor   = "sim.tug.dev/run-for"
	AnnotationExitCode = "sim.tug.dev/exit-code"
)

// DefaultCapacity is a node of 8 cpu, 32 GiB and 110 pods.
func DefaultCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// Nodes is a running set of hollow nodes.
type Nodes struct {
	cfg   Config
	log   *slog.Logger
	names map[string]int // node name → index

	mu      sync.Mutex
	ips     map[string]int      // pod UID → address number
	running map[string]struct{} // pod UIDs with an exit scheduled
	next    int
}

// New checks cfg and returns the nodes, not yet registered.
func New(cfg Config) (*Nodes, error) {
	if cfg.Client == nil || cfg.Count < 1 || cfg.Prefix == "" {
		return nil, fmt.Errorf("sim: a client, a prefix and at least one node are required")
	}
	if cfg.Count > 65000 {
		return nil, fmt.Errorf("sim: at most 65000 nodes (node addresses are 10.255.x.y)")
	}
	if cfg.Capacity == nil {
		cfg.Capacity = DefaultCapacity()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	n := &Nodes{cfg: cfg, log: log.With("component", "sim"), names: map[string]int{}, ips: map[string]int{}, running: map[string]struct{}{}}
	for i := range cfg.Count {
		n.names[n.name(i)] = i
	}
	return n, nil
}

func (n *Nodes) name(i int) string { return fmt.Sprintf("%s-%d", n.cfg.Prefix, i) }

// Run registers the nodes (or takes over existing ones of the same names), then keeps them
// alive and runs their pods until ctx ends. The nodes stay registered after it returns.
func (n *Nodes) Run(ctx context.Context) error {
	for i := range n.cfg.Count {
		if err := n.register(ctx, i); err != nil {
			return err
		}
	}
	n.log.Info("hollow nodes registered", "nodes", n.cfg.Count, "prefix", n.cfg.Prefix)
	factory := informers.NewSharedInformerFactory(n.cfg.Client, 0)
	pods := factory.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { n.onPod(ctx, o) },
		UpdateFunc: func(_, o any) { n.onPod(ctx, o) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if n.cfg.Heartbeat <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			for i := range n.cfg.Count {
				if err := n.renew(ctx, i); err != nil && ctx.Err() == nil {
					n.log.Warn("lease not renewed", "node", n.name(i), "error", err)
				}
			}
		}
	}
}

func (n *Nodes) register(ctx context.Context, i int) error {
	name := n.name(i)
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
		"kubernetes.io/arch": "amd64", "type": "hollow"}
	for k, v := range n.cfg.Labels {
		labels[k] = v
	}
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: n.cfg.Taints},
		Status: corev1.NodeStatus{
			Capacity: n.cfg.Capacity, Allocatable: n.cfg.Capacity,
			Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "hollow node is ready",
					LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: now, LastTransitionTime: now},
			},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.nodeIP(i).String()},
				{Type: corev1.NodeHostName, Address: name}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-tug-sim", OperatingSystem: "linux", Architecture: "amd64",
				ContainerRuntimeVersion: "hollow://0"},
		},
	}
	client := n.cfg.Client.CoreV1().Nodes()
	created, err := client.Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var cur *corev1.Node
		if cur, err = client.Get(ctx, name, metav1.GetOptions{}); err == nil {
			node.ResourceVersion = cur.ResourceVersion
			created, err = client.Update(ctx, node, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("sim: register %s: %w", name, err)
	}
	// Status is its own subresource: a create may drop it.
	node.ResourceVersion = created.ResourceVersion
	if _, err := client.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("sim: status of %s: %w", name, err)
	}
	if n.cfg.Heartbeat > 0 {
		return n.renew(ctx, i)
	}
	return nil
}

// renew renews node i's Lease in kube-node-lease, as a kubelet does.
func (n *Nodes) renew(ctx context.Context, i int) error {
	return kubelet.RenewLease(ctx, n.cfg.Client, n.name(i), max(40*time.Second, 4*n.cfg.Heartbeat))
}

// nodeIP is node i's address: 10.255.x.y from 10.255.0.1, outside the pods' addresses.
func (n *Nodes) nodeIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 255, byte((i + 1) >> 8), byte(i + 1)})
}

// onPod pretends to run a pod bound to one of the nodes: Running and Ready at once; a pod
// being deleted is gone at once.
func (n *Nodes) onPod(ctx context.Context, o any) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	i, ours := n.names[p.Spec.NodeName]
	if !ours {
		return
	}
	pods := n.cfg.Client.CoreV1().Pods(p.Namespace)
	if p.DeletionTimestamp != nil {
		n.mu.Lock()
		delete(n.ips, string(p.UID))
		n.mu.Unlock()
		zero := int64(0)
		err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
			n.log.Warn("pod not removed", "pod", p.Namespace+"/"+p.Name, "error", err)
		}
		return
	}
	if p.Status.Phase == corev1.PodRunning {
		n.scheduleExit(ctx, p)
	}
	if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return
	}
	now := metav1.Now()
	status := corev1.PodStatus{
		Phase:  corev1.PodRunning,
		HostIP: n.nodeIP(i).String(), PodIP: n.podIP(p).String(),
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		QOSClass: corev1.PodQOSBestEffort,
	}
	status.PodIPs = []corev1.PodIP{{IP: status.PodIP}}
	status.HostIPs = []corev1.HostIP{{IP: status.HostIP}}
	for _, c := range p.Spec.Containers {
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hollow://" + c.Image, Ready: true, Started: ptr(true),
			ContainerID: fmt.Sprintf("hollow://%s/%s", p.UID, c.Name),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return
	}
	if _, err := pods.Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil &&
		!apierrors.IsNotFound(err) && ctx.Err() == nil {
		n.log.Warn("pod status not written", "pod", p.Namespace+"/"+p.Name, "error", err)
	}
}

// scheduleExit makes a running pod that runs to completion exit after its run time: it
// succeeds, or with a non-zero exit code fails (restartPolicy Never) or is restarted
// (OnFailure), as a kubelet would report it.
func (n *Nodes) scheduleExit(ctx context.Context, p *corev1.Pod) {
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever && p.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return
	}
	n.mu.Lock()
	_, scheduled := n.running[string(p.UID)]
	n.running[string(p.UID)] = struct{}{}
	n.mu.Unlock()
	if scheduled {
		return
	}
	runFor := n.cfg.RunFor
	if runFor <= 0 {
		runFor = time.Second
	}
	if d, err := time.ParseDuration(p.Annotations[AnnotationRunFor]); err == nil && d >= 0 {
		runFor = d
	}
	code := int32(0)
	if c, err := strconv.ParseInt(p.Annotations[AnnotationExitCode], 10, 32); err == nil {
		code = int32(c)
	}
	ns, name, uid := p.Namespace, p.Name, p.UID
	var exit func()
	exit = func() {
		if ctx.Err() != nil {
			return
		}
		pods := n.cfg.Client.CoreV1().Pods(ns)
		cur, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil || cur.UID != uid || cur.DeletionTimestamp != nil || cur.Status.Phase != corev1.PodRunning {
			n.forget(uid)
			return
		}
		now := metav1.Now()
		status := cur.Status.DeepCopy()
		restart := code != 0 && cur.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
		for i := range status.ContainerStatuses {
			cs := &status.ContainerStatuses[i]
			started := now
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Completed",
				StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID}}
			if code != 0 {
				done.Terminated.Reason = "Error"
			}
			if restart {
				cs.LastTerminationState, cs.RestartCount = done, cs.RestartCount+1
				cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
				continue
			}
			cs.State, cs.Ready, cs.Started = done, false, ptr(false)
		}
		if !restart {
			status.Phase = corev1.PodSucceeded
			if code != 0 {
				status.Phase = corev1.PodFailed
			}
			for i := range status.Conditions {
				if t := status.Conditions[i].Type; t == corev1.PodReady || t == corev1.ContainersReady {
					status.Conditions[i].Status, status.Conditions[i].Reason, status.Conditions[i].LastTransitionTime = corev1.ConditionFalse, "PodCompleted", now
				}
			}
		}
		cur.Status = *status
		if _, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
			if apierrors.IsConflict(err) {
				time.AfterFunc(100*time.Millisecond, exit)
				return
			}
			n.log.Warn("pod exit not written", "pod", ns+"/"+name, "error", err)
		}
		if restart {
			time.AfterFunc(runFor, exit)
			return
		}
		n.forget(uid)
	}
	time.AfterFunc(runFor, exit)
}

func (n *Nodes) forget(uid types.UID) {
	n.mu.Lock()
	delete(n.running, string(uid))
	n.mu.Unlock()
}

// podIP is a pod's address: 10.x.y.z from 10.0.0.2 up, one per pod for the life of the
// simulator, whatever its node (hollow pods are never reached).
func (n *Nodes) podIP(p *corev1.Pod) netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := string(p.UID)
	seq, ok := n.ips[key]
	if !ok {
		n.next++
		seq = n.next + 1
		n.ips[key] = seq
	}
	return netip.AddrFrom4([4]byte{10, byte(seq >> 16), byte(seq >> 8), byte(seq)})
}

func ptr[T any](v T) *T { return &v }

// ParseTaint parses key=value:Effect or key:Effect.
func ParseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	switch corev1.TaintEffect(effect) {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return corev1.Taint{}, fmt.Errorf("taint %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", s, effect)
	}
	key, value, _ := strings.Cut(kv, "=")
	if key == "" {
		return corev1.Taint{}, fmt.Errorf("taint %q: no key", s)
	}
	return corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}, nil
}
