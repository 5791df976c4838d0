# Mail checks (issue 3): SMTP dialog, mail round trip, the simulator.
#
# Their tests (real mailpit, imapmemserver, the simulator) run in `make
# test-go`, their fuzz targets in `make test-fuzz` and their promtool tests
# in `make test-mixin`; nothing is repeated here. These targets give the
# figures and a demo.

SIM_LISTEN     ?= 127.0.0.1:9743
SIM_SMTP       ?= 127.0.0.1:1025
SIM_MAILPIT_UI ?= 127.0.0.1:8025
SIM_POP3       ?= 127.0.0.1:1110

# Round-trip latency through mailpit (median of 20) and the CPU cost of one
# smtp check (benchmark, about 10 s).
.PHONY: mail-figures
mail-figures: tools
	BOSAIMAIL_BIN=$(BIN) $(GO) test -count=1 -run '^TestRoundTripLatencyMailpit$$' -v ./collector/roundtrip | grep -E 'round trip|^ok|FAIL'
	BOSAIMAIL_BIN=$(BIN) $(GO) test -run '^$$' -bench '^BenchmarkProbeSMTP$$' -benchtime 2s ./collector/probe | grep -E 'Benchmark|^ok|FAIL'

# mailpit and the simulator on loopback until Ctrl-C. Break things with e.g.
#   curl -X PUT -d '{"stop_forwarding":true}' http://$(SIM_LISTEN)/api/v1/faults
.PHONY: demo-mail
demo-mail: build tools
	@mkdir -p .build && printf 'canary:demo-password\n' > .build/mailpit-auth
	$(MAILPIT) --disable-version-check --listen $(SIM_MAILPIT_UI) --smtp $(SIM_SMTP) --pop3 $(SIM_POP3) \
	  --pop3-auth-file .build/mailpit-auth --smtp-disable-rdns & mailpit=$$!; \
	  trap 'kill $$mailpit' EXIT INT TERM; \
	  $(BIN)/bosaimail_sim --web.listen-address=$(SIM_LISTEN) --smtp.address=$(SIM_SMTP)
