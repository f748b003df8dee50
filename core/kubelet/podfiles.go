package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// nodeHostsFile is the node's hosts file, which hostNetwork pods get (with their aliases).
const nodeHostsFile = "/etc/hosts"

// podFiles are the host paths of the files a pod's containers get as /etc/resolv.conf and
// /etc/hosts.
type podFiles struct{ resolvConf, hosts string }

// nameFiles writes the pod's resolv.conf and hosts file under its directory, for a runtime
// that mounts them (container.NameFiles), and returns their paths; for another runtime it
// returns none. The files are made once per sandbox and worker (so again after the agent
// restarts), and the problems with the pod's settings are reported then, as Warning events.
func (w *worker) nameFiles(ctx context.Context, pod *corev1.Pod, sb container.Sandbox) (podFiles, error) {
	if nf, ok := w.rt.(container.NameFiles); !ok || !nf.MountsNameFiles() {
		return podFiles{}, nil
	}
	if w.files != nil {
		return *w.files, nil
	}
	a := w.a
	var probs []problem
	node, err := a.nodeDNS()
	if err != nil {
		probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf("the node's resolver configuration: %v; the pod inherits nothing from it", err)})
	}
	rc, p := podResolvConf(pod, node)
	probs = append(probs, p...)

	hostname, domain, _, p := podHostname(pod, a.cfg.ClusterDomain)
	probs = append(probs, p...)
	var nodeHosts []byte
	if pod.Spec.HostNetwork {
		if nodeHosts, err = readAtMost(a.nodeHosts, maxResolvConfBytes); err != nil {
			probs = append(probs, problem{reasonDNSConfigForming, fmt.Sprintf("the node's hosts file: %v; the pod gets only its aliases", err)})
		}
	}
	hosts, p := podHostsFile(sb.IP, hostname, domain, pod.Spec.HostAliases, pod.Spec.HostNetwork, nodeHosts)
	probs = append(probs, p...)

	dir := a.podDir(pod.UID)
	files := podFiles{resolvConf: filepath.Join(dir, "resolv.conf"), hosts: filepath.Join(dir, "etc-hosts")}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return podFiles{}, err
	}
	if err := writeFileIfChanged(files.resolvConf, []byte(rc.String())); err != nil {
		return podFiles{}, fmt.Errorf("pod resolv.conf: %w", err)
	}
	if err := writeFileIfChanged(files.hosts, hosts); err != nil {
		return podFiles{}, fmt.Errorf("pod hosts file: %w", err)
	}
	for _, pr := range probs {
		a.log.Warn("pod name resolution", "pod", pod.Namespace+"/"+pod.Name, "reason", pr.reason, "problem", pr.message)
		a.events.warn(ctx, pod, pr.reason, pr.message)
	}
	w.files = &files
	return files, nil
}

// nodeDNS is what this node contributes to its pods' resolver configuration. An unreadable
// resolv.conf is an error, with a node that contributes an empty one.
func (a *Agent) nodeDNS() (nodeDNS, error) {
	n := nodeDNS{clusterDNS: a.cfg.ClusterDNS, domain: a.cfg.ClusterDomain, nodeIP: a.cfg.NodeIP}
	if a.cfg.ResolvConf == NoResolvConf {
		return n, nil
	}
	b, err := readAtMost(a.cfg.ResolvConf, maxResolvConfBytes)
	rc := parseResolvConf(b)
	n.host = &rc
	return n, err
}

func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// writeFileIfChanged replaces path with data in one rename, leaving it alone when it already
// holds data. A container that has the old file mounted keeps seeing it.
func writeFileIfChanged(path string, data []byte) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
