# Availability, outages and planned maintenance (issue 4).
#
# The promtool unit tests of the availability rules run in test-mixin
# (rules/tests/availability*_test.yaml). test-availability runs the calendar
# evaluation benchmark once so it stays working; the Go unit tests run in
# test-go and the iCalendar fuzz target in test-fuzz.
TEST_TARGETS += test-availability

.PHONY: test-availability
test-availability:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkNextStart' -benchtime 1x ./internal/maintenance

# Evaluation cost of the 30d/365d rules on a real Prometheus holding one year
# of 15 s data for 5 services (backfilled with promtool); prints the figures.
# Takes several minutes and a few GB of temporary disk: not part of `make test`.
.PHONY: bench-availability
bench-availability: tools
	$(GO) run ./bench/availability -bin $(BIN) -rules rules/bosaimail_rules.yaml -days 365 -services 5
