# Delivery performance (issue 12): postqueue parser, statistics mapping,
# collectors, simulator broadcast mode (real mailpit) and the rule tests.
# test-delivery re-runs tests that test-go already runs: kept for area work, not in make test.

.PHONY: test-delivery
test-delivery: tools
	BOSAIMAIL_BIN=$(CURDIR)/bin $(GO) test -race -count=1 ./internal/postqueue ./internal/deliverystats
	BOSAIMAIL_BIN=$(CURDIR)/bin $(GO) test -race -count=1 -run 'Delivery' ./collector/delivery ./config
	BOSAIMAIL_BIN=$(CURDIR)/bin $(GO) test -race -count=1 -run 'Broadcast' ./internal/app/sim
	$(PROMTOOL) test rules rules/tests/delivery_test.yaml

# Time and peak memory to summarise a 1,000,000-line postqueue -j dump
# (~240 MB), against jq reducing the same file to per-queue recipient
# counts (less work than ours) when jq is installed. docs/delivery.md
# quotes the figures.
PQ_DUMP := .build/postqueue-1m.jsonl
.PHONY: bench-delivery
bench-delivery:
	mkdir -p .build
	$(GO) test -c -o .build/postqueue.test ./internal/postqueue
	POSTQUEUE_DUMP=$(CURDIR)/$(PQ_DUMP) .build/postqueue.test -test.run TestParseDumpFile > /dev/null
	POSTQUEUE_DUMP=$(CURDIR)/$(PQ_DUMP) /usr/bin/time -f "bosaimail postqueue: %e s, max RSS %M KiB" .build/postqueue.test -test.run TestParseDumpFile -test.v | grep lines
	@if command -v jq >/dev/null; then /usr/bin/time -f "jq (peer): %e s, max RSS %M KiB" jq -n 'reduce inputs as $$m ({}; .[$$m.queue_name] += ($$m.recipients|length))' $(PQ_DUMP) > /dev/null; fi
	$(GO) test -count=1 -run 'TestParseMillionBoundedMemory' -v ./internal/postqueue | grep -E 'peak|ok'
	$(GO) test -count=1 -run '^$$' -bench 'ParseLine' -benchmem ./internal/postqueue
	rm -f $(PQ_DUMP)
