// Command hello-http is the small workload tug's node-agent tests run, built both as a static
// Linux binary (for containerd) and as a WASI module (for the in-process wasm runtime).
//
// Its first argument picks what it does (serve when there is none):
//
//	serve       HTTP server: / greets, /healthz and /ready answer probes, /env and /file
//	            show the environment and files the container sees
//	exit N      prints a line to stdout and one to stderr, then exits with code N
//	sleep       prints a line, then sleeps until SIGTERM (as a WASI module, forever)
//	env         prints its environment, sorted, then its arguments, and exits
//	cat FILE…   prints the files and exits
//	fetch N T…  asks each target (http:// URL or udp://HOST:PORT) N times, a line per answer
//	            (natively only); with OUT_FILE set, also into that file
//
// Natively, serve also echoes UDP on :$UDP_PORT when that is set.
//
// Natively, serve listens on :$PORT (8080 by default). A WASI module cannot usefully listen
// by itself, so tug serves a wasm container's TCP port and runs the module once per request,
// CGI style (RFC 3875): there serve answers the one request it is given through
// net/http/cgi. serve_other.go and serve_wasip1.go hold the two ways.
package main
