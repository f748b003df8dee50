// Package version holds tug's build identity and the Kubernetes version tug's API claims to
// serve. Version and GitCommit are set at link time (see the Makefile):
//
//	go build -ldflags "-X github.com/tugboat-io/tug/internal/version.Version=v0.1.0 \
//	    -X github.com/tugboat-io/tug/internal/version.GitCommit=$(git rev-parse HEAD)" ./cmd/tug
package version
