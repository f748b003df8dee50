package podnet

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// The network namespaces of pods are named after the pod (a file per namespace, bind-mounted
// from the thread that made it), so that a namespace made by an agent that died before it
// recorded it is found again by name, not leaked.

// makeNetNS makes a new network namespace, with its loopback up, and pins it at path.
func makeNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The thread is never unlocked, so it ends with the goroutine instead of going back
		// to the scheduler with another namespace.
		runtime.LockOSThread()
		if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
			err = fmt.Errorf("unshare: %w", err)
			return
		}
		if err = loopbackUp(); err != nil {
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err = unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			err = fmt.Errorf("pin network namespace at %s: %w", path, err)
		}
	}()
	wg.Wait()
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// removeNetNS unpins a namespace (it goes once nothing runs in it) and removes its file. It is
// not an error if it is already gone.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// netNSAlive says whether path is a pinned network namespace.
func netNSAlive(path string) bool {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}
