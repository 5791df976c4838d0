# bosaimail_exporter build, test and tools.
#
# Tools are pinned here and installed into ./bin with `go install`, reused
# when the pinned version is already there (a stamp file records it).
# Each area of the product adds its test targets in mk/<area>.mk by
# appending to TEST_TARGETS, so `make test` runs everything.

GO        ?= go
BIN       := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

PROMETHEUS_VERSION   := v0.316.0
ALERTMANAGER_VERSION := v0.31.1
MAILPIT_VERSION      := v1.33.1
JSONNET_VERSION      := v0.22.0
# The long-term store of the HA topology (make e2e-ha). Later versions may
# need a newer Go toolchain than this repository's.
VICTORIAMETRICS_VERSION := v1.151.0

PROMTOOL     := $(BIN)/promtool
PROMETHEUS   := $(BIN)/prometheus
ALERTMANAGER := $(BIN)/alertmanager
AMTOOL       := $(BIN)/amtool
MAILPIT      := $(BIN)/mailpit
JSONNET      := $(BIN)/jsonnet
JSONNETFMT   := $(BIN)/jsonnetfmt
JSONNETLINT  := $(BIN)/jsonnet-lint
VICTORIAMETRICS := $(BIN)/victoria-metrics

TOOL_STAMPS := \
	$(BIN)/.prometheus-$(PROMETHEUS_VERSION) \
	$(BIN)/.alertmanager-$(ALERTMANAGER_VERSION) \
	$(BIN)/.mailpit-$(MAILPIT_VERSION) \
	$(BIN)/.jsonnet-$(JSONNET_VERSION) \
	$(BIN)/.victoria-metrics-$(VICTORIAMETRICS_VERSION)

# Fuzz time per target in `make test`; raise it for a real fuzzing session.
FUZZTIME ?= 5s

TEST_TARGETS := lint test-go

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=main

.PHONY: all
all: build

# Static binaries, as promu builds Prometheus' own exporters: no libc mapped
# into the process (about 1.5 MB less resident memory). BUILD_TAGS=noaws
# leaves the AWS sources out (see internal/awsclient).
BUILD_TAGS ?=
BUILD_ENV  := CGO_ENABLED=0

.PHONY: build
build:
	$(BUILD_ENV) $(GO) build -tags "$(BUILD_TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

.PHONY: tools
tools: $(TOOL_STAMPS)

$(BIN)/.prometheus-$(PROMETHEUS_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION) github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION)
	touch $@

$(BIN)/.alertmanager-$(ALERTMANAGER_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/prometheus/alertmanager/cmd/alertmanager@$(ALERTMANAGER_VERSION) github.com/prometheus/alertmanager/cmd/amtool@$(ALERTMANAGER_VERSION)
	touch $@

$(BIN)/.mailpit-$(MAILPIT_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)
	touch $@

$(BIN)/.jsonnet-$(JSONNET_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/google/go-jsonnet/cmd/jsonnet@$(JSONNET_VERSION) github.com/google/go-jsonnet/cmd/jsonnetfmt@$(JSONNET_VERSION) github.com/google/go-jsonnet/cmd/jsonnet-lint@$(JSONNET_VERSION)
	touch $@

$(BIN)/.victoria-metrics-$(VICTORIAMETRICS_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@$(VICTORIAMETRICS_VERSION)
	touch $@

.PHONY: lint
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit and integration tests of the Go code. Tests that need a real tool
# (promtool, mailpit, prometheus, alertmanager) find it in ./bin.
.PHONY: test-go
test-go: tools
	BOSAIMAIL_BIN=$(BIN) $(GO) test -race -count=1 ./...

include $(sort $(wildcard mk/*.mk))

.PHONY: test
test: system-deps $(TEST_TARGETS)

# Debian packages that tests drive as real components: PostgreSQL and the
# exporters of the database/hosts e2e (e2e/database_test.go), headless
# Chromium for the ledger's browser test (e2e/browser_test.go). Installed
# with apt-get when missing (as root; otherwise say what to install).
.PHONY: system-deps
system-deps:
	@missing=""; \
	{ command -v prometheus-postgres-exporter && command -v prometheus-node-exporter && ls /usr/lib/postgresql/*/bin/pg_ctl; } >/dev/null 2>&1 || \
	  missing="$$missing postgresql prometheus-postgres-exporter prometheus-node-exporter"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run: sudo apt-get install -y$$missing)"; exit 1; fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

.PHONY: clean
clean:
	rm -rf $(BIN)/bosaimail_* .build
