# langsync — build, test, lint, bench, demo, app packaging.
# Everything a target needs is installed by the target itself (Go modules via
# the module proxy, Azurite via npm under .ci/), so a fresh clone works.

GO        ?= go
BIN       := bin/langsync
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.Version=$(VERSION)
AZURITE   := .ci/node_modules/.bin/azurite-blob
TESTFLAGS ?= -timeout 15m
BENCHTIME ?= 1x

.PHONY: all build test lint bench deps clean

all: lint build test

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/langsync

# deps installs the test doubles that are not Go: Azurite, pinned in .ci/.
deps: $(AZURITE)

$(AZURITE): .ci/package.json .ci/package-lock.json
	npm ci --prefix .ci --no-audit --no-fund
	@touch $(AZURITE)

test: deps
	$(GO) vet ./...
	LANGSYNC_AZURITE=$(CURDIR)/$(AZURITE) $(GO) test $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# bench runs every Go benchmark once per configuration and prints the figures
# (ratios against baselines measured in the same run).
bench: deps
	LANGSYNC_AZURITE=$(CURDIR)/$(AZURITE) $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./...

clean:
	rm -rf bin dist
