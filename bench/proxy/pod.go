package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/proxy"
	"github.com/tugboat-io/tug/core/proxy/userspace"
)

// podBody is what the pod's server answers to every request.
var podBody = []byte("hello from the pod\n")

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// podNetwork makes the pod's network: a namespace with a veth pair, hostIP/24 on the host end,
// podIP, nftEP, usEP and noMasqEP (/24) on the pod's with a default route through the host, as a CNI bridge plugin would
// give a pod (without the bridge). It returns what undoes the sysctl change it may make; the
// links go with cleanupAll.
func podNetwork() (restore func(), err error) {
	restore = func() {}
	for _, args := range [][]string{
		{"netns", "add", podNS},
		{"link", "add", vethHost, "type", "veth", "peer", "name", vethPod, "netns", podNS},
		{"addr", "add", hostIP.String() + "/24", "dev", vethHost},
		{"link", "set", vethHost, "up"},
		{"-n", podNS, "link", "set", "lo", "up"},
		{"-n", podNS, "addr", "add", podIP.String() + "/24", "dev", vethPod},
		{"-n", podNS, "addr", "add", nftEP.String() + "/24", "dev", vethPod},
		{"-n", podNS, "addr", "add", usEP.String() + "/24", "dev", vethPod},
		{"-n", podNS, "addr", "add", noMasqEP.String() + "/24", "dev", vethPod},
		{"-n", podNS, "link", "set", vethPod, "up"},
		{"-n", podNS, "route", "add", "default", "via", hostIP.String()},
	} {
		if out, err := runCmd("ip", args...); err != nil {
			return restore, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
	// None of the measured paths forwards (the client is on the host, the pod answers the
	// host), but a node forwards for its pods, and the pod's default route should lead
	// somewhere: turn forwarding on if it is off, and back off at the end.
	const fwd = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(fwd); err == nil && strings.TrimSpace(string(b)) == "0" {
		if err := os.WriteFile(fwd, []byte("1\n"), 0o644); err != nil {
			return restore, fmt.Errorf("enable forwarding: %w", err)
		}
		progress("net.ipv4.ip_forward was 0: set to 1 for the run")
		restore = func() {
			if err := os.WriteFile(fwd, []byte("0\n"), 0o644); err != nil {
				progress("cleanup: restore net.ipv4.ip_forward=0: %v", err)
			}
		}
	}
	return restore, nil
}

// child is this program re-executed in another role. It says "ready" on stdout when it
// serves, and ends when its stdin closes: also when this process dies without cleaning up,
// since the kernel closes the pipe then.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	done  chan struct{}
}

func startChild(ctx context.Context, name string, env []string, argv ...string) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	// Its own process group: a Ctrl-C in the terminal reaches only this process, which then
	// closes the child's stdin, so the child cleans up instead of dying at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
		discard(stdout)
		_ = cmd.Wait()
		close(c.done)
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("not ready after 30 s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin and waits for it to end, killing it after 10 s.
func (c *child) stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		progress("cleanup: %s (pid %d) did not end within 10 s of its stdin closing; killing it", c.name, c.pid())
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// untilStdinCloses blocks until the parent closes our stdin (or dies).
func untilStdinCloses() { discard(os.Stdin) }

// serve is the pod's HTTP server (run inside the pod's namespace).
func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(podBody)
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println("ready")
	untilStdinCloses()
	return srv.Close()
}

// runUserspaceProxy is the userspace data plane serving the benchmark's Service, in a process
// of its own as it would run in a node agent; with profile set, it writes a CPU profile of
// its whole life there.
func runUserspaceProxy(profile string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	p, err := userspace.New(userspace.Config{ClusterIPs: userspace.ClusterIPsOn, Interface: usLoadIface, Logger: quietLog})
	if err != nil {
		return err
	}
	ctx := context.Background()
	defer func() {
		if err := p.Cleanup(ctx); err != nil {
			progress("userspace proxy: cleanup: %v", err)
		}
	}()
	st := proxy.State{Services: []proxy.ServicePort{benchService("userspace", usVIP, usEP)}}
	if err := p.Sync(ctx, st); err != nil {
		return err
	}
	fmt.Println("ready")
	untilStdinCloses()
	return nil
}

// benchService is the Service in front of the pod, on ClusterIP vip, to the pod's address ep.
func benchService(name string, vip, ep netip.Addr) proxy.ServicePort {
	return proxy.ServicePort{
		Service:    types.NamespacedName{Namespace: "bench", Name: name},
		Protocol:   corev1.ProtocolTCP,
		ClusterIPs: []netip.Addr{vip},
		Port:       vipPort,
		Endpoints:  []proxy.Endpoint{{IP: ep, Port: podPort}},
	}
}
