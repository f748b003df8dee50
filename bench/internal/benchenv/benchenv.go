// Package benchenv holds what the benchmark programs under bench/ share about where they run:
// the module they build from, the free ports they start servers on, and the machine and
// commit lines every result in docs/BENCHMARKS.md carries.
package benchenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ModuleRoot is the directory of tug's go.mod, found from the working directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside tug's module")
	}
	return filepath.Dir(gomod), nil
}

// GoBuild runs go build with args in dir, for wasip1 when target is "wasm".
func GoBuild(dir, target string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if target == "wasm" {
		cmd.Env = append(cmd.Env, "GOOS=wasip1", "GOARCH=wasm")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", strings.Join(args, " "), dir, err, out)
	}
	return nil
}

// FreeAddr is a loopback HOST:PORT nothing listens on now.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Commit names the checkout measured: its commit, and whether Go files differ from it.
func Commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "not a git checkout"
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", "*.go", "*.mod", "*.sum").Output()
	if err == nil && len(st) > 0 {
		c += " with uncommitted changes to Go files"
	}
	return "commit " + c
}

// Machine describes the machine — CPU, cores, memory, kernel, Go — followed by extra (the
// versions of what the benchmark also depends on), when given.
func Machine(extra string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				k, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				mem = fmt.Sprintf("%.1f GiB", float64(k)/(1024*1024))
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	s := fmt.Sprintf("%s, %d cores, %s, Linux %s, %s %s/%s", cpu, runtime.NumCPU(), mem,
		strings.TrimSpace(string(kernel)), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if extra != "" {
		s += ", " + extra
	}
	return s
}

// WaitReady waits until `tug up` has written kubeconfig and answers /readyz through it, so a
// benchmark talks to the server as kubectl would: over TLS with the admin's certificate when
// the server is secure (the default), plain HTTP when it runs with --secure=false.
func WaitReady(ctx context.Context, kubeconfig string, timeout time.Duration) (*rest.Config, error) {
	deadline := time.Now().Add(timeout)
	for {
		if rc, err := readyThrough(ctx, kubeconfig); err == nil {
			return rc, nil
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out after %s waiting for tug up ready: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func readyThrough(ctx context.Context, kubeconfig string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(rc.Host, "/")+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/readyz: %s", resp.Status)
	}
	return rc, nil
}
