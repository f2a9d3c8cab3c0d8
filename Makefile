# podlogreader — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BUN := node_modules/.bin/bun
TSC := node_modules/.bin/tsc
BIOME := node_modules/.bin/biome
SOURCES := $(shell find src -name '*.ts') package.json package-lock.json

# Every binary (dist/podlogreader, image, release) is built with these flags. A JIT policy of 100
# leaves code that runs rarely in the interpreter: about 4 MiB less resident memory, at the cost of
# a slower first pass over many workloads (docs/benchmarks.md).
BUN_BUILD_FLAGS = --compile --minify --sourcemap --compile-jit-policy=100 --define PODLOGREADER_REVISION='"$(REVISION)"'
VERSION := $(shell sed -n 's/^ *"version": *"\(.*\)",*$$/\1/p' package.json | head -1)
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Every timestamp in the image and the archives; the last commit's time keeps builds reproducible.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# Where the source lives (image label, SBOM) and where release archives are downloaded from (krew).
# The repository's URL for the image labels and the krew manifest: the git remote when it is a URL
# (a clone of a local path is not one), else a placeholder to override with SOURCE_URL=.
GIT_REMOTE := $(shell git config --get remote.origin.url 2>/dev/null)
SOURCE_URL ?= $(or $(filter http://% https://% git://% ssh://% git@%,$(GIT_REMOTE)),https://example.com/podlogreader)
RELEASE_URL ?= $(SOURCE_URL)/releases/download/v$(VERSION)
RELEASE_TARGETS := linux-x64-baseline linux-x64-musl linux-arm64 darwin-x64 darwin-arm64 windows-x64
ARTIFACT_TESTS := test/e2e/image.test.ts test/e2e/reduced-env.test.ts test/e2e/release.test.ts
# Suites whose apiserver calls podlogreader's webhook authorizer: a test process has one cluster,
# decided by its first suite, so these run in a process of their own.
AUTHORIZER_TESTS := test/e2e/webhook-authorizer.test.ts test/e2e/none-mode.test.ts test/e2e/chaos-front.test.ts
export VERSION REVISION SOURCE_DATE_EPOCH SOURCE_URL

.PHONY: help deps system-deps image-deps release-test-deps control-plane helm typecheck format build image release test test-artifacts unit cluster cluster-down demo bench chaos clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json system-deps ## Install the npm packages (npm ci) and system tools

system-deps: ## Install openssl (for the local cluster's certificates) when missing
	@command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }

image-deps: ## Install umoci and dpkg-deb (to assemble the image without a Docker daemon) when missing
	@command -v umoci >/dev/null && command -v dpkg-deb >/dev/null || { apt-get update -qq && apt-get install -y -qq umoci dpkg; }

release-test-deps: ## Install qemu-user-static and the arm64 C library (to run the linux-arm64 binary in tests) when missing
	@command -v qemu-aarch64-static >/dev/null && test -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 \
	  || { apt-get update -qq && apt-get install -y -qq qemu-user-static libc6-arm64-cross; }

control-plane: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok (cached outside the tree)
	@scripts/build-control-plane.sh >/dev/null
	@scripts/build-tool.sh kwok >/dev/null

helm: ## Build helm for the chart tests, and stern for the client tests (cached outside the tree)
	@scripts/build-tool.sh helm >/dev/null
	@scripts/build-tool.sh stern >/dev/null

typecheck: deps ## Type-check everything with tsc --noEmit, then lint: Biome's formatter and linter, and no line over 140 characters
	$(TSC) --noEmit -p tsconfig.json
	$(BIOME) ci --colors=off
	$(BUN) scripts/build/line-length.ts

format: deps ## Format the TypeScript and apply Biome's safe fixes (what `make typecheck` checks)
	$(BIOME) check --write

dist/podlogreader: node_modules/.package-lock.json $(SOURCES)
	$(BUN) build $(BUN_BUILD_FLAGS) src/main.ts --outfile dist/podlogreader

build: dist/podlogreader ## Compile the controller into the single executable dist/podlogreader

# One binary per target; the image holds dist/bin/linux-x64-baseline/podlogreader as it is.
dist/bin/%/podlogreader: node_modules/.package-lock.json $(SOURCES)
	$(BUN) build $(BUN_BUILD_FLAGS) --target=bun-$* src/main.ts --outfile $@

dist/bin/windows-x64/podlogreader.exe: node_modules/.package-lock.json $(SOURCES)
	$(BUN) build $(BUN_BUILD_FLAGS) --target=bun-windows-x64 src/main.ts --outfile $@

RELEASE_BINARIES := $(foreach t,$(filter-out windows-x64,$(RELEASE_TARGETS)),dist/bin/$(t)/podlogreader) dist/bin/windows-x64/podlogreader.exe

# drift: a Debian version the mirror no longer serves is replaced by the one it does, said and recorded
# (dist/image/debs.resolved, the SBOM); strict: that fails the build (release builds).
IMAGE_LOCK ?= drift
image: deps image-deps dist/bin/linux-x64-baseline/podlogreader ## Build the OCI image (no Docker daemon) into dist/image: layout, .oci.tar, SBOM, debs.resolved; prints its digest (IMAGE_LOCK=drift|strict)
	IMAGE_LOCK='$(IMAGE_LOCK)' BUN=$(BUN) scripts/image/build.sh dist/bin/linux-x64-baseline/podlogreader dist/image

release: deps $(RELEASE_BINARIES) ## Build dist/release: an archive per OS/arch, SHA256SUMS and the krew manifest podlogreader.yaml (RELEASE_URL)
	RELEASE_URL='$(RELEASE_URL)' scripts/release/package.sh dist/bin dist/release $(RELEASE_TARGETS)

unit: deps ## Run the unit tests only (no cluster needed)
	$(BUN) test --timeout 20000 test/unit

test: deps control-plane helm typecheck build ## Type-check, then run unit and integration tests against a real local control plane
	$(BUN) test --timeout 180000 $(foreach t,$(ARTIFACT_TESTS) $(AUTHORIZER_TESTS),--path-ignore-patterns=$(t))
	$(BUN) test --timeout 180000 $(AUTHORIZER_TESTS)

test-artifacts: deps control-plane helm release-test-deps image release ## Test the image (run from its own root filesystem) and the release archives against a local control plane
	$(BUN) test --timeout 180000 $(ARTIFACT_TESTS)

cluster: deps control-plane ## Start a local control plane in the background (AUTHORIZER=1: the apiserver calls podlogreader's webhook); then: source .cluster/env
	AUTHORIZER=$(AUTHORIZER) $(BUN) scripts/cluster.ts up

cluster-down: deps ## Stop the local control plane started by `make cluster` and remove its data
	$(BUN) scripts/cluster.ts down

demo: deps control-plane build ## Run podlogreader on a local cluster and show what it grants
	scripts/demo.sh

clean: ## Remove build output
	rm -rf dist

bench: deps control-plane build ## Benchmarks on fresh local control planes: latency, writes, memory, startup, throughput, audit, idle, replay, scale, clients, clients-authorizer, peer, authorizer (BENCH_ONLY=a,b; BENCH_OUT, default bench/results.json)
	$(BUN) scripts/bench/main.ts

CHAOS_SEED ?=
CHAOS_DURATION ?= 10m
CHAOS_OPS ?= 2000
chaos: deps control-plane build ## Randomized abuse of two controller replicas on a fresh control plane, judged by SubjectAccessReview (CHAOS_SEED, CHAOS_DURATION=10m, CHAOS_OPS=2000, CHAOS_OUT=chaos/report.json, CHAOS_ROLE_POD_NAMES=names|none: default by the seed's parity)
	CHAOS_SEED='$(CHAOS_SEED)' CHAOS_DURATION='$(CHAOS_DURATION)' CHAOS_OPS='$(CHAOS_OPS)' CHAOS_ROLE_POD_NAMES='$(CHAOS_ROLE_POD_NAMES)' $(BUN) scripts/chaos/main.ts
