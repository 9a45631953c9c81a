# The two commands a newcomer needs: `make run` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# No cgo anywhere: one static binary, the SQLite driver included.
export CGO_ENABLED := 0

.PHONY: run test bench build generate check-generated lint fmt-check vet staticcheck clean

## run: serve on 127.0.0.1:8080 with the SQLite file meapi.db
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/meapi serve

## test: every test, with the race detector off (it needs cgo)
test:
	$(GO) test -count=1 ./...

## bench: the benchmarks, 6 runs each, for benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./...

## build: the static binary bin/meapi
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meapi ./cmd/meapi

## generate: regenerate gen/ from openapi.yaml
generate:
	$(GO) generate ./gen

## check-generated: fail when gen/ differs from a fresh generation
check-generated:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp gen/*.gen.go "$$tmp/" && \
	$(GO) generate ./gen && \
	for f in gen/*.gen.go; do \
		if ! cmp -s "$$f" "$$tmp/$$(basename $$f)"; then \
			echo "check-generated: $$f differs from what openapi.yaml generates; run make generate and commit"; \
			diff -u --label "$$f (committed)" --label "$$f (generated)" "$$tmp/$$(basename $$f)" "$$f" | head -40; \
			cp "$$tmp"/*.gen.go gen/; \
			exit 1; \
		fi; \
	done; \
	echo "check-generated: gen/ matches openapi.yaml"

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
