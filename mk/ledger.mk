# The incident ledger (bosaimail_ledger, docs/ledger.md): the store, the
# webhook, the web page with sessions and CSRF, the feeds, kill -9 on the
# real binary, the report reading it, the ledger alerts, and the e2e test
# of the whole pipeline with headless Chromium (Debian's chromium package).
# test-ledger re-runs tests that test-go and e2e already run: kept for area
# work, not in make test.

.PHONY: test-ledger
test-ledger: tools
	BOSAIMAIL_BIN=$(BIN) $(GO) test -race -count=1 ./internal/app/ledger ./cmd/bosaimail_ledger
	BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -run 'Ledger' ./internal/app/report
	$(PROMTOOL) test rules rules/tests/ledger_test.yaml
	BOSAIMAIL_E2E=1 BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -v -timeout=10m -run 'TestLedger' ./e2e/
