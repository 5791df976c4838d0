# Every fuzz target in the module runs for $(FUZZTIME) in `make test`.
# A target is a func Fuzz* in a *_test.go file; add none here by hand.
#
# Go's fuzzer sometimes ends a run that hit -fuzztime while minimising a
# new interesting input with "context deadline exceeded" and no failing
# input: that is the time budget, not a finding, and is reported as such.
# A real failure writes its input to testdata/fuzz/ and fails the target.
TEST_TARGETS += test-fuzz

.PHONY: test-fuzz
test-fuzz:
	@set -e; mkdir -p .build; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bin/'); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    if ! $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg > .build/fuzz.out 2>&1; then \
	      if grep -q 'context deadline exceeded' .build/fuzz.out && ! grep -q 'Failing input written' .build/fuzz.out; then \
	        echo "fuzz $$pkg $$t: stopped at the time budget while minimising (not a finding)"; \
	      else \
	        cat .build/fuzz.out; exit 1; \
	      fi; \
	    else tail -1 .build/fuzz.out; fi; \
	  done; \
	done
