package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// Volumes live under <root>/pods/<uid>/volumes/<kind>/<name>, memory-backed ones under
// <root>/memory/pods/<uid>/volumes/<kind>/<name> (a tmpfs, when the agent could mount one);
// the runtime mounts them into containers. ConfigMap, Secret, downward API and projected volumes are written with an
// atomic swap (files under a ..data symlink replaced in one rename), as kubelet's AtomicWriter
// does, so a reader never sees half an update.

// prepareVolumes makes sure every volume the container mounts exists with current content
// and returns the mounts.
func (a *Agent) prepareVolumes(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]container.Mount, error) {
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var mounts []container.Mount
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q names no volume of the pod", vm.Name)
		}
		dir, readOnly, err := a.setUpVolume(ctx, pod, v)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		host := dir
		if vm.SubPath != "" {
			sub := filepath.Clean("/" + vm.SubPath)
			host = filepath.Join(dir, sub)
			if _, err := os.Lstat(host); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(host, 0o777); err != nil {
					return nil, fmt.Errorf("volume %q subPath %q: %w", v.Name, vm.SubPath, err)
				}
			}
		}
		mounts = append(mounts, container.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly || readOnly})
	}
	return mounts, nil
}

// refreshVolumes brings the content of a running pod's ConfigMap, Secret, downward API and
// projected volumes up to date.
func (a *Agent) refreshVolumes(ctx context.Context, pod *corev1.Pod) error {
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.ConfigMap == nil && v.Secret == nil && v.DownwardAPI == nil && v.Projected == nil {
			continue
		}
		if _, err := os.Stat(a.volumeDir(pod, v)); err != nil {
			continue // not set up yet: a container start will
		}
		if _, _, err := a.setUpVolume(ctx, pod, v); err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) volumeDir(pod *corev1.Pod, v *corev1.Volume) string {
	kind := "other"
	switch {
	case v.EmptyDir != nil:
		kind = "empty-dir"
	case v.ConfigMap != nil:
		kind = "configmap"
	case v.Secret != nil:
		kind = "secret"
	case v.DownwardAPI != nil:
		kind = "downward-api"
	case v.Projected != nil:
		kind = "projected"
	}
	base := a.podDir(pod.UID)
	if a.memoryRoot != "" && memoryBacked(v) {
		base = a.podMemoryDir(pod.UID)
	}
	return filepath.Join(base, "volumes", kind, v.Name)
}

// memoryBacked says whether kubelet keeps a volume of this type on a tmpfs: the ones that may
// hold secrets (Secret, projected with its service account token), the downward API, and
// emptyDir with medium Memory.
func memoryBacked(v *corev1.Volume) bool {
	return v.Secret != nil || v.Projected != nil || v.DownwardAPI != nil ||
		(v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory)
}

// podMemoryDir is the pod's directory on the memory-backed volumes' tmpfs.
func (a *Agent) podMemoryDir(uid types.UID) string {
	return filepath.Join(a.memoryRoot, "pods", string(uid))
}

// setUpVolume returns the host directory of a volume, making or refreshing it.
func (a *Agent) setUpVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (string, bool, error) {
	dir := a.volumeDir(pod, v)
	switch {
	case v.EmptyDir != nil:
		return dir, false, os.MkdirAll(dir, 0o777)
	case v.HostPath != nil:
		return v.HostPath.Path, false, hostPath(v.HostPath)
	case v.ConfigMap != nil:
		files, err := a.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode))
		if err != nil {
			return "", false, err
		}
		return dir, true, writeAtomic(dir, files)
	case v.Secret != nil:
		files, err := a.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode))
		if err != nil {
			return "", false, err
		}
		return dir, true, writeAtomic(dir, files)
	case v.DownwardAPI != nil:
		files, err := a.downwardFiles(pod, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
		if err != nil {
			return "", false, err
		}
		return dir, true, writeAtomic(dir, files)
	case v.Projected != nil:
		files, err := a.projectedFiles(ctx, pod, v.Projected)
		if err != nil {
			return "", false, err
		}
		return dir, true, writeAtomic(dir, files)
	case v.PersistentVolumeClaim != nil:
		p, err := a.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		return p, v.PersistentVolumeClaim.ReadOnly, err
	}
	return "", false, fmt.Errorf("this node does not support the volume's type")
}

func mode(m *int32) fs.FileMode {
	if m == nil {
		return 0o644
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// hostPath checks or makes a hostPath volume according to its type.
func hostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	st, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			return os.MkdirAll(h.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	switch t {
	case corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate:
		if !st.IsDir() {
			return fmt.Errorf("hostPath %s is not a directory", h.Path)
		}
	case corev1.HostPathFile, corev1.HostPathFileOrCreate:
		if !st.Mode().IsRegular() {
			return fmt.Errorf("hostPath %s is not a file", h.Path)
		}
	case corev1.HostPathSocket:
		if st.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("hostPath %s is not a socket", h.Path)
		}
	}
	return nil
}

// claimPath finds the directory behind a PersistentVolumeClaim: the bound PersistentVolume
// must be a hostPath or local volume on this machine.
func (a *Agent) claimPath(ctx context.Context, ns, name string) (string, error) {
	pvc, err := a.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound", name)
	}
	pv, err := a.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, hostPath(pv.Spec.HostPath)
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q is neither hostPath nor local, which this node cannot mount", pv.Name)
}

type file struct {
	data []byte
	mode fs.FileMode
}

func (a *Agent) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt *bool, m fs.FileMode) (map[string]file, error) {
	cm, err := a.configMap(ctx, ns, name)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return map[string]file{}, nil
		}
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, opt, m, "configmap "+name)
}

func (a *Agent) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt *bool, m fs.FileMode) (map[string]file, error) {
	s, err := a.secret(ctx, ns, name)
	if err != nil {
		if optional(opt) && apierrors.IsNotFound(err) {
			return map[string]file{}, nil
		}
		return nil, err
	}
	return keyFiles(s.Data, items, opt, m, "secret "+name)
}

// keyFiles maps an object's keys to files: every key, or only the listed items at their
// paths.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, opt *bool, m fs.FileMode, what string) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{v, m}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		fm := m
		if it.Mode != nil {
			fm = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out[it.Path] = file{v, fm}
	}
	return out, nil
}

func (a *Agent) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, m fs.FileMode) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath, pod.Status.PodIP, a.cfg.NodeIP.String())
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downwardAPI %s: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			v, err = resourceField(c, it.ResourceFieldRef, a.capacity())
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI %s: %w", it.Path, err)
		}
		fm := m
		if it.Mode != nil {
			fm = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out[it.Path] = file{[]byte(v), fm}
	}
	return out, nil
}

func (a *Agent) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	out := map[string]file{}
	m := mode(p.DefaultMode)
	for _, src := range p.Sources {
		var files map[string]file
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = a.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, m)
		case src.Secret != nil:
			files, err = a.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, m)
		case src.DownwardAPI != nil:
			files, err = a.downwardFiles(pod, src.DownwardAPI.Items, m)
		case src.ServiceAccountToken != nil:
			var tok string
			if tok, err = a.tokens.token(ctx, pod, src.ServiceAccountToken); err == nil {
				// The volume's mode, as kube's (0644 by default): the container's user need
				// not be the file's owner, so a tighter default could lock it out.
				files = map[string]file{src.ServiceAccountToken.Path: {[]byte(tok), m}}
			}
		default:
			err = errors.New("unsupported projection")
		}
		if err != nil {
			return nil, err
		}
		for k, f := range files {
			out[k] = f
		}
	}
	return out, nil
}

// writeAtomic makes dir hold exactly files, swapping the whole set at once: the files go in a
// new timestamped directory, the ..data symlink is renamed onto it, and each top-level name is
// a symlink through ..data. Nothing is rewritten when the content is unchanged.
func writeAtomic(dir string, files map[string]file) error {
	for p := range files {
		clean := filepath.Clean(p)
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("path %q leaves the volume", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataLink := filepath.Join(dir, "..data")
	if cur, err := os.Readlink(dataLink); err == nil && sameFiles(filepath.Join(dir, cur), files) {
		return nil
	}
	ts := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	tsDir := filepath.Join(dir, ts)
	if err := os.MkdirAll(tsDir, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		_ = os.Chmod(full, f.mode)
	}
	old, _ := os.Readlink(dataLink)
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(ts, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dataLink); err != nil {
		return err
	}
	// Top-level names point through ..data; names no longer present go.
	top := map[string]bool{}
	for p := range files {
		top[strings.Split(filepath.Clean(p), string(filepath.Separator))[0]] = true
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") {
			continue
		}
		if !top[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	for n := range top {
		link := filepath.Join(dir, n)
		if t, err := os.Readlink(link); err == nil && t == filepath.Join("..data", n) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", n), link); err != nil {
			return err
		}
	}
	if old != "" && old != ts {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

func sameFiles(dir string, files map[string]file) bool {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(dir, p)
		f, ok := files[rel]
		if !ok {
			return errors.New("extra")
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != string(f.data) {
			return errors.New("differs")
		}
		if info, err := d.Info(); err != nil || info.Mode().Perm() != f.mode {
			return errors.New("mode")
		}
		return nil
	})
	return err == nil && n == len(files)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
