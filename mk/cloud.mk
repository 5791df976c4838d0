# Cloud status, maintenance and quota sources (issue 5).
# test-cloud runs the adapters through their real clients against local TLS
# servers and the cloud alert tests; bench-cloud measures the decoders on the
# largest payload (a Google Cloud incidents.json of real size).
# test-cloud re-runs tests that test-go already runs: kept for area work, not in make test.

.PHONY: test-cloud
test-cloud: tools
	$(GO) test -count=1 -race -run 'TestCloud|TestInvalidCloud' ./collector/cloud ./config
	$(GO) test -count=1 ./internal/cloudstatus
	$(PROMTOOL) test rules rules/tests/cloud_test.yaml

.PHONY: bench-cloud
bench-cloud:
	$(GO) test -count=1 -run '^$$' -bench 'BenchmarkDecode' -benchmem -benchtime 20x ./internal/cloudstatus
