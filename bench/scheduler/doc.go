// Package scheduler benchmarks tug's default scheduling chain: the same plugins, in one wasm
// module on the runtime and compiled natively into this test binary, driven by the same
// framework over the same cache, in one run:
//
//	cd bench/scheduler && go test -run '^$' -bench Chain -benchtime 10x
//
// BenchmarkSchedulingBasic and BenchmarkSchedulingPodAntiAffinity (perf_test.go) run the
// whole scheduler instead, in scheduler_perf's shapes: a real API server on embedded etcd,
// 5000 nodes, pods created through the API and bound through pods/binding, both chains in
// one run. They take about ten minutes together:
//
//	cd bench/scheduler && go test -run '^$' -bench Scheduling -benchtime 1x -timeout 30m
//
// It is its own module because it needs both the main module (the framework and the runtime)
// and the plugin modules (the SDK and the plugins, natively). Results go in docs/BENCHMARKS.md.
package scheduler
