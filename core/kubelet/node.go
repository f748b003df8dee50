package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tugboat-io/tug/internal/version"
)

// maxNodeImages is how many images the Node's status lists, as kubelet's default.
const maxNodeImages = 50

// registerNode creates the Node, or takes over the one of the same name: its spec (taints,
// cordon) stays as the cluster left it; labels are merged and the status is the agent's.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	labels := map[string]string{
		corev1.LabelHostname: a.cfg.NodeName,
		corev1.LabelOSStable: goruntime.GOOS, corev1.LabelArchStable: goruntime.GOARCH,
	}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	var node *corev1.Node
	for attempt := 0; ; attempt++ {
		cur, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			node, err = nodes.Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels},
				Spec:       corev1.NodeSpec{Taints: a.cfg.Taints},
			}, metav1.CreateOptions{})
		case err == nil:
			changed := false
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			for k, v := range labels {
				if cur.Labels[k] != v {
					cur.Labels[k], changed = v, true
				}
			}
			node = cur
			if changed {
				node, err = nodes.Update(ctx, cur, metav1.UpdateOptions{})
			}
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= 30 {
			return fmt.Errorf("kubelet: register node %s: %w", a.cfg.NodeName, err)
		}
		a.log.Warn("registering the node, will retry", "err", err)
		time.Sleep(time.Second)
	}
	node.Status = a.nodeStatus(ctx, node.Status)
	if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kubelet: status of node %s: %w", a.cfg.NodeName, err)
	}
	return a.renewLease(ctx)
}

// heartbeat renews the Lease four times per lease duration and writes node status when it
// changed or StatusInterval has passed, like kubelet's two heartbeats.
func (a *Agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(a.cfg.LeaseDuration / 4)
	defer t.Stop()
	lastStatus := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("lease not renewed", "err", err)
		}
		if err := a.updateNodeStatus(ctx, time.Since(lastStatus) >= a.cfg.StatusInterval); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("node status not written", "err", err)
			}
			continue
		}
		lastStatus = time.Now()
	}
}

func (a *Agent) updateNodeStatus(ctx context.Context, force bool) error {
	nodes := a.client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Someone deleted the Node: register it again, as kubelet does.
		return a.registerNode(ctx)
	}
	if err != nil {
		return err
	}
	st := a.nodeStatus(ctx, node.Status)
	if !force && statusEqualButHeartbeat(node.Status, st) {
		return nil
	}
	node.Status = st
	_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
	return err
}

// statusEqualButHeartbeat compares node statuses ignoring heartbeat times.
func statusEqualButHeartbeat(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s.Conditions = append([]corev1.NodeCondition(nil), s.Conditions...)
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

func (a *Agent) renewLease(ctx context.Context) error {
	return RenewLease(ctx, a.client, a.cfg.NodeName, a.cfg.LeaseDuration)
}

// RenewLease renews (or creates) the Lease of node in kube-node-lease, the heartbeat the node
// lifecycle controller watches.
func RenewLease(ctx context.Context, client kubernetes.Interface, node string, duration time.Duration) error {
	leases := client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(duration / time.Second)
	l, err := leases.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &secs, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime, l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &now, &node, &secs
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// nodeStatus is the Node's status as the agent sees the machine now, keeping condition
// transition times from old.
func (a *Agent) nodeStatus(ctx context.Context, old corev1.NodeStatus) corev1.NodeStatus {
	capacity := a.capacity()
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "tug node agent is posting ready status"},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime, conds[i].LastTransitionTime = now, now
		for _, o := range old.Conditions {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	st := corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity, Phase: corev1.NodeRunning, Conditions: conds,
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.cfg.NodeIP.String()},
			{Type: corev1.NodeHostName, Address: a.cfg.NodeName}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.kubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: machineID(), SystemUUID: machineID(), BootID: bootID(),
			KernelVersion: kernelVersion(), OSImage: osImage(), OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
			ContainerRuntimeVersion: a.runtimeVersion(), KubeletVersion: version.KubeletVersion(), KubeProxyVersion: "",
		},
	}
	st.Images = a.nodeImages(ctx)
	return st
}

func (a *Agent) runtimeVersion() string {
	names := make([]string, 0, len(a.cfg.Runtimes))
	for _, rt := range a.cfg.Runtimes {
		if v, ok := rt.(interface{ Version() string }); ok {
			names = append(names, v.Version())
		} else {
			names = append(names, rt.Handler()+"://")
		}
	}
	return strings.Join(names, ",")
}

func (a *Agent) nodeImages(ctx context.Context) []corev1.ContainerImage {
	var out []corev1.ContainerImage
	for _, rt := range a.cfg.Runtimes {
		imgs, err := rt.Images(ctx)
		if err != nil {
			continue
		}
		for _, img := range imgs {
			names := append([]string{}, img.Names...)
			if img.Ref != "" {
				names = append(names, img.Ref)
			}
			out = append(out, corev1.ContainerImage{Names: names, SizeBytes: img.Size})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SizeBytes > out[j].SizeBytes })
	if len(out) > maxNodeImages {
		out = out[:maxNodeImages]
	}
	return out
}

// capacity reads the machine: cpus, memory, the filesystem holding the root directory, and
// the usual 110 pods; Config.Capacity overrides any of them.
func (a *Agent) capacity() corev1.ResourceList {
	c := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	if m := memTotal(); m > 0 {
		c[corev1.ResourceMemory] = *resource.NewQuantity(m, resource.BinarySI)
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(a.cfg.RootDir, &fs) == nil {
		c[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*int64(fs.Bsize), resource.BinarySI)
	}
	for k, v := range a.cfg.Capacity {
		c[k] = v
	}
	return c
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func machineID() string     { return readTrim("/etc/machine-id") }
func bootID() string        { return readTrim("/proc/sys/kernel/random/boot_id") }
func kernelVersion() string { return readTrim("/proc/sys/kernel/osrelease") }

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return goruntime.GOOS
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return goruntime.GOOS
}

// DetectNodeIP picks the address of the interface the default route leaves through (found
// without sending anything), falling back to 127.0.0.1 on a machine with no route out.
func DetectNodeIP() netip.Addr {
	conn, err := net.Dial("udp4", "192.0.2.1:9") // TEST-NET-1: never answered, never sent
	if err == nil {
		defer conn.Close()
		if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
			if addr, ok := netip.AddrFromSlice(ua.IP.To4()); ok && !addr.IsUnspecified() {
				return addr
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}
