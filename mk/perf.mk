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

.PHONY: bench
bench: build
	@test -x $(BLACKBOX) || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus-blackbox-exporter && systemctl disable --now prometheus-blackbox-exporter 2>/dev/null || true; }
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench/compare --exporter $(BIN)/bosaimail_exporter --blackbox $(BLACKBOX)
