package version

import (
	"fmt"
	"runtime"
)

// Set at link time with -ldflags "-X github.com/tugboat-io/tug/internal/version.NAME=VALUE".
var (
	// Version is tug's own release, e.g. v0.1.0; "dev" for a plain go build.
	Version = "dev"
	// GitCommit is the commit the binary was built from; empty when unknown.
	GitCommit = ""
	// BuildDate is when the binary was built, RFC 3339 in UTC; empty when unknown.
	BuildDate = ""
)

// The Kubernetes API version tug serves. kubectl compares its own minor version with
// KubeMinor to decide whether to warn about version skew, so these name the API level tug
// implements, not a release of Kubernetes code.
const (
	KubeMajor      = "1"
	KubeMinor      = "33"
	KubeGitVersion = "v1.33.0"
)

// Info returns the fields of the API server's /version response (k8s.io/apimachinery
// version.Info): the Kubernetes major and minor, the gitVersion, and the commit tug was built
// from.
func Info() (major, minor, gitVersion, gitCommit string) {
	return KubeMajor, KubeMinor, KubeGitVersion, GitCommit
}

// String is the one-line description `tug version` prints.
func String() string {
	commit := GitCommit
	if commit == "" {
		commit = "unknown"
	}
	s := fmt.Sprintf("tug %s (commit %s", Version, commit)
	if BuildDate != "" {
		s += ", built " + BuildDate
	}
	return s + fmt.Sprintf(", %s, %s/%s) serving Kubernetes API %s", runtime.Version(), runtime.GOOS, runtime.GOARCH, KubeGitVersion)
}

// KubeletVersion is what a tug node agent reports as its Node's kubeletVersion: the API
// level it implements, marked as tug's, with tug's own release.
func KubeletVersion() string { return KubeGitVersion + "-tug+" + Version }
