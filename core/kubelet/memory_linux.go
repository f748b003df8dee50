package kubelet

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountMemory makes dir a tmpfs, unless it is on one already: a restarted agent finds the
// one it mounted before, with the volumes of the pods it adopts.
func mountMemory(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if onTmpfs(dir) {
		return nil
	}
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700")
}

func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// UnmountMemory unmounts the tmpfs an agent with RootDir rootDir keeps its memory-backed
// volumes on, if one is mounted there. The agent never does it itself, since containers that
// outlive it keep using those volumes; a node that stops for good, or a test, calls this
// before removing the directory.
func UnmountMemory(rootDir string) error {
	dir := filepath.Join(rootDir, memoryDir)
	if !onTmpfs(dir) {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return err // EINVAL: not a mount point (the whole root is on a tmpfs)
	}
	return nil
}
