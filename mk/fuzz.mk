# Every fuzz target in the module runs for $(FUZZTIME) in `make test`.
# A target is a func Fuzz* in a *_test.go file; add none here by hand.
TEST_TARGETS += test-fuzz

.PHONY: test-fuzz
test-fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done
