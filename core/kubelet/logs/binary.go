package logs

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
)

// BinaryURI returns the binary:// log URI under which containerd's shim runs
//
//	<logger> <command> <logPath>
//
// as the log driver of a container, with the container's output on descriptors 3 and 4
// (RunBinaryLogger describes the protocol), and the environment holding only CONTAINER_ID
// and CONTAINER_NAMESPACE. The node agent gives the URI to containerd as the task's IO,
// with the containerd client's cio.LogURI(uri) — or builds the same URI there with
// cio.BinaryIO(logger, map[string]string{command: logPath}) — where command is the (hidden)
// subcommand of logger that calls RunBinaryLogger(ctx, logPath).
//
// The shim makes the logger's arguments from the URI's query, each key followed by its first
// value, in Go map order: with more than one pair the order of the arguments would change
// from run to run, so the URI carries exactly one, command=logPath. Both paths must be
// absolute: the shim runs the logger without PATH, from its own working directory.
func BinaryURI(logger, command, logPath string) (*url.URL, error) {
	if command == "" {
		return nil, errors.New("build log uri: empty logger command")
	}
	for _, p := range []string{logger, logPath} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("build log uri: %q is not an absolute path", p)
		}
	}
	// As containerd's cio.LogURIGenerator builds it, so either way gives the same URI.
	u := &url.URL{Scheme: "binary", Path: filepath.ToSlash(filepath.Clean(logger))}
	u.RawQuery = url.Values{command: {logPath}}.Encode()
	return u, nil
}
