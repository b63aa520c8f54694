# fedcommons — the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is what those two are made of.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Tools are pinned in hack/tools/go.mod (never @latest) and run from there.
TOOLS          := go tool -modfile=hack/tools/go.mod
CONTROLLER_GEN := $(TOOLS) controller-gen

# The control-plane version follows the k8s.io/api version in go.mod
# (k8s.io/api v0.37.0 pairs with Kubernetes v1.37.0).
K8S_VERSION ?= $(shell go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0\./v1./')
export K8S_VERSION

# Short fuzz runs in `make test`, as an execution count (see hack/fuzz.sh);
# raise it, or give a duration such as 10m, for a real fuzzing session.
FUZZTIME ?= 20000x
# Extra flags for cmd/fedcommons-dev, e.g. `make demo ARGS=--exit`.
ARGS ?=

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ The two commands

# The demo is built, then exec'd: make's child is the demo itself, so a
# SIGTERM to make (which GNU make passes on to its children) reaches it, as
# Ctrl-C does through the terminal. `go run` would ignore SIGINT and die on
# SIGTERM, leaving the demo running (issue 15). cmd/fedcommons-dev's
# TestMakeDemoStopsOnSignals holds this.
.PHONY: demo
demo: ## Start a local control plane, the operator and the samples; show them reconciled (ARGS=--exit to stop once Ready).
	@go build -o bin/fedcommons-dev ./cmd/fedcommons-dev
	exec bin/fedcommons-dev $(ARGS)

.PHONY: test
test: vet verify-generated verify-chart test-go fuzz test-image chart ## The whole test suite: vet, generated files, chart sync, unit + envtest + chart + e2e (-race), fuzz, image builder, chart package.

##@ Pieces of `make test`

.PHONY: vet
vet: ## go vet and gofmt.
	go vet ./...
	@bad=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$bad" ]; then echo "Not gofmt-formatted:"; echo "$$bad"; exit 1; fi

.PHONY: verify-generated
verify-generated: ## Fail if deepcopy, CRDs or RBAC are out of date with the code.
	hack/verify-generated.sh

.PHONY: verify-chart
verify-chart: ## Fail if the Helm chart's CRDs and RBAC are out of date with config/.
	hack/verify-chart.sh

.PHONY: envtest-assets
envtest-assets: ## Build (once, cached by version) the control-plane binaries the tests use.
	@hack/k8s-assets.sh kube-apiserver etcd kube-controller-manager >/dev/null

.PHONY: test-go
test-go: envtest-assets ## Unit, envtest and local-cluster tests with the race detector.
	KUBEBUILDER_ASSETS="$$(hack/k8s-assets.sh kube-apiserver etcd kube-controller-manager)" \
	  go test -race -count=1 -timeout 30m ./...

.PHONY: test-crash
test-crash: ## The long crash-consistency run (issue 14) on a local cluster: 200 Instances, 20 communities, 20 SIGKILLs of the manager, every Instance Ready.
	go test -tags e2e -count=1 -timeout 60m -run TestCrashConsistencyLong -v ./test/crash/

# Scale benchmark (issue 16, test/scale, build tag `scale`): each size is
# rolled out RUNS times on a fresh local cluster with kwok nodes; every run
# writes a JSON file into SCALE_REPORT_DIR, and the report step renders
# report.md and rollout.png from whatever JSON files are there. Shorter for
# development: make bench-scale SCALE_SIZES=20 SCALE_PER_COMMUNITY=4 SCALE_RUNS=1 SCALE_STEADY=30s
SCALE_SIZES ?= 100,1000,3000
SCALE_RUNS ?= 3
SCALE_STEADY ?= 5m
SCALE_REPORT_DIR ?= $(CURDIR)/test/scale/report
SCALE_BENCHMARKS ?= TestScaleRollout
.PHONY: bench-scale
bench-scale: ## Scale benchmark on a local cluster: rollout time vs the physical limit, API requests, steady-state writes, operator memory and CPU; report + plot in SCALE_REPORT_DIR.
	SCALE_SIZES=$(SCALE_SIZES) SCALE_RUNS=$(SCALE_RUNS) SCALE_STEADY=$(SCALE_STEADY) SCALE_REPORT_DIR=$(SCALE_REPORT_DIR) \
	  go test -tags scale -count=1 -timeout 600m -v -run '^($(SCALE_BENCHMARKS))$$' ./test/scale/
	SCALE_REPORT_DIR=$(SCALE_REPORT_DIR) go test -tags scale -count=1 -run '^TestScaleReport$$' ./test/scale/

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME.
	hack/fuzz.sh $(FUZZTIME)

# The conformance suite's real GoToSocial (test/conformance, hack/gotosocial.sh)
# is GOTOSOCIAL_BIN: a release binary with web/ next to it, a release .tgz,
# or a directory holding one. `make test` runs the suite whenever it is set;
# `make conformance` defaults to CI's copy next to the checkout.
.PHONY: conformance
conformance: ## Drivers and fakes against a real GoToSocial (GOTOSOCIAL_BIN, default ../shared/tools/gotosocial) and Mastodon's recorded answers.
	GOTOSOCIAL_BIN="$${GOTOSOCIAL_BIN:-$(wildcard ../shared/tools/gotosocial)}" go test -race -count=1 -v ./test/conformance/

.PHONY: test-backup
test-backup: ## Backup and restore scripts round trips against a real PostgreSQL (PG_BINDIR, default the newest /usr/lib/postgresql/*/bin), sqlite3 and busybox.
	go test -count=1 -v ./internal/backup/...

.PHONY: bench
bench: ## Engine benchmarks (figures for the closing notes).
	go test -run '^$$' -bench . -benchmem ./internal/moderation/...
	# Issue 16 item 4: parse + normalise + merge of ten generated 100,000-row lists.
	go test -run '^$$' -bench BenchmarkExplainTenLists -benchmem -count=5 ./internal/policytool/

.PHONY: bench-propagation
# KUBEBUILDER_ASSETS, when set, names the control-plane binaries; otherwise
# the test builds or reuses them (internal/testenv).
bench-propagation: ## Issue 16.3: one new FederationPolicy entry into 200 external servers (20 ms each), p50/p99/max and writes per server, into test/scale/report/propagation.json (docs/benchmarks-propagation.md).
	go test -tags scale -count=1 -timeout 30m -run '^TestPropagation$$' -v ./test/scale/

##@ Generation

.PHONY: generate
generate: ## Deepcopy functions.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: ## CRDs and the operator's RBAC from the markers.
	$(CONTROLLER_GEN) crd rbac:roleName=fedcommons-manager paths=./api/... paths=./controllers/... \
	  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh

##@ Build

.PHONY: build
build: ## Build bin/fedcommons (the operator and `policy`, what ships) and bin/fedcommons-dev (the demo).
	go build -trimpath -o bin/fedcommons ./cmd/fedcommons
	go build -trimpath -o bin/fedcommons-dev ./cmd/fedcommons-dev

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	go run ./cmd/fedcommons manager --leader-elect=false --metrics-bind-address=0

IMG ?= ghcr.io/fedcommons/fedcommons:$(VERSION)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

IMAGE_TAR  ?= bin/fedcommons-image.tar
IMAGE_ARCH ?= $(shell go env GOARCH)

.PHONY: image
image: ## Build the operator image IMG as IMAGE_TAR without a container engine or registry (docker/podman load, kind load image-archive, crane push).
	@mkdir -p bin/image $(dir $(IMAGE_TAR))
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) \
	  go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/image/fedcommons ./cmd/fedcommons
	cd hack/tools && go run ./ociimage --binary $(abspath bin/image/fedcommons) \
	  --out $(abspath $(IMAGE_TAR)) --ref $(IMG) --arch $(IMAGE_ARCH)

.PHONY: test-image
test-image: ## The image builder's tests: it builds an image from a small static binary and checks its config and layer (fast; `make image` builds the real one).
	cd hack/tools && go vet ./ociimage && go test -count=1 ./ociimage

.PHONY: chart
chart: ## Lint the Helm chart and package it into bin/.
	$(TOOLS) helm lint --strict charts/fedcommons
	$(TOOLS) helm package charts/fedcommons --destination bin

.PHONY: docker-build
docker-build: ## Build the operator image IMG (needs a Docker engine; not used by `make test`).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .
