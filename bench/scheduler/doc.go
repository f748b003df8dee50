// Package scheduler benchmarks tug's default scheduling chain: the same plugins, in one wasm
// module on the runtime and compiled natively into this test binary, driven by the same
// framework over the same cache, in one run:
//
//	cd bench/scheduler && go test -run '^$' -bench . -benchtime 10x
//
// It is its own module because it needs both the main module (the framework and the runtime)
// and the plugin modules (the SDK and the plugins, natively). Results go in docs/BENCHMARKS.md.
package scheduler
