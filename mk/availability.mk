# Availability, outages and planned maintenance (docs/availability.md).
#
# The promtool unit tests of the availability rules run in test-mixin
# (rules/tests/availability*_test.yaml). test-availability runs the calendar
# evaluation benchmark once so it stays working; the Go unit tests run in
# test-go and the iCalendar fuzz target in test-fuzz.
TEST_TARGETS += test-availability

# The shared scenario fixtures (testdata/availability/*.yaml) through both
# engines, the recording rules in promtool and the report tool against a
# real Prometheus holding the backfilled data, and October 2026 of
# docs/report.md through the report, the rules and the dashboard queries:
# any disagreement on a minute or an event count fails.
.PHONY: test-availability
test-availability: tools
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkNextStart' -benchtime 1x ./internal/maintenance
	BOSAIMAIL_BIN=$(BIN) CI=1 $(GO) test -count=1 -run '^(TestFixturesBothEngines|TestOctoberRulesAgree|TestOutages|TestBlips)$$' ./internal/app/report

# Evaluation cost of the 30d/365d rules on a real Prometheus holding one year
# of 15 s data for 5 services (backfilled with promtool); prints the figures.
# Takes several minutes and a few GB of temporary disk: not part of `make test`.
.PHONY: bench-availability
bench-availability: tools
	$(GO) run ./bench/availability -bin $(BIN) -rules rules/bosaimail_rules.yaml -days 365 -services 5
