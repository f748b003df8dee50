package kubelet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/logs"
)

// The kubelet API, as far as the API server needs it: container logs (kubectl logs), exec
// (kubectl exec) and the pods the agent runs. Paths are kubelet's, so tools that know kubelet find their way.
//
//	GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&sinceSeconds&sinceTime&timestamps&limitBytes
//	GET /exec/{namespace}/{pod}/{container}?command=…&stdin&stdout&stderr (WebSocket; exec.go)
//	GET /pods
//	GET /healthz

func (a *Agent) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.serveHealthz)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.serveContainerLogs)
	mux.HandleFunc("GET /pods", a.servePods)
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", a.serveExec)
	return mux
}

func (a *Agent) healthzHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.serveHealthz)
	return mux
}

func (a *Agent) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-a.ready:
		fmt.Fprintln(w, "ok")
	default:
		http.Error(w, "node agent is starting", http.StatusServiceUnavailable)
	}
}

func (a *Agent) servePods(w http.ResponseWriter, _ *http.Request) {
	list := corev1.PodList{}
	list.Kind, list.APIVersion = "PodList", "v1"
	if a.pods != nil {
		for _, o := range a.pods.List() {
			list.Items = append(list.Items, *o.(*corev1.Pod))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

func (a *Agent) findPod(ns, name string) *corev1.Pod {
	if a.pods != nil {
		if o, ok, _ := a.pods.GetByKey(ns + "/" + name); ok {
			return o.(*corev1.Pod)
		}
	}
	if a.staticSources != nil {
		a.staticSources.mu.Lock()
		defer a.staticSources.mu.Unlock()
		for _, p := range a.staticSources.pods {
			if p.Namespace == ns && p.Name == name {
				return p
			}
		}
	}
	return nil
}

// podContainer finds the pod and container a request's path names, or answers 404 for a pod
// not on this node and 400 for a container the pod does not have, as kubelet does.
func (a *Agent) podContainer(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	ns, name, cname := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	pod := a.findPod(ns, name)
	if pod == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s is not on node %s", ns, name, a.cfg.NodeName), http.StatusNotFound)
		return nil, false
	}
	if findContainer(pod, cname) == nil {
		http.Error(w, fmt.Sprintf("container %s is not valid for pod %s", cname, name), http.StatusBadRequest)
		return nil, false
	}
	return pod, true
}

func (a *Agent) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	pod, ok := a.podContainer(w, r)
	if !ok {
		return
	}
	ns, name, cname := pod.Namespace, pod.Name, r.PathValue("container")
	q := r.URL.Query()
	opts := logs.ReadOptions{TailLines: -1, Follow: boolParam(q.Get("follow")), Timestamps: boolParam(q.Get("timestamps"))}
	if s := q.Get("tailLines"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "tailLines must be a number ≥ 0", http.StatusBadRequest)
			return
		}
		opts.TailLines = n
	}
	if s := q.Get("limitBytes"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			http.Error(w, "limitBytes must be a number ≥ 1", http.StatusBadRequest)
			return
		}
		opts.LimitBytes = n
	}
	if s := q.Get("sinceSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			http.Error(w, "sinceSeconds must be a number ≥ 1", http.StatusBadRequest)
			return
		}
		opts.SinceTime = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if s := q.Get("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			http.Error(w, "sinceTime must be RFC 3339", http.StatusBadRequest)
			return
		}
		opts.SinceTime = t
	}
	files := attemptLogs(filepath.Join(a.podLogDir(pod), cname))
	idx := len(files) - 1
	if boolParam(q.Get("previous")) {
		idx--
		opts.Follow = false
	}
	if idx < 0 {
		msg := fmt.Sprintf("container %q in pod %q is waiting to start", cname, name)
		if boolParam(q.Get("previous")) {
			msg = fmt.Sprintf("previous terminated container %q in pod %q not found", cname, name)
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	path := files[idx].path
	attempt := files[idx].attempt
	opts.Finished = func() bool { return !a.containerRunning(r, pod, cname, attempt) }
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if f, ok := w.(http.Flusher); ok && opts.Follow {
		// Headers go out at once so a client following a quiet container is not left
		// waiting; logs.Read flushes w after each batch of lines.
		w.WriteHeader(http.StatusOK)
		f.Flush()
	}
	if err := logs.Read(r.Context(), path, opts, w); err != nil && r.Context().Err() == nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, fmt.Sprintf("container %q in pod %q has no log", cname, name), http.StatusNotFound)
			return
		}
		a.log.Debug("reading container log", "pod", ns+"/"+name, "container", cname, "err", err)
	}
}

// containerRunning says whether the given attempt of a container is still running, which is
// what ends a follow.
func (a *Agent) containerRunning(r *http.Request, pod *corev1.Pod, name string, attempt int) bool {
	for _, rt := range a.cfg.Runtimes {
		cs, err := rt.Containers(r.Context(), pod.UID)
		if err != nil {
			return true
		}
		for _, c := range cs {
			if c.PodUID == pod.UID && c.Name == name && c.Attempt == attempt {
				return c.State == container.StateRunning || c.State == container.StateCreated
			}
		}
	}
	return false
}

type attemptLog struct {
	attempt int
	path    string
}

// attemptLogs lists a container's log files, oldest attempt first.
func attemptLogs(dir string) []attemptLog {
	entries, _ := os.ReadDir(dir)
	var out []attemptLog
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil {
			out = append(out, attemptLog{i, filepath.Join(dir, e.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].attempt < out[j].attempt })
	return out
}

func boolParam(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
