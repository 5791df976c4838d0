# Scheduled jobs, backups and integrity (issue 6).
# test-jobs runs the hashing comparison once, so the sha256sum peer and the
# rate limiter stay exercised; bench-jobs measures it properly.
TEST_TARGETS += test-jobs

.PHONY: test-jobs
test-jobs:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkHashFile' -benchtime 1x ./internal/manifest

# Hashing throughput of the integrity checker against GNU sha256sum on the
# same 64 MiB file in the same run (and with the 100 MB/s limiter).
.PHONY: bench-jobs
bench-jobs:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkHashFile' -benchtime 5x ./internal/manifest
