# Herald — build, run and test. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

GO ?= go
NPM ?= npm
BIN := bin/herald

# `make run` settings; each can be overridden on the command line or in the environment.
SIM_ADDR ?= 127.0.0.1:8090
SIM_CALLBACK ?= http://127.0.0.1:8080
# The simulated device fleet of the MQTT push provider uses Mosquitto, which `make services`
# starts; SIM_MQTT= (empty) turns it off.
SIM_MQTT ?= tcp://127.0.0.1:1883
# The simulator's SMTP server, which the EMAIL provider submits to; SIM_SMTP= turns it off.
SIM_SMTP ?= 127.0.0.1:2525
comma := ,
HERALD_PROVIDERS ?= sim=http://$(SIM_ADDR)$(if $(SIM_MQTT),$(comma)sim-mqtt=$(SIM_MQTT))$(if $(SIM_SMTP),$(comma)sim-smtp=$(SIM_SMTP))
HERALD_ADMIN_EMAIL ?= admin@herald.local
HERALD_ADMIN_PASSWORD ?= herald-admin
HERALD_DEMO ?= true

# Generated code (gqlgen's, and the console's typed documents) that `make check` requires to be
# committed up to date.
GENERATED := graph/generated graph/model ui/src/graphql/generated.ts

# What the console build reads: when ui/dist/index.html is newer than all of it, `make ui`
# does nothing.
UI_SOURCES := $(shell find ui/src ui/scripts -type f 2>/dev/null) ui/index.html ui/vite.config.ts \
	$(wildcard ui/tsconfig*.json) ui/package.json ui/package-lock.json schema.graphql
# npm writes this file on every install; it is newer than the lock file once the
# dependencies match it.
UI_DEPS := ui/node_modules/.package-lock.json

.PHONY: help generate ui ui-deps build run test test-go test-fuzz fuzz test-restart test-ui test-browser lint check bench clean distclean services chaos test-chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

generate: ## regenerate the gqlgen code and the console's typed documents from schema.graphql
	$(GO) tool gqlgen generate
	$(MAKE) ui-deps
	cd ui && $(NPM) run codegen

$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && $(NPM) ci --no-audit --no-fund
	@touch $@

ui-deps: $(UI_DEPS) ## install the console's npm dependencies (npm ci) when the lock file changed

ui/dist/index.html: $(UI_DEPS) $(UI_SOURCES)
	cd ui && $(NPM) run build

ui: ui/dist/index.html ## build the console into ui/dist (skipped when up to date)

build: ui ## build the console and bin/herald
	$(GO) build -o $(BIN) ./cmd/herald

services: ## start MariaDB, Redis, RabbitMQ and Mosquitto when they are not running
	scripts/services-up.sh

run: build services ## run Herald with the vendor simulator, a demo app and an admin user
	$(BIN) migrate
	$(BIN) sim --addr '$(SIM_ADDR)' --callback '$(SIM_CALLBACK)' --mqtt-broker '$(SIM_MQTT)' --smtp-addr '$(SIM_SMTP)' & sim=$$!; \
	trap 'kill $$sim 2>/dev/null || true; wait $$sim 2>/dev/null || true' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	HERALD_PROVIDERS='$(HERALD_PROVIDERS)' \
	HERALD_ADMIN_EMAIL='$(HERALD_ADMIN_EMAIL)' \
	HERALD_ADMIN_PASSWORD='$(HERALD_ADMIN_PASSWORD)' \
	HERALD_DEMO='$(HERALD_DEMO)' \
	$(BIN) all

test: services ## run every test against the local services
	$(MAKE) test-go
	$(MAKE) test-fuzz
	$(MAKE) test-restart
	$(MAKE) test-chaos
	$(MAKE) test-ui
	$(MAKE) test-browser

test-go: ## the Go tests, with the race detector
	$(GO) test -race -count=1 ./...

# Fuzz targets (every func FuzzXxx): a short pass in `make test`, a long one in `make fuzz`.
# A failing input lands in its package's testdata/fuzz/ and is replayed by every go test.
FUZZTIME ?= 10s
FUZZTIME_LONG ?= 10m
test-fuzz: ## a short fuzz pass: every fuzz target for FUZZTIME (10s) each
	GO='$(GO)' scripts/fuzz.sh $(FUZZTIME)

fuzz: ## the long fuzz run: every fuzz target for FUZZTIME_LONG (10m) each
	GO='$(GO)' scripts/fuzz.sh $(FUZZTIME_LONG)

# These tests restart RabbitMQ, so they run alone, after everything else that uses it, and
# one package at a time (go test would run two packages at once).
RESTART_PACKAGES := broker server
test-restart: ## the broker and end-to-end tests that restart RabbitMQ
	@for pkg in $(RESTART_PACKAGES); do \
		if [ -d "$$pkg" ]; then \
			echo "$(GO) test -race -count=1 -tags restart -run Restart ./$$pkg/"; \
			$(GO) test -race -count=1 -tags restart -run Restart "./$$pkg/"; \
		else \
			echo "test-restart: no $$pkg package yet, skipped"; \
		fi; \
	done

# The fault scenarios (cmd/herald-chaos): bin/herald started as separate serve and worker
# processes, with simulators as the vendors and a MariaDB, Redis and RabbitMQ node of the run's
# own on spare ports; each scenario strikes during a broadcast and ends with an exactly-once
# verdict. The scale-out run adds 2 serve + 3 worker processes on a Redis Cluster and two
# MariaDB servers (next to the shared ones). Heavy for a small machine, so make test runs
# the short form alone, after the restart tests.
CHAOS_USERS ?= 100000
CHAOS_SHORT_USERS ?= 10000
SCALEOUT_USERS ?= 20000
CHAOS_FLAGS ?=
chaos: build ## every fault scenario on CHAOS_USERS-user broadcasts, then the scale-out topology
	$(GO) build -o bin/herald-chaos ./cmd/herald-chaos
	bin/herald-chaos --bin $(BIN) --users $(CHAOS_USERS) $(CHAOS_FLAGS)
	bin/herald-chaos --bin $(BIN) --scaleout --users $(SCALEOUT_USERS) $(CHAOS_FLAGS)
test-chaos: ## the short form of the fault scenarios (CHAOS_SHORT_USERS-user broadcasts)
	$(GO) build -o $(BIN) ./cmd/herald
	$(GO) build -o bin/herald-chaos ./cmd/herald-chaos
	bin/herald-chaos --bin $(BIN) --users $(CHAOS_SHORT_USERS) $(CHAOS_FLAGS)

test-ui: ## the console's unit tests (vitest)
	$(MAKE) ui-deps
	cd ui && $(NPM) test

# The browser tests drive chromium (CHROMIUM, default /usr/bin/chromium; installed by
# scripts/install-tools.sh --chromium) over the console of a real `herald all` and `herald sim`
# that ui/e2e/run.mjs starts on free ports with their own prefixes and removes afterwards.
CHROMIUM ?= /usr/bin/chromium
test-browser: build ## the console's browser tests (playwright-core and chromium against a real herald)
	cd ui && CHROMIUM='$(CHROMIUM)' GO='$(GO)' HERALD_BIN="$$(pwd)/../$(BIN)" $(NPM) run test:browser

lint: ## gofmt, go vet, generated code up to date, console types
	@unformatted="$$(git ls-files --cached --others --exclude-standard -- '*.go' | xargs -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(MAKE) generate
	@git diff --exit-code -- $(GENERATED) || { echo "generated code is stale: run make generate and commit it"; exit 1; }
	@untracked="$$(git ls-files --others --exclude-standard -- $(GENERATED))"; \
	if [ -n "$$untracked" ]; then echo "generated files not committed:"; echo "$$untracked"; exit 1; fi
	$(MAKE) ui-deps
	cd ui && $(NPM) run typecheck

check: lint ## the quality gate: lint, then every test
	$(MAKE) test

# `make bench` settings (BENCHMARKS.md): BENCH_USERS=50000 for a quick run; BENCH_FLAGS
# passes more flags to `herald bench`, e.g. BENCH_FLAGS='--fallback-users 0 --trace bench.trace'.
BENCH_USERS ?= 1000000
BENCH_FLAGS ?=
bench: build services ## the Go benchmarks, then `herald bench` (BENCH_USERS users: import, broadcast, realtime, fallback, stats, history)
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN) bench --users $(BENCH_USERS) --cpuprofile bench.cpu.pprof --json bench.json $(BENCH_FLAGS)

clean: ## remove build output (bin/, the built console, browser-test screenshots)
	rm -rf bin ui/e2e/output
	find ui/dist -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +

distclean: clean ## also remove the console's node_modules
	rm -rf ui/node_modules
