# Performance and reliability.
#
# `make soak` (part of `make test`): 10,000 scrapes while targets flap, hang,
# send garbage and reset connections, two concurrent scrapers, reloads under
# load; fails on any goroutine or file-descriptor leak.
#
# `make bench` (not part of `make test`: figures, not assertions): Go
# benchmarks of the hot paths and a side-by-side run against
# prometheus/blackbox_exporter (Debian's package) that prints ratios.
TEST_TARGETS += soak

SOAK_SCRAPES ?= 10000
BLACKBOX ?= /usr/bin/prometheus-blackbox-exporter

.PHONY: soak
soak:
	BOSAIMAIL_SOAK=$(SOAK_SCRAPES) $(GO) test -count=1 -run '^TestSoak$$' -v ./internal/app/exporter

# The exporters under comparison are built here as `make build` builds
# them, not into the shared bin/: the table compares the default build (the
# one deployed, AWS credential chain linked) and prints the build without
# the AWS sources (-tags noaws) under each row.
BENCH_DIR := $(CURDIR)/.build/bench

.PHONY: bench
bench:
	@test -x $(BLACKBOX) || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus-blackbox-exporter && systemctl disable --now prometheus-blackbox-exporter 2>/dev/null || true; }
	mkdir -p $(BENCH_DIR)/noaws $(BENCH_DIR)/default
	$(BUILD_ENV) $(GO) build -tags noaws -ldflags "$(LDFLAGS)" -o $(BENCH_DIR)/noaws/ ./cmd/bosaimail_exporter
	$(BUILD_ENV) $(GO) build -ldflags "$(LDFLAGS)" -o $(BENCH_DIR)/default/ ./cmd/bosaimail_exporter
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench/compare --exporter $(BENCH_DIR)/default/bosaimail_exporter --also $(BENCH_DIR)/noaws/bosaimail_exporter --blackbox $(BLACKBOX) $(BENCH_FLAGS)

# The exporter without the AWS sources must keep building and its AWS
# sources must fail with a clear error.
TEST_TARGETS += test-noaws

.PHONY: test-noaws
test-noaws:
	$(GO) vet -tags noaws ./...
	$(GO) test -tags noaws -count=1 ./collector/cloud ./collector/delivery ./collector/security
