package apiserver

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// servePprof answers /debug/pprof/NAME as net/http/pprof does on the default mux (which tug
// never serves, so its registrations there are unreachable): here behind authentication and
// authorization like every other path.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/"); name {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "":
		pprof.Index(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
