package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	cmd, args := "serve", []string(nil)
	if len(os.Args) > 1 {
		cmd, args = os.Args[1], os.Args[2:]
	}
	os.Exit(run(cmd, args))
}

// run does what cmd asks and returns the exit code.
func run(cmd string, args []string) int {
	switch cmd {
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintf(os.Stderr, "hello-http: %v\n", err)
			return 1
		}
		return 0
	case "exit":
		code := 0
		if len(args) > 0 {
			n, err := strconv.Atoi(args[0])
			if err != nil {
				fmt.Fprintf(os.Stderr, "hello-http: exit code %q: %v\n", args[0], err)
				return 2
			}
			code = n
		}
		fmt.Printf("exiting with code %d\n", code)
		fmt.Fprintf(os.Stderr, "exit %d requested\n", code)
		return code
	case "sleep":
		sleep(func() { fmt.Println("sleeping") })
		fmt.Println("stopping")
		return 0
	case "env":
		for _, kv := range sortedEnv() {
			fmt.Println(kv)
		}
		for i, a := range os.Args {
			fmt.Printf("arg[%d]=%s\n", i, a)
		}
		return 0
	case "cat":
		code := 0
		for _, name := range args {
			b, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintf(os.Stderr, "hello-http: %v\n", err)
				code = 1
				continue
			}
			os.Stdout.Write(b)
		}
		return code
	case "fetch":
		return fetch(args)
	default:
		fmt.Fprintf(os.Stderr, "hello-http: unknown command %q; want serve, exit N, sleep, env, cat FILE... or fetch N TARGET...\n", cmd)
		return 2
	}
}

func sortedEnv() []string {
	env := os.Environ()
	slices.Sort(env)
	return env
}

// handler serves the endpoints of the serve command. It logs a line per request to logw:
// stdout natively, stderr under CGI, where stdout carries the response.
func handler(logw io.Writer) http.Handler {
	logger := log.New(logw, "", 0)
	text := func(w http.ResponseWriter, code int, body string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
	// flagFile reports whether the file named by env var exists; tests create and delete
	// it to flip a probe.
	flagFile := func(env string) bool {
		name := os.Getenv(env)
		if name == "" {
			return false
		}
		_, err := os.Stat(name)
		return err == nil
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			text(w, http.StatusNotFound, "not found\n")
			return
		}
		greeting := "hello from " + hostname()
		if pod := os.Getenv("POD_NAME"); pod != "" {
			greeting += " (" + pod + ")"
		}
		text(w, http.StatusOK, greeting+"\n")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if flagFile("UNHEALTHY_FILE") {
			text(w, http.StatusInternalServerError, "unhealthy\n")
			return
		}
		text(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if flagFile("NOTREADY_FILE") {
			text(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		text(w, http.StatusOK, "ready\n")
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, strings.Join(sortedEnv(), "\n")+"\n")
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("path")
		if name == "" {
			text(w, http.StatusBadRequest, "want ?path=FILE\n")
			return
		}
		b, err := os.ReadFile(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			text(w, http.StatusNotFound, err.Error()+"\n")
		case err != nil:
			text(w, http.StatusInternalServerError, err.Error()+"\n")
		default:
			text(w, http.StatusOK, string(b))
		}
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		logger.Printf("%s %s %d", r.Method, r.URL.RequestURI(), rec.code)
	})
}

// hostname is the HOSTNAME the runtime gives the container, as in Kubernetes the pod's
// name; the machine's name when it gives none.
func hostname() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
