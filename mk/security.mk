# Security: advisories, antivirus, findings, inventory (issue 7).
# test-security runs the decoder benchmarks once each, so the synthetic
# NVD-sized page set and KEV catalog stay exercised; bench-security measures
# them (time, bytes and allocations per 20 x 2,000-CVE sweep).
TEST_TARGETS += test-security

.PHONY: test-security
test-security:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkNVDPageSet|BenchmarkKEVCatalog' -benchtime 1x ./internal/advisory

.PHONY: bench-security
bench-security:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkNVDPageSet|BenchmarkKEVCatalog|BenchmarkNVDStream' -benchtime 3x -benchmem ./internal/advisory
