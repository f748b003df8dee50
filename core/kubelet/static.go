package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Static pods come from manifest files on the node rather than from the API. The agent runs
// them itself and shows each in the API as a mirror pod (annotation kubernetes.io/config.mirror),
// whose status it keeps and whose deletion it undoes, as kubelet does.
const (
	annotationConfigSource = "kubernetes.io/config.source"
	annotationConfigHash   = "kubernetes.io/config.hash"
	annotationConfigMirror = corev1.MirrorPodAnnotationKey
)

// staticPods watches a manifest directory.
type staticPods struct {
	a   *Agent
	dir string

	mu   sync.Mutex
	pods map[types.UID]*corev1.Pod
}

func newStaticPods(a *Agent, dir string) *staticPods {
	return &staticPods{a: a, dir: dir, pods: map[types.UID]*corev1.Pod{}}
}

func (s *staticPods) has(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pods[uid]
	return ok
}

// run reads the directory every few seconds (as kubelet's file source does every 20 s) and
// starts, changes or stops static pods to match.
func (s *staticPods) run(ctx context.Context) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		s.scan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *staticPods) scan(ctx context.Context) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.a.log.Warn("reading static pod manifests", "dir", s.dir, "err", err)
		return
	}
	seen := map[types.UID]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		pod, err := s.load(filepath.Join(s.dir, name))
		if err != nil {
			s.a.log.Warn("static pod manifest not loaded", "file", name, "err", err)
			continue
		}
		seen[pod.UID] = true
		s.mu.Lock()
		_, known := s.pods[pod.UID]
		s.pods[pod.UID] = pod
		s.mu.Unlock()
		if !known {
			s.a.log.Info("static pod found", "pod", pod.Namespace+"/"+pod.Name, "file", name)
		}
		s.a.staticChanged(ctx, pod)
		s.ensureMirror(ctx, pod)
	}
	s.mu.Lock()
	var gone []*corev1.Pod
	for uid, p := range s.pods {
		if !seen[uid] {
			gone = append(gone, p)
			delete(s.pods, uid)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.a.log.Info("static pod removed", "pod", p.Namespace+"/"+p.Name)
		s.a.staticGone(p)
		zero := int64(0)
		_ = s.a.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
}

// load reads a manifest into the pod the agent runs: named <name>-<node>, in namespace
// default unless it says otherwise, its UID a hash of the file's content and the node, so a
// changed manifest is a new pod.
func (s *staticPods) load(path string) (*corev1.Pod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		return nil, err
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return nil, fmt.Errorf("kind %q: a static manifest holds one Pod", pod.Kind)
	}
	if pod.Name == "" {
		return nil, fmt.Errorf("metadata.name is required")
	}
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	h := sha256.Sum256(append(append([]byte{}, b...), s.a.cfg.NodeName...))
	hash := hex.EncodeToString(h[:16])
	pod.Name = pod.Name + "-" + s.a.cfg.NodeName
	pod.UID = types.UID(hash)
	pod.Spec.NodeName = s.a.cfg.NodeName
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].ImagePullPolicy == "" {
			pod.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationConfigSource] = "file"
	pod.Annotations[annotationConfigHash] = hash
	return &pod, nil
}

// ensureMirror creates the pod's mirror in the API when it is missing (or belongs to an older
// manifest).
func (s *staticPods) ensureMirror(ctx context.Context, pod *corev1.Pod) {
	pods := s.a.client.CoreV1().Pods(pod.Namespace)
	cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err == nil {
		if cur.Annotations[annotationConfigMirror] == string(pod.UID) && cur.DeletionTimestamp == nil {
			return
		}
		zero := int64(0)
		_ = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	} else if !apierrors.IsNotFound(err) {
		return
	}
	m := pod.DeepCopy()
	m.UID, m.ResourceVersion = "", ""
	m.Annotations[annotationConfigMirror] = string(pod.UID)
	m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: s.a.cfg.NodeName, UID: s.a.nodeUID(ctx)}}
	if _, err := pods.Create(ctx, m, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
		s.a.log.Warn("mirror pod not created", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// setStatus writes a static pod's status on its mirror pod.
func (s *staticPods) setStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) {
	pods := s.a.client.CoreV1().Pods(pod.Namespace)
	for attempt := 0; attempt < 3; attempt++ {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || cur.Annotations[annotationConfigMirror] != string(pod.UID) {
			return
		}
		cur.Status = st
		if _, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return
		}
	}
}

func (a *Agent) nodeUID(ctx context.Context) types.UID {
	n, err := a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return n.UID
}

// staticChanged hands a static pod to its worker.
func (a *Agent) staticChanged(ctx context.Context, pod *corev1.Pod) { a.hand(ctx, pod, true) }

func (a *Agent) staticGone(pod *corev1.Pod) {
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.gone()
	}
}

// isMirror says a pod in the API is the mirror of a static pod, which the agent runs from
// its manifest, not from the API.
func isMirror(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[annotationConfigMirror]
	return ok
}
