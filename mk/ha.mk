# The monitoring itself, 24/365: the HA topology of docs/operations.md
# (two exporters, two Prometheus replicas from examples/prometheus.yml, three
# clustered Alertmanagers, VictoriaMetrics as the long-term store) through
# four failure scenarios with every mail counted, and the long-term store
# filling one replica's gap from the other for the report tool.
TEST_TARGETS += e2e-ha

E2E_HA_TIMEOUT ?= 20m

.PHONY: e2e-ha
e2e-ha: tools
	BOSAIMAIL_E2E=1 BOSAIMAIL_E2E_HA=1 BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -v -timeout=$(E2E_HA_TIMEOUT) -run 'TestHATopology|TestLongTermStore' ./e2e/

# Fault-to-mail at the production intervals (15 s scrape and evaluation),
# E2E_LATENCY_ROUNDS rounds (one to two minutes each, a fresh stack each);
# prints the median.
# Not part of `make test`: it measures, it does not decide.
E2E_LATENCY_ROUNDS ?= 5
.PHONY: e2e-latency
e2e-latency: tools
	BOSAIMAIL_E2E=1 BOSAIMAIL_BIN=$(BIN) E2E_LATENCY_ROUNDS=$(E2E_LATENCY_ROUNDS) $(GO) test -count=1 -v -timeout=40m -run 'TestFaultToMailProductionIntervals' ./e2e/
