//go:build wasip1

package main

import (
	"fmt"
	"os"
)

// fetch needs sockets, which a WASI module does not have.
func fetch([]string) int {
	fmt.Fprintln(os.Stderr, "hello-http: fetch is not available as a WASI module")
	return 2
}
