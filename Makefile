# The two commands a newcomer needs: `make run` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# No cgo anywhere: one static binary, the SQLite driver included.
export CGO_ENABLED := 0

.PHONY: run test test-impl-postgres bench benchstat fuzz loadtest build generate check-generated lint fmt-check vet staticcheck clean \
	lint-spec check-breaking docs-asset check-docs-asset test-ts test-browser conformance test-clients

## run: serve on 127.0.0.1:8080 with the SQLite file meapi.db (Ctrl-C stops it)
# meapi runs as make's own child, not under `go run`, so that Ctrl-C reaches
# it alone and its clean exit is make's: no "Error 1" after a normal stop.
run:
	@echo "building meapi (the first build on a new machine downloads and compiles its modules: a few minutes)"
	@$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meapi ./cmd/meapi
	@echo "serving http://127.0.0.1:8080 on the SQLite file meapi.db; Ctrl-C stops it"
	@exec bin/meapi serve

## test: every test, with the race detector off (it needs cgo)
test:
	$(GO) test -count=1 ./...

## test-impl-postgres: every HTTP test of impl on PostgreSQL (make test runs some on both engines)
test-impl-postgres:
	MEAPI_TEST_ENGINE=postgres $(GO) test -count=1 ./impl

## bench: the benchmarks, 6 runs each, into bench.txt (and on screen) for benchstat
bench:
	bash -o pipefail -c "$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt"

## benchstat: compare two outputs of make bench: make benchstat OLD=old.txt NEW=bench.txt
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
OLD ?= old.txt
NEW ?= bench.txt
benchstat:
	$(BENCHSTAT) $(OLD) $(NEW)

## fuzz: explore each fuzz target for FUZZTIME (default 1m); make test runs their seeds
FUZZTIME ?= 1m
fuzz:
	@for target in FuzzPatchMe FuzzSignUp FuzzSessionCookie; do \
		echo "== $$target for $(FUZZTIME)"; \
		$(GO) test ./impl -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

## loadtest: meapi in each validation mode under load over loopback, on LOADTEST_ENGINE (sqlite,
## postgres or both, comma-separated) with LOADTEST_USERS seeded users (a comma-separated list
## measures each); one table, ratios to off. PostgreSQL: MEAPI_TEST_POSTGRES_URL's server, or a
## throwaway cluster. E.g. make loadtest LOADTEST_ENGINE=postgres LOADTEST_USERS=100000
LOADTEST_DURATION ?= 5s
LOADTEST_ROUNDS ?= 3
LOADTEST_ENGINE ?= sqlite
LOADTEST_USERS ?= 1000
LOADTEST_MODES ?= off,log,enforce
loadtest: build
	$(GO) run ./bench/loadmatrix --meapi bin/meapi --duration $(LOADTEST_DURATION) --rounds $(LOADTEST_ROUNDS) \
		--engines $(LOADTEST_ENGINE) --users $(LOADTEST_USERS) --modes $(LOADTEST_MODES)

## build: the static binary bin/meapi
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meapi ./cmd/meapi

# The packages generated from openapi.yaml: the server side and the Go client.
GENERATED := gen client
# The TypeScript client, and the npm tools (spec linters, the API reference's renderer).
TS    := sdk/typescript
TOOLS := tools
NPM_CI := npm ci --no-audit --no-fund --loglevel=error

$(TS)/node_modules: $(TS)/package-lock.json
	cd $(TS) && $(NPM_CI)
	@touch $@

$(TOOLS)/node_modules: $(TOOLS)/package-lock.json
	cd $(TOOLS) && $(NPM_CI)
	@touch $@

## generate: regenerate gen/, client/ and the TypeScript types from openapi.yaml
generate: $(TS)/node_modules
	$(GO) generate $(addprefix ./,$(GENERATED))
	cd $(TS) && npm run --silent generate

## check-generated: fail when gen/, client/ or the TypeScript types differ from a fresh generation
GENERATED_FILES = $(foreach d,$(GENERATED),$(wildcard $(d)/*.gen.go)) $(TS)/src/schema.d.ts
check-generated: $(TS)/node_modules
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for f in $(GENERATED_FILES); do mkdir -p "$$tmp/$$(dirname $$f)" && cp "$$f" "$$tmp/$$f"; done && \
	$(MAKE) -s generate >/dev/null && \
	status=0 && \
	for f in $(GENERATED_FILES); do \
		if ! cmp -s "$$tmp/$$f" "$$f"; then \
			echo "check-generated: $$f differs from what openapi.yaml generates; run make generate and commit"; \
			diff -u --label "$$f (committed)" --label "$$f (generated)" "$$tmp/$$f" "$$f" | head -40; \
			cp "$$tmp/$$f" "$$f"; \
			status=1; \
		fi; \
	done; \
	if [ $$status = 0 ]; then echo "check-generated: $(GENERATED_FILES) match openapi.yaml"; fi; \
	exit $$status

## lint-spec: Redocly CLI, Spectral and openapi-examples-validator on openapi.yaml (rules in
## redocly.yaml, .spectral.yaml; the last holds every example to its schema as that tool reads it)
# Redocly prints a boxed notice about Node.js versions on every run; the
# sed drops that box and nothing else, and pipefail keeps redocly's status.
lint-spec: $(TOOLS)/node_modules
	@bash -o pipefail -c '$(TOOLS)/node_modules/.bin/redocly lint openapi.yaml 2>&1 | sed "/╔/,/╝/d"'
	@$(TOOLS)/node_modules/.bin/spectral lint openapi.yaml --fail-severity=warn
	@bash -o pipefail -c '$(TOOLS)/node_modules/.bin/openapi-examples-validator openapi.yaml | grep -v "^$$"'

## check-breaking: fail when openapi.yaml breaks clients of the last release (see README, "Releasing")
check-breaking:
	tools/check-breaking.sh --self-test
	tools/check-breaking.sh

## docs-asset: copy Redoc's bundle from the pinned npm package into the binary's assets
docs-asset: $(TOOLS)/node_modules
	cp $(TOOLS)/node_modules/redoc/bundles/redoc.standalone.js impl/apidocs/redoc.standalone.js
	cp $(TOOLS)/node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt impl/apidocs/
	cp $(TOOLS)/node_modules/redoc/LICENSE impl/apidocs/redoc.LICENSE

## check-docs-asset: fail when the embedded Redoc bundle is not the pinned npm package's
check-docs-asset: $(TOOLS)/node_modules
	@cmp $(TOOLS)/node_modules/redoc/bundles/redoc.standalone.js impl/apidocs/redoc.standalone.js && \
	echo "check-docs-asset: impl/apidocs/redoc.standalone.js is redoc@$$(node -p 'require("./$(TOOLS)/node_modules/redoc/package.json").version')'s"

## test-ts: the TypeScript client's tests, against a meapi built from this tree
test-ts: $(TS)/node_modules
	cd $(TS) && npm test

## test-clients: a client from each of six generators (the two committed ones checked against
## openapi.yaml, the others generated into git-ignored folders), compiled and driven through one
## scenario against a meapi of its own; and zod's verdicts against the server's (clients/README.md)
CLIENTS_TS := clients/ts
$(CLIENTS_TS)/node_modules: $(CLIENTS_TS)/package-lock.json
	cd $(CLIENTS_TS) && $(NPM_CI)
	@touch $@

test-clients: build $(TS)/node_modules $(CLIENTS_TS)/node_modules
	$(GO) run ./clients/matrix --meapi bin/meapi

## test-browser: load /docs in headless Chromium (needs /usr/bin/chromium or $$CHROMIUM)
test-browser:
	$(GO) test -count=1 -tags browser -run Browser ./impl

## conformance: serve a fresh meapi and run `meapi conformance` against it
conformance:
	tools/conformance.sh

## lint: gofmt, go vet and staticcheck (pinned in tools.go)
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...

clean:
	rm -rf bin meapi.db meapi.db-wal meapi.db-shm
