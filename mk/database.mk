# Database and host monitoring: the mixin's database and hosts sections
# (their promtool tests run in test-mixin, their dashboards in test-go).
# e2e-database drives them against the real PostgreSQL, postgres_exporter
# and node_exporter of Debian's packages (.ci/run installs them); `make e2e`
# runs the same test with the rest of ./e2e, so it is not in TEST_TARGETS
# a second time.

.PHONY: e2e-database
e2e-database: tools
	BOSAIMAIL_E2E=1 BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -v -timeout=10m -run '^TestDatabaseAlerts$$' ./e2e
