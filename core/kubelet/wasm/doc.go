// Package wasm is the node agent's in-process runtime for WebAssembly workloads: WASI
// (preview 1) modules run on wazero inside the agent, the way runwasi or Krustlet run them, so
// that a node runs workloads on a machine with nothing installed.
//
// A container is a module from an image whose platform is wasip1/wasm (imported with
// `tug image import`), run in one of two ways:
//
//   - Command: the module's _start runs once, like a process, with the container's command,
//     args and environment; its stdout and stderr become the container's log; its exit code
//     is the container's. restartPolicy applies as for any container.
//   - CGI server: a container that declares TCP containerPorts is served by the agent, which
//     listens on the pod's address and each port and runs the module once per HTTP request in
//     the CGI style (RFC 3875, as WAGI does): the request arrives in environment variables
//     and on stdin, the response leaves on stdout. WASI preview 1 has no sockets a module can
//     wait on without spinning, so serving is done by the host; a Go module answers with
//     net/http/cgi.Serve. The annotation wasm.tug.dev/mode (command | cgi) overrides the
//     choice.
//
// The image's files are the module's read-only root directory; volumes are mounted at their
// paths. A container's memory limit caps its linear memory. WASI preview 1 has no signals, so
// a stop ends a module at once; the grace period only lets in-flight CGI requests finish.
//
// Each pod gets its own address from a loopback range (127.100.0.0/16 by default), reachable
// from the node: several pods serve the same port side by side. Modules run inside the agent,
// so an agent that restarts starts its wasm containers again (they count as restarts).
package wasm
