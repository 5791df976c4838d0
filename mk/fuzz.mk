# Every fuzz target in the module runs for $(FUZZTIME) in `make test`.
# A target is a func Fuzz* in a *_test.go file; add none here by hand.
#
# A target passes only if it also executed at least $(FUZZ_MIN_EXECS)
# inputs: a target that spends its budget on minimising (or on a slow
# setup) has not been fuzzed, whatever its exit status says. Minimising a
# new interesting input is bounded by $(FUZZ_MINIMIZE_TIME) (a count of
# executions: Go's default, 60s per input, ate whole 5s budgets: a CVD
# header target ran 266 inputs) so that it cannot eat the budget.
#
# Go's fuzzer sometimes ends a run that hit -fuzztime while minimising a
# new interesting input with "context deadline exceeded" and no failing
# input: that is the time budget, not a finding; the run still counts only
# if it executed enough inputs. A real failure writes its input to
# testdata/fuzz/ and fails the target.
TEST_TARGETS += test-fuzz

FUZZ_MIN_EXECS ?= 1000
FUZZ_MINIMIZE_TIME ?= 100x

.PHONY: test-fuzz
test-fuzz:
	@set -e; mkdir -p .build; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bin/'); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    if ! $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZ_MINIMIZE_TIME) $$pkg > .build/fuzz.out 2>&1; then \
	      if grep -q 'context deadline exceeded' .build/fuzz.out && ! grep -q 'Failing input written' .build/fuzz.out; then \
	        echo "fuzz $$pkg $$t: stopped at the time budget while minimising (not a finding)"; \
	      else \
	        cat .build/fuzz.out; exit 1; \
	      fi; \
	    fi; \
	    execs=$$(grep -o 'execs: [0-9]*' .build/fuzz.out | tail -1 | grep -o '[0-9]*' || true); \
	    if [ -z "$$execs" ] || [ "$$execs" -lt $(FUZZ_MIN_EXECS) ]; then \
	      cat .build/fuzz.out; \
	      echo "fuzz $$pkg $$t: executed $${execs:-no} inputs, fewer than FUZZ_MIN_EXECS=$(FUZZ_MIN_EXECS): not fuzzed"; exit 1; \
	    fi; \
	    echo "fuzz $$pkg $$t: $$execs inputs"; \
	  done; \
	done
