# lem's entry points. `make demo` sets up a fresh machine and runs the quickstart;
# `make test` runs every test. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM_VERSION := 12.4.2
LEM := node packages/cli/bin/run.js
ARGS ?=

.PHONY: help setup build dev test lint bench demo clean docker device-check

help: ## List the targets
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/%/<backend>/' | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: ## Install pnpm (if missing) and the dependencies, then build
	@command -v pnpm >/dev/null 2>&1 && [ "$$(pnpm --version)" = "$(PNPM_VERSION)" ] || npm install -g --no-fund --no-audit pnpm@$(PNPM_VERSION)
	pnpm install --frozen-lockfile
	$(MAKE) build

build: ## Compile every package and write the oclif manifests
	pnpm run build

dev: ## Run the CLI from TypeScript sources: make dev ARGS="config show"
	node --import tsx packages/cli/bin/dev.js $(ARGS)

test: build ## Build, lint and run every test (needs a prior `make setup`)
	pnpm run lint
	pnpm test

lint: ## ESLint (import boundaries included), import circles (madge) and the TypeScript compiler
	pnpm run lint

bench: build ## Benchmarks: CLI cold start, server tokens/s (prints JSON)
	pnpm run bench

demo: setup ## Set up this machine and run the quickstart experiment
	$(LEM) llamacpp tiny-model models/tiny.gguf --force
	$(LEM) experiment examples/quickstart.yaml

device-check: build ## Pack the GPU device check into .device-check/lem-device-check.run: make device-check ARGS="--xz-level 9"
	node scripts/device-check/pack.mjs $(ARGS)

docker: build ## Build every backend's container image (lem images build): make docker ARGS="--build-arg BASE=…"
	$(LEM) images build $(ARGS)

docker-%: build ## One backend's image: make docker-llamacpp ARGS="--build-arg BASE=…"
	$(LEM) images build $* $(ARGS)

clean: ## Remove build outputs
	rm -rf packages/*/dist plugins/*/dist packages/*/oclif.manifest.json plugins/*/oclif.manifest.json
