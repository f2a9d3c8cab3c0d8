# podlogreader — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BUN := node_modules/.bin/bun
TSC := node_modules/.bin/tsc
SOURCES := $(shell find src -name '*.ts') package.json package-lock.json

.PHONY: help deps system-deps control-plane helm typecheck build test unit cluster cluster-down demo bench chaos clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json system-deps ## Install the npm packages (npm ci) and system tools

system-deps: ## Install openssl (for the local cluster's certificates) when missing
	@command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }

control-plane: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok (cached outside the tree)
	@scripts/build-control-plane.sh >/dev/null
	@scripts/build-tool.sh kwok >/dev/null

helm: ## Build helm for the chart tests, and stern for the client tests (cached outside the tree)
	@scripts/build-tool.sh helm >/dev/null
	@scripts/build-tool.sh stern >/dev/null

typecheck: deps ## Type-check everything with tsc --noEmit
	$(TSC) --noEmit -p tsconfig.json

dist/podlogreader: node_modules/.package-lock.json $(SOURCES)
	$(BUN) build --compile --minify --sourcemap src/main.ts --outfile dist/podlogreader

build: dist/podlogreader ## Compile the controller into the single executable dist/podlogreader

unit: deps ## Run the unit tests only (no cluster needed)
	$(BUN) test --timeout 20000 test/unit

test: deps control-plane helm typecheck build ## Type-check, then run unit and integration tests against a real local control plane
	$(BUN) test --timeout 180000

cluster: deps control-plane ## Start a local control plane in the background; then: source .cluster/env
	$(BUN) scripts/cluster.ts up

cluster-down: deps ## Stop the local control plane started by `make cluster` and remove its data
	$(BUN) scripts/cluster.ts down

demo: deps control-plane build ## Run podlogreader on a local cluster and show what it grants
	scripts/demo.sh

clean: ## Remove build output
	rm -rf dist

bench: deps control-plane build ## Benchmarks on fresh local control planes: latency, writes, memory, startup, throughput (BENCH_OUT, default bench/results.json)
	$(BUN) scripts/bench/main.ts

CHAOS_SEED ?=
CHAOS_DURATION ?= 10m
CHAOS_OPS ?= 2000
chaos: deps control-plane build ## Randomized abuse of two controller replicas on a fresh control plane, judged by SubjectAccessReview (CHAOS_SEED, CHAOS_DURATION=10m, CHAOS_OPS=2000, CHAOS_OUT=chaos/report.json)
	CHAOS_SEED='$(CHAOS_SEED)' CHAOS_DURATION='$(CHAOS_DURATION)' CHAOS_OPS='$(CHAOS_OPS)' $(BUN) scripts/chaos/main.ts
