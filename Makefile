# Tocsin — the Makefile is the contract (STYLE.md habit 13).
GO        ?= go
DATA      ?= data
FUZZTIME  ?= 5m
# package:target, every fuzz target of untrusted input
FUZZ_TARGETS = parsers:FuzzParse parsers:FuzzIODEF parsers:FuzzCVSS parsers:FuzzIndicators parsers:FuzzFeedbackAndXARF parsers:FuzzSplitSigned internal/printable:FuzzLine
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0

GREMLINS_VERSION ?= v0.6.0
# Packages mutation-tested by `make mutate` (bot/store holds the audit chain; the daemon package bot is left out: its tests start servers and take longer).
MUTATE_PKGS ?= ./parsers ./internal/printable ./templates ./bot/store ./bot/chatops ./config

.PHONY: run build test test-short check fuzz bench mutate clean

## run: start the sandbox daemon (loopback IMAP 1143, SMTP 1025, HTTP 8080) with state in ./data
run:
	$(GO) run ./cmd/tocsin run --data $(DATA)

## build: build bin/tocsin
build:
	$(GO) build -o bin/tocsin ./cmd/tocsin

## test: every test with the race detector (GnuPG, in-process IMAP/SMTP, the README's walk-through, Dovecot when installed), plus a short run of every fuzz target; names every test skipped for want of a tool
test:
	@# go test prints a skip's reason only with -v: tests that skip for want
	@# of a tool (internal/skipnote) write it to TOCSIN_SKIPPED, printed here.
	@mkdir -p bin; rm -f bin/test-skipped.txt
	@echo '$(GO) test -race -shuffle=on -timeout 10m ./...'
	@TOCSIN_SKIPPED=$(CURDIR)/bin/test-skipped.txt $(GO) test -race -shuffle=on -timeout 10m ./...; rc=$$?; \
	  if [ -s bin/test-skipped.txt ]; then echo "Skipped on this machine (CI runs them; .ci/run installs what they need):"; sed 's/^/  /' bin/test-skipped.txt; fi; \
	  exit $$rc
	@# A count, not a duration: Go 1.26's fuzz coordinator can fail a target
	@# with "context deadline exceeded" when a duration runs out (go.dev/issue/75804).
	@for pt in $(FUZZ_TARGETS); do p=$${pt%%:*}; t=$${pt#*:}; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20000x ./$$p || exit 1; done

## test-short: the same without the race detector and the fuzz run
test-short:
	$(GO) test -shuffle=on ./...

## check: formatting, vet, staticcheck, tidy go.mod
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@# govulncheck needs its database at vuln.go.dev: only a name lookup is tried first.
	@if getent hosts vuln.go.dev >/dev/null 2>&1; then $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) ./...; \
	  else echo "govulncheck skipped: its database (vuln.go.dev) cannot be reached from this machine"; fi
	@cp go.mod /tmp/tocsin-go.mod.bak; cp go.sum /tmp/tocsin-go.sum.bak; $(GO) mod tidy; \
	  if ! cmp -s go.mod /tmp/tocsin-go.mod.bak || ! cmp -s go.sum /tmp/tocsin-go.sum.bak; then \
	    echo "go.mod/go.sum were not tidy (now fixed: commit them)"; exit 1; fi

## fuzz: long fuzzing of every parser fuzz target (FUZZTIME=5m each)
fuzz:
	@for pt in $(FUZZ_TARGETS); do p=$${pt%%:*}; t=$${pt#*:}; echo "== $$pt"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$p || exit 1; done

## bench: end-to-end pipeline, peak memory for a 50 MB attachment, parser throughput, mail composition, call-tree fan-out to 10,000 people and engine lag with 10,000 open incidents (figures in BENCH.md)
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkPipeline|BenchmarkChatCommands' -benchtime 1x ./bot
	$(GO) test -run '^$$' -bench BenchmarkMemory50MB -benchtime 1x -v ./cmd/tocsin
	$(GO) test -run '^$$' -bench . -benchtime 2s ./parsers
	$(GO) test -run '^$$' -bench . -benchtime 1s ./responders
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bot/engine

## mutate: mutation testing (go-gremlins) of MUTATE_PKGS; slow (tens of minutes); scores in BENCH.md
mutate:
	@for p in $(MUTATE_PKGS); do echo "== $$p"; TOCSIN_SAMPLES=$(abspath ../shared/samples) \
	  $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) unleash --workers 2 --timeout-coefficient 3 $$p | tail -n 12; done

clean:
	rm -rf bin
