# The mixin (mixin/*.libsonnet) is the source of rules/*.yaml and
# dashboards/*.json; `make mixin` regenerates them and `make test` fails when
# the checked-in files drift from the sources.
TEST_TARGETS += test-mixin

JSONNET_FILES := $(shell find mixin -name '*.libsonnet' -o -name '*.jsonnet')

.PHONY: mixin
mixin: tools
	$(JSONNET) -J mixin -S mixin/alerts.jsonnet > rules/bosaimail_alerts.yaml
	$(JSONNET) -J mixin -S mixin/rules.jsonnet > rules/bosaimail_rules.yaml
	rm -f dashboards/*.json
	$(JSONNET) -J mixin -m dashboards mixin/dashboards.jsonnet > /dev/null

.PHONY: test-mixin
test-mixin: tools
	$(JSONNETFMT) --test $(JSONNET_FILES)
	@for f in $(JSONNET_FILES); do $(JSONNETLINT) -J mixin $$f || exit 1; done
	rm -rf .build/mixin && mkdir -p .build/mixin/rules .build/mixin/dashboards
	$(JSONNET) -J mixin -S mixin/alerts.jsonnet > .build/mixin/rules/bosaimail_alerts.yaml
	$(JSONNET) -J mixin -S mixin/rules.jsonnet > .build/mixin/rules/bosaimail_rules.yaml
	$(JSONNET) -J mixin -m .build/mixin/dashboards mixin/dashboards.jsonnet > /dev/null
	diff -r rules/bosaimail_alerts.yaml .build/mixin/rules/bosaimail_alerts.yaml
	diff -r rules/bosaimail_rules.yaml .build/mixin/rules/bosaimail_rules.yaml
	diff -r dashboards .build/mixin/dashboards || { echo "generated files drifted from mixin/: run make mixin"; exit 1; }
	$(PROMTOOL) check rules rules/bosaimail_alerts.yaml rules/bosaimail_rules.yaml
	$(PROMTOOL) test rules rules/tests/*.yaml
