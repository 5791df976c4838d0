# Alerting pipeline: the Alertmanager example (examples/alertmanager/), its
# route and template tests, the end-to-end test of the whole stack, and the
# demo. See docs/operations.md for how it runs in production.
TEST_TARGETS += test-alertmanager e2e

AM_DIR       := examples/alertmanager
AM_CONFIG    := $(AM_DIR)/alertmanager.yml
AM_TEMPLATES := $(AM_DIR)/templates/*.tmpl
AM_FIXTURES  := $(wildcard $(AM_DIR)/tests/templates/*.json)
# Entry points of the templates, each rendered for every fixture.
AM_ENTRIES   := subject text html

# E2E_ROUNDS fault/recovery rounds (5 for the latency median in the notes).
E2E_ROUNDS ?= 1
E2E_TIMEOUT ?= 20m

.PHONY: test-alertmanager test-alertmanager-config test-alertmanager-routes test-alertmanager-templates
test-alertmanager: test-alertmanager-config test-alertmanager-routes test-alertmanager-templates

test-alertmanager-config: tools
	$(AMTOOL) check-config $(AM_CONFIG)

# One case per line of tests/routes.txt: the receivers must match exactly
# and the deepest matching route must be the expected one (so the urgency
# sub-routes, which keep the parent's receiver, are told apart).
test-alertmanager-routes: tools
	@set -e; n=0; fail=0; \
	while IFS='|' read -r want leaf labels; do \
	  case "$$want" in ''|'#'*) continue;; esac; \
	  want=$$(echo $$want); leaf=$$(echo $$leaf); n=$$((n+1)); \
	  if ! out=$$($(AMTOOL) config routes test --config.file=$(AM_CONFIG) --tree --verify.receivers="$$want" $$labels 2>&1); then \
	    echo "FAIL route: $$labels: want receivers $$want"; echo "$$out"; fail=1; continue; fi; \
	  last=$$(echo "$$out" | grep 'receiver:' | tail -n 1); \
	  case "$$last" in *"$$leaf"*) ;; *) echo "FAIL route: $$labels: deepest route is '$$last', want '$$leaf'"; fail=1;; esac; \
	done < $(AM_DIR)/tests/routes.txt; \
	if [ $$fail -ne 0 ]; then exit 1; fi; echo "routes: $$n cases ok"

# Renders every entry point of the templates for every fixture alert group
# with the real amtool and compares with the reviewed Japanese text in
# <fixture>.<entry>.golden; `make alertmanager-golden` rewrites them.
test-alertmanager-templates: tools
	@mkdir -p .build; set -e; fail=0; \
	for f in $(AM_FIXTURES); do for e in $(AM_ENTRIES); do \
	  type=text; [ $$e = html ] && type=html; \
	  $(AMTOOL) template render --template.glob='$(AM_TEMPLATES)' --template.type=$$type \
	    --template.text="{{ template \"bosaimail.$$e\" . }}" --template.data=$$f > .build/render.out 2>&1 || { cat .build/render.out; fail=1; continue; }; \
	  if ! diff -u $${f%.json}.$$e.golden .build/render.out; then echo "FAIL template bosaimail.$$e for $$f"; fail=1; fi; \
	done; done; \
	if [ $$fail -ne 0 ]; then echo "templates changed: review the diff, then make alertmanager-golden"; exit 1; fi; \
	echo "templates: $(words $(AM_FIXTURES)) fixtures x $(words $(AM_ENTRIES)) entries ok"

.PHONY: alertmanager-golden
alertmanager-golden: tools
	@for f in $(AM_FIXTURES); do for e in $(AM_ENTRIES); do \
	  type=text; [ $$e = html ] && type=html; \
	  $(AMTOOL) template render --template.glob='$(AM_TEMPLATES)' --template.type=$$type \
	    --template.text="{{ template \"bosaimail.$$e\" . }}" --template.data=$$f > $${f%.json}.$$e.golden || exit 1; \
	done; done

# The whole stack on 127.0.0.1 with free ports: mailpit, the simulator, the
# exporter, Prometheus (rules/ as generated) and Alertmanager (the example
# configuration with test addresses). The test builds the exporter and the
# simulator itself, so it never drives a stale ./bin.
.PHONY: e2e
e2e: tools
	BOSAIMAIL_E2E=1 BOSAIMAIL_BIN=$(BIN) E2E_ROUNDS=$(E2E_ROUNDS) $(GO) test -count=1 -v -timeout=$(E2E_TIMEOUT) ./e2e/...

# The README's first command: build what is missing, run the stack with the
# demo configuration, print the URLs; Ctrl-C stops everything.
.PHONY: demo
# The launcher is built and run directly, not through `go run`, which
# exits 1 on Ctrl-C whatever the program does; the launcher stops the stack
# and exits 0.
demo: tools build
	$(GO) build -o $(BIN)/bosaimail_demo ./e2e/cmd/bosaimail_demo
	exec $(BIN)/bosaimail_demo --bin=$(BIN) $(DEMO_FLAGS)
