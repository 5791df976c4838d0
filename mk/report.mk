# Monthly operations report (cmd/bosaimail_report, internal/app/report).
# Its Go tests run in test-go (they start a real Prometheus backfilled by
# promtool); test-report checks that the sample in docs/ is the report the
# tests produce, so the documentation never drifts from the code.
TEST_TARGETS += test-report

REPORT_MONTH   ?= $(shell TZ=Asia/Tokyo date -d "$$(TZ=Asia/Tokyo date +%Y-%m-01) -1 day" +%Y-%m)
PROMETHEUS_URL ?= http://127.0.0.1:9090
REPORT_OUT     ?= reports

# make report REPORT_MONTH=2026-10 PROMETHEUS_URL=http://127.0.0.1:9090 [EXEMPTIONS=exemptions.yml]
.PHONY: report
report:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/bosaimail_report
	$(BIN)/bosaimail_report --prometheus.url=$(PROMETHEUS_URL) --month=$(REPORT_MONTH) --out=$(REPORT_OUT) \
	  $(if $(EXEMPTIONS),--exemptions=$(EXEMPTIONS))

# Regenerates the golden report of the test scenario and the sample in docs/.
.PHONY: report-sample
report-sample: tools
	BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -run '^TestOctober$$' ./internal/app/report -update
	cp testdata/report/2026-10.md docs/report-sample.md

.PHONY: test-report
test-report:
	@cmp -s testdata/report/2026-10.md docs/report-sample.md || { echo "docs/report-sample.md drifted from testdata/report/2026-10.md: run make report-sample"; exit 1; }
