//go:build wasip1

package main

import (
	"fmt"
	"net/http/cgi"
	"os"
	"time"
)

// serve answers the one HTTP request tug hands the module, CGI style: the request in
// environment variables and on stdin, the response on stdout. A WASI module cannot usefully
// listen itself — polling its sockets busy-loops in wazero — so tug listens on the
// container's port and runs the module per request. The request log goes to stderr, since
// stdout is the response.
func serve() error {
	if err := cgi.Serve(handler(os.Stderr)); err != nil {
		return fmt.Errorf("serve cgi request: %w", err)
	}
	return nil
}

// sleep calls started, then sleeps until the runtime stops the module: WASI preview 1 has
// no signals to wait for.
func sleep(started func()) {
	started()
	for {
		time.Sleep(time.Hour)
	}
}
