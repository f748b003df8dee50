// Package logs keeps a container's output the way the kubelet does: one file per container
// attempt in the CRI log format, written while the container runs and read back for
// `kubectl logs`.
//
// # Format
//
// Every line of a file is one chunk of one stream:
//
//	2024-05-01T10:00:00.123456789Z stdout F hello world
//	2024-05-01T10:00:00.123500000Z stderr P first 16 KiB of a long line…
//	2024-05-01T10:00:00.123600000Z stderr F …and the rest of it
//
// that is an RFC 3339 timestamp with nanoseconds, the stream (stdout or stderr), a tag and
// the content, separated by single spaces and ended by a newline. Tag F means the content
// ends a line of the container's output; P means the line goes on in a later chunk, either
// because it was longer than 16 KiB (the kubelet's default maximum line size, which bounds
// what a reader must hold in memory) or because the stream ended without a final newline.
// A reader joins a P chunk with the chunk after it and adds no newline of its own, so the
// container's bytes come back exactly (except that "\r\n" is stored as "\n", as containerd
// does). This is the format containerd's CRI plugin writes for the kubelet, so files written
// here and files written by a CRI runtime can be read by either.
//
// # Layout
//
// The node agent keeps one file per attempt of a container:
//
//	<root>/pods/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log
//
// A restarted container gets a new file rather than appending to the old one, because
// `kubectl logs --previous` asks for exactly the attempt before the current one: with a file
// per attempt that is the file numbered one lower, and the current attempt's output starts
// empty. The uid in the directory name keeps a pod deleted and created again under the same
// name from reading its predecessor's logs. Files are not rotated by this package.
//
// # Pieces
//
//   - Open and File write a file: File.Stream gives a writer per stream, which splits the
//     bytes into CRI lines.
//   - RunBinaryLogger is a containerd binary log driver: containerd's shim starts the logger
//     with the container's stdout and stderr as pipes, and the logger copies them into a
//     File. BinaryURI builds the binary:// URI the agent hands to containerd to set this up.
//   - Read serves a `kubectl logs` request from a file: tail, since, timestamps, limit bytes,
//     and follow while the container runs.
package logs
