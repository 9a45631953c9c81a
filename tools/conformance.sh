#!/usr/bin/env bash
# conformance: build meapi, serve it on a free loopback port with a fresh
# SQLite file, and run `meapi conformance` against it, as one would against
# a deployment.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$tmp/meapi" ./cmd/meapi
"$tmp/meapi" serve --addr 127.0.0.1:0 --db "$tmp/meapi.db" 2> "$tmp/log" &
pid=$!
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*"msg":"serving","addr":"\([^"]*\)".*/\1/p' "$tmp/log")
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "meapi did not start within 10 s" >&2; cat "$tmp/log" >&2; exit 1; }
"$tmp/meapi" conformance --base-url "http://$addr"
