# langsync — build, test, lint, bench, demo, app packaging.
# Everything a target needs is installed by the target itself (Go modules via
# the module proxy, Azurite via npm under .ci/), so a fresh clone works.

GO        ?= go
BIN       := bin/langsync
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.Version=$(VERSION)
AZURITE   := .ci/node_modules/.bin/azurite-blob
# -race: the tests run goroutines against shared state on purpose (hosts,
# emulators, concurrent drivers), so CI runs them under the race detector.
TESTFLAGS ?= -race -timeout 15m
BENCHTIME ?= 1x

.PHONY: all build test lint bench bench-copy deps clean app demo soak

all: lint build test

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/langsync

# RIE is the AWS Lambda Runtime Interface Emulator, pinned by rieVersion in
# cmd/langsync/lambda_rie_test.go. It is built once into .ci/bin under a name
# holding the version, so it is rebuilt only when the pin changes (a cold
# build takes about two minutes on 2 cores; the test used to pay it itself).
RIE_VERSION := $(shell sed -n 's/^const rieVersion = "\(.*\)"$$/\1/p' cmd/langsync/lambda_rie_test.go)
RIE         := .ci/bin/aws-lambda-rie-$(RIE_VERSION)
# SBTESTS is the azservicebus module's own test binary (`go test -c`), run by
# shared/sbemulator's TestAzServiceBusModuleTests against the Service Bus
# stand-in. Its name holds the module version go.mod pins, so it is rebuilt
# only when that changes (compiling and linking it was most of that test's
# 45 s when the test ran `go test` on the module itself).
SBTESTS_MODULE  := github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus
SBTESTS_VERSION := $(shell sed -n 's|^[[:space:]]*$(SBTESTS_MODULE) \(v[^ ]*\).*|\1|p' go.mod)
SBTESTS         := .ci/bin/azservicebus-$(SBTESTS_VERSION).test
# TESTENV points the tests at the tools deps installed (each test also finds
# or builds its tool itself when the variable is unset, never skipping).
TESTENV   = LANGSYNC_AZURITE=$(CURDIR)/$(AZURITE) LANGSYNC_RIE=$(CURDIR)/$(RIE) LANGSYNC_SBTESTS=$(CURDIR)/$(SBTESTS) LANGSYNC_CHROMIUM=$${LANGSYNC_CHROMIUM:-/usr/bin/chromium}

# deps installs the test doubles and tools the tests run: Azurite, pinned in
# .ci/, the Runtime Interface Emulator and the azservicebus test binary,
# built into .ci/bin, and headless
# Chromium (Debian package chromium) for the status page test.
deps: $(AZURITE) $(RIE) $(SBTESTS)
	@test -x /usr/bin/chromium || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

$(AZURITE): .ci/package.json .ci/package-lock.json
	npm ci --prefix .ci --no-audit --no-fund
	@touch $(AZURITE)

$(RIE):
	@test -n "$(RIE_VERSION)" || { echo "Makefile: const rieVersion not found in cmd/langsync/lambda_rie_test.go"; exit 1; }
	rm -rf .ci/bin/rie-build && mkdir -p .ci/bin/rie-build
	cd .ci/bin/rie-build && GOBIN=$(CURDIR)/.ci/bin/rie-build CGO_ENABLED=0 GOFLAGS= $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	rm -f .ci/bin/aws-lambda-rie-*
	mv .ci/bin/rie-build/aws-lambda-rie $@
	rm -rf .ci/bin/rie-build

$(SBTESTS):
	@test -n "$(SBTESTS_VERSION)" || { echo "Makefile: $(SBTESTS_MODULE) not found in go.mod"; exit 1; }
	mkdir -p .ci/bin
	$(GO) test -c -o $@.tmp $(SBTESTS_MODULE)
	rm -f .ci/bin/azservicebus-*.test
	mv $@.tmp $@

test: deps
	$(GO) vet ./...
	$(TESTENV) $(GO) test $(TESTFLAGS) ./...

# staticcheck is a tool dependency in go.mod (go get -tool), so its version
# is pinned with the modules and no separate install is needed.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# bench runs every Go benchmark once per configuration and prints the figures
# (ratios against baselines measured in the same run).
bench: deps
	$(TESTENV) $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./...

# bench-copy measures the server-side document copy between two Azurite
# accounts at several sizes (COPY_DOCS, each on a fresh Azurite): documents
# per second, this process's CPU per 1,000 documents and its live heap per
# document (docs/pipeline.md). Opt-in, not in bench or test: Azurite's
# per-request cost grows with the blobs in the account, so 4,000 documents
# take minutes and 100,000 would take hours.
COPY_DOCS ?= 1000,2000,4000

bench-copy: deps
	$(TESTENV) LANGSYNC_BENCH_DOCS=$(COPY_DOCS) $(GO) test -run '^$$' -bench DocumentCopy -benchtime 1x -timeout 0 ./shared/app

# app assembles the Azure Functions app as the host expects it (function
# folders at the app root, host.json, the linux/amd64 binary named as
# host.json's defaultExecutablePath, executable) in dist/app/ and zips it
# into dist/app.zip with Unix modes kept (cmd/appzip: archive/zip, no zip
# tool needed). The app runs on Flex Consumption: `azd deploy` (azure.yaml)
# deploys dist/app, or `az functionapp deployment source config-zip --src
# dist/app.zip` (docs/deploy.md). internal/deploycheck builds it into a
# temporary directory (APP_DIR, APP_ZIP) and checks the result.
APP_DIR ?= dist/app
APP_ZIP ?= dist/app.zip

app:
	rm -rf $(APP_DIR) $(APP_ZIP)
	mkdir -p $(APP_DIR) $(dir $(APP_ZIP))
	cp host.json $(APP_DIR)/
	cp -R functions/. $(APP_DIR)/
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(APP_DIR)/langsync ./cmd/langsync
	chmod 0755 $(APP_DIR)/langsync
	$(GO) run ./cmd/appzip -o $(APP_ZIP) $(APP_DIR)

# demo builds langsync and runs the whole product on this machine: two
# Language emulators and Azurite (installed by deps) on free loopback ports,
# the embedded Tickets sample, replicate, status, sync, restore and failover
# (docs/local.md). It stops everything it started and exits non-zero naming
# the step that failed.
demo: deps build
	LANGSYNC_AZURITE=$(CURDIR)/$(AZURITE) ./$(BIN) demo

# soak is the chaos harness (cmd/soak, docs/soak.md): RUNS soak runs of a
# changing project replicated to two targets on three Language emulators and
# Azurite, under injected faults, kill -9, duplicate drivers and two local
# hosts; it prints one table and fails on a stuck run, a duplicate job, a bad
# backup or a stall over 30 s. SOAKFLAGS passes more flags (-timeout, -keep).
RUNS      ?= 40
SEED      ?= 1
SOAKFLAGS ?=

soak: deps build
	LANGSYNC_AZURITE=$(CURDIR)/$(AZURITE) $(GO) run ./cmd/soak -runs $(RUNS) -seed $(SEED) -bin $(BIN) $(SOAKFLAGS)

clean:
	rm -rf bin dist
