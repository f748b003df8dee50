package container

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Runtime runs the sandboxes and containers of pods. Methods are safe for concurrent use; the
// agent calls them for one pod from one worker at a time.
type Runtime interface {
	// Handler is the RuntimeClass handler this runtime serves ("runc", "wasm").
	Handler() string
	// EnsureImage makes image present on the node, pulling it when policy allows and a
	// registry is reachable. It returns ErrImageNotPresent or ErrImagePull (wrapped) on
	// failure, so the agent can report ErrImageNeverPull or ErrImagePull.
	EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy) (Image, error)
	// Images lists the images present, for the Node's status.images.
	Images(ctx context.Context) ([]Image, error)

	// RunSandbox makes the pod's shared environment (network namespace and address) or
	// returns the one that already exists for the pod UID.
	RunSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error)
	// RemoveSandbox tears down the pod's environment; its containers must be removed first.
	// Removing a sandbox that does not exist is not an error.
	RemoveSandbox(ctx context.Context, podUID types.UID) error
	// Sandboxes lists the sandboxes this runtime holds.
	Sandboxes(ctx context.Context) ([]Sandbox, error)

	// StartContainer creates and starts a container in sb and returns its ID. A container
	// that is created but fails to start is removed again before the error returns.
	StartContainer(ctx context.Context, sb Sandbox, cfg ContainerConfig) (string, error)
	// StopContainer asks the container to stop and kills it once grace has passed. Stopping
	// a container that is not running is not an error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer removes a stopped container. Removing one that does not exist is not
	// an error.
	RemoveContainer(ctx context.Context, id string) error
	// Containers lists the containers this runtime holds for the pod with UID pod, running or
	// not; with pod "", every container it holds for the agent.
	Containers(ctx context.Context, pod types.UID) ([]Container, error)
}

// Execer is implemented by runtimes that can run a command inside a running container (exec
// probes, preStop exec hooks, kubectl exec).
type Execer interface {
	// Exec runs cmd in the container and returns its exit code. Output goes to the writers
	// in Streams.
	Exec(ctx context.Context, id string, cmd []string, s Streams) (int, error)
}

// NameFiles is implemented by runtimes whose containers look names up through
// /etc/resolv.conf and /etc/hosts (Linux containers): for them the agent writes the pod's
// files (its DNS policy, hostname and host aliases) and passes them in ContainerConfig.
// Other runtimes get neither; wasm modules have no sockets to resolve names for.
type NameFiles interface {
	// MountsNameFiles says the runtime mounts ContainerConfig.ResolvConf and Hosts.
	MountsNameFiles() bool
}

// Errors a runtime returns so the agent can tell what went wrong. They are wrapped with the
// details.
var (
	// ErrImageNotPresent: the image is not on the node and the pull policy forbids pulling.
	ErrImageNotPresent = errors.New("image not present")
	// ErrImagePull: the image could not be pulled (no registry reachable, no such image).
	ErrImagePull = errors.New("image pull failed")
	// ErrConfig: the container's configuration cannot be run by this runtime.
	ErrConfig = errors.New("invalid container configuration")
	// ErrNotFound: no container or sandbox has that ID.
	ErrNotFound = errors.New("not found")
)

// Image is an image present on the node.
type Image struct {
	// Ref is the image's content address (its manifest or config digest), reported as the
	// container's imageID.
	Ref string
	// Names are the references the image is known by (e.g. "docker.io/library/nginx:1.27").
	Names []string
	// Size is its unpacked size in bytes, 0 when unknown.
	Size int64
	// Entrypoint, Cmd, Env and WorkingDir are the image's defaults that a pod's command and
	// args override.
	Entrypoint, Cmd, Env []string
	WorkingDir           string
}

// SandboxConfig describes the pod a sandbox is made for.
type SandboxConfig struct {
	PodUID                types.UID
	PodName, PodNamespace string
	// Hostname is the pod's hostname (its FQDN with setHostnameAsFQDN); "" for a
	// hostNetwork pod, which has the node's.
	Hostname    string
	HostNetwork bool
	// PortMappings are the hostPorts of the pod's containers.
	PortMappings []PortMapping
	// IP is the address the pod had before (from its status), which a runtime that chooses
	// addresses itself reuses when it can, so a pod keeps its IP across an agent restart.
	IP netip.Addr
	// LogDir is the directory the pod's container logs go in.
	LogDir string
}

// PortMapping maps a port on the node to a pod's container port.
type PortMapping struct {
	HostIP        string
	HostPort      int32
	ContainerPort int32
	Protocol      corev1.Protocol
}

// Sandbox is a pod's shared environment.
type Sandbox struct {
	PodUID                types.UID
	PodName, PodNamespace string
	// ID names the sandbox in the runtime.
	ID string
	// IP is the pod's address; for a hostNetwork pod, the node's.
	IP    netip.Addr
	Ready bool
	// Runtime is the handler of the runtime holding it.
	Runtime string
}

// Mount makes a host directory or file visible inside a container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// ContainerConfig is everything a runtime needs to start one container, already resolved by
// the agent: environment values looked up, volumes prepared on the host, the log file chosen.
type ContainerConfig struct {
	// Name is the container's name in the pod spec; Attempt counts its restarts.
	Name    string
	Attempt int
	// Image is the image the container runs, as EnsureImage returned it.
	Image Image
	// ImageName is the image as the pod spec names it.
	ImageName string
	// Command and Args are the pod spec's; a runtime merges them with the image's defaults
	// as Kubernetes does (see ResolveCommand).
	Command, Args []string
	// Env is the container's environment, in order, after the image's.
	Env        []EnvVar
	WorkingDir string
	Mounts     []Mount
	Ports      []corev1.ContainerPort
	// Resources are the container's requests and limits.
	Resources corev1.ResourceRequirements
	// LogPath is the file the container's stdout and stderr go to (CRI log format).
	LogPath string
	// SpecHash identifies the pod spec's container this was made from, so a changed spec
	// restarts it.
	SpecHash string
	// Annotations are the pod's, for runtimes that take hints from them.
	Annotations map[string]string
	// ResolvConf and Hosts are files the agent wrote for the container's /etc/resolv.conf
	// and /etc/hosts, given only to a runtime that implements NameFiles. The runtime mounts
	// each read-only unless one of Mounts is at that path already; "" leaves it to the
	// runtime.
	ResolvConf, Hosts string
}

// EnvVar is one resolved environment variable.
type EnvVar struct{ Name, Value string }

// State is where a container is in its life.
type State int

// The states of a container.
const (
	StateUnknown State = iota
	StateCreated
	StateRunning
	StateExited
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	}
	return "unknown"
}

// Container is a container as a runtime observes it.
type Container struct {
	// ID is the runtime's ID; Runtime its handler. Together, "<runtime>://<id>" is the
	// containerID Kubernetes shows.
	ID, Runtime           string
	PodUID                types.UID
	PodName, PodNamespace string
	Name                  string
	Attempt               int
	ImageName, ImageRef   string
	SpecHash              string
	LogPath               string
	State                 State
	CreatedAt, StartedAt  time.Time
	FinishedAt            time.Time
	ExitCode              int
	// Reason and Message say why it exited ("Completed", "Error", "OOMKilled").
	Reason, Message string
}

// Streams are the standard streams of a command run in a container.
type Streams struct {
	Stdin          io.Reader // nil: none
	Stdout, Stderr io.Writer // nil: discarded
}

// ResolveCommand merges a container's command and args with its image's entrypoint and cmd, as
// Kubernetes documents: a pod's command replaces the entrypoint and drops the image's cmd; its
// args replace the cmd.
func ResolveCommand(img Image, command, args []string) []string {
	entry, cmd := img.Entrypoint, img.Cmd
	if len(command) > 0 {
		entry, cmd = command, nil
	}
	if len(args) > 0 {
		cmd = args
	}
	out := make([]string, 0, len(entry)+len(cmd))
	return append(append(out, entry...), cmd...)
}

// Labels a runtime stores on what it creates so that an agent that restarts can find the pod
// and container each belongs to.
const (
	LabelPodUID        = "tug.dev/pod-uid"
	LabelPodName       = "tug.dev/pod-name"
	LabelPodNamespace  = "tug.dev/pod-namespace"
	LabelContainerName = "tug.dev/container-name"
	LabelAttempt       = "tug.dev/attempt"
	LabelSpecHash      = "tug.dev/spec-hash"
	LabelLogPath       = "tug.dev/log-path"
	LabelImageName     = "tug.dev/image-name"
)
