package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// Secret and memory emptyDir volumes land on the agent's tmpfs, disk emptyDirs do not; a
// restarted agent finds the tmpfs it mounted instead of mounting another over its pods'
// volumes; UnmountMemory takes it away.
func TestMemoryBackedVolumes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() {
		if err := UnmountMemory(root); err != nil {
			t.Error(err)
		}
	})
	client := fake.NewSimpleClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"},
		Data: map[string][]byte{"k": []byte("v")}})
	cfg := Config{NodeName: "n1", Client: client, Runtimes: []container.Runtime{nameFilesRuntime{}}, RootDir: root, MemoryBackedVolumes: true}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.memoryRoot == "" {
		t.Fatal("no tmpfs mounted as root")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "uid-1"}}
	vols := []struct {
		v      corev1.Volume
		memory bool
	}{
		{corev1.Volume{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}, true},
		{corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, false},
		{corev1.Volume{Name: "ram", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}, true},
	}
	dirs := map[string]string{}
	for _, tt := range vols {
		dir, _, err := a.setUpVolume(context.Background(), pod, &tt.v)
		if err != nil {
			t.Fatalf("%s: %v", tt.v.Name, err)
		}
		if got := onTmpfs(dir); got != tt.memory {
			t.Errorf("%s at %s: on tmpfs %v, want %v", tt.v.Name, dir, got, tt.memory)
		}
		dirs[tt.v.Name] = dir
	}
	if b, err := os.ReadFile(filepath.Join(dirs["secret"], "k")); err != nil || string(b) != "v" {
		t.Fatalf("secret file: %q, %v", b, err)
	}

	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	if n := mountsAt(t, filepath.Join(root, memoryDir)); n != 1 {
		t.Errorf("%d mounts at the memory dir after a restart, want 1", n)
	}
	if b, err := os.ReadFile(filepath.Join(dirs["secret"], "k")); err != nil || string(b) != "v" {
		t.Errorf("after a restart the secret file reads %q, %v", b, err)
	}

	if err := UnmountMemory(root); err != nil {
		t.Fatal(err)
	}
	if n := mountsAt(t, filepath.Join(root, memoryDir)); n != 0 {
		t.Errorf("%d mounts left after UnmountMemory", n)
	}
}

// mountsAt counts the mounts at dir in this process's mount table.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}
