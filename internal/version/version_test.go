package version

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
)

// TestKubeVersionConsistent keeps the three Kubernetes version constants in agreement: kubectl
// parses gitVersion and compares it with major/minor.
func TestKubeVersionConsistent(t *testing.T) {
	major, minor, gitVersion, _ := Info()
	v, err := version.ParseSemantic(gitVersion)
	if err != nil {
		t.Fatalf("gitVersion %q: %v", gitVersion, err)
	}
	if fmt.Sprint(v.Major()) != major || fmt.Sprint(v.Minor()) != minor {
		t.Errorf("gitVersion %q does not match major %q minor %q", gitVersion, major, minor)
	}
}

func TestString(t *testing.T) {
	old := GitCommit
	defer func() { GitCommit = old }()
	tests := []struct {
		commit string
		want   string
	}{
		{"", "commit unknown"},
		{"abc123", "commit abc123"},
	}
	for _, tt := range tests {
		GitCommit = tt.commit
		if s := String(); !strings.Contains(s, tt.want) || !strings.Contains(s, KubeGitVersion) {
			t.Errorf("String() with commit %q = %q, want it to contain %q and %q", tt.commit, s, tt.want, KubeGitVersion)
		}
	}
}
