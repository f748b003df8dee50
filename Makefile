# tug — build, run, test. `make help` lists the targets.

GO          ?= go
BIN         ?= bin/tug
# Flags for `make run`, e.g. make run RUN_FLAGS="--data-dir /tmp/c2 --listen 127.0.0.1:7443"
RUN_FLAGS   ?=
# Extra flags for `make test`, e.g. make test TEST_FLAGS="-race -run TestUp"
TEST_FLAGS  ?=
TEST_TIMEOUT ?= 30m
# Flags for `make bench`, e.g. make bench BENCH_ARGS="-rounds 5 -n 8000"
BENCH_ARGS  ?=

# The repo's Go modules: the main one, the dependency-free ABI module, the plugin SDK.
MODULES     := . hostabi sdk/go plugins examples/website examples/admission bench/plugins/guests bench/scheduler

VERSION_PKG := github.com/tugboat-io/tug/internal/version
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GIT_COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
# The commit's date, not the wall clock, so that a build is reproducible.
BUILD_DATE  ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS     := -X $(VERSION_PKG).Version=$(VERSION) \
               -X $(VERSION_PKG).GitCommit=$(GIT_COMMIT) \
               -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# Go files to format-check: everything but test fixtures.
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './.tug/*')

.DEFAULT_GOAL := help
.PHONY: help build run test lint fmt bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/tug, stamped with the version and commit, with the default scheduling plugins, controllers, admission policies and the log driver embedded
	cd plugins && GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared \
		-o ../cmd/tug/internal/defaultplugins/wasm/defaults.wasm ./scheduler/cmd/defaults
	cd plugins && GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared \
		-o ../cmd/tug/internal/defaultplugins/wasm/controllers.wasm ./controllers/cmd/defaults
	cd plugins && GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared \
		-o ../cmd/tug/internal/defaultplugins/wasm/admission.wasm ./admission/cmd/defaults
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o cmd/tug/internal/logdriver/bin/tug-log-driver ./cmd/tug-log-driver
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tug

run: build ## Start a cluster on this machine (bin/tug up; data in ./.tug)
	$(BIN) up $(RUN_FLAGS)

test: ## Run all tests, unit and end-to-end, in every Go module of the repo (e2e tests build tug themselves)
	@set -e; for m in $(MODULES); do \
		if [ -f $$m/go.mod ]; then echo "== go test in $$m"; (cd $$m && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...); fi; \
	done

lint: ## go vet in every module, and fail if any file is not gofmt-formatted
	@set -e; for m in $(MODULES); do if [ -f $$m/go.mod ]; then (cd $$m && $(GO) vet ./...); fi; done
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run make fmt):"; echo "$$unformatted"; exit 1; fi

fmt: ## gofmt -w every Go file
	gofmt -w $(GOFILES)

bench: ## Run the benchmark programs under bench/ (results and rerun commands: docs/BENCHMARKS.md)
	$(GO) run ./bench/apiserver $(BENCH_ARGS)

clean: ## Remove bin/ and test caches (not ./.tug: that is your cluster's data)
	rm -rf bin
	$(GO) clean -testcache
