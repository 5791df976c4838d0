# Japanese national holidays for the office-hours routing of the
# Alertmanager example (examples/alertmanager/alertmanager.yml, interval
# jp-holidays). The dates come from @holiday-jp/holiday_jp, a maintained
# dataset of the Cabinet Office's list (the Go module proxy serves no
# holiday library here); the package is pinned by version and checksum.
# `make alertmanager-holidays` rewrites examples/alertmanager/holidays.json
# and the generated block; commit both. TestHolidayIntervals (make test)
# fails when the block and holidays.json disagree.
HOLIDAY_JP_VERSION := 2.5.1
HOLIDAY_JP_SHA256  := c7ace937294b51b3880bee29db5b19812a5cb05461a6d56364a31345d4069b37

.PHONY: alertmanager-holidays
alertmanager-holidays:
	rm -rf .build/holidays && mkdir -p .build/holidays
	cd .build/holidays && npm pack --silent @holiday-jp/holiday_jp@$(HOLIDAY_JP_VERSION) > /dev/null
	echo "$(HOLIDAY_JP_SHA256)  .build/holidays/holiday-jp-holiday_jp-$(HOLIDAY_JP_VERSION).tgz" | sha256sum -c -
	tar -xzf .build/holidays/holiday-jp-holiday_jp-$(HOLIDAY_JP_VERSION).tgz -C .build/holidays
	HOLIDAYS_SOURCE="@holiday-jp/holiday_jp $(HOLIDAY_JP_VERSION) (npm)" $(GO) test -count=1 -run '^TestHolidayIntervals$$' ./examples \
	  -args -holidays.js=$(CURDIR)/.build/holidays/package/lib/holidays.js
