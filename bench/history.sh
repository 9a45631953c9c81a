#!/bin/sh
# history.sh: the before/after tables of docs/PERFORMANCE.md. Builds meapi
# at each commit named below (the one before the performance work, then
# one per optimization kept) and measures each:
#
#   - under load: bench/loadmatrix of the current checkout, modes off and
#     enforce, DURATION per run, ROUNDS rounds;
#   - in process: the handler benchmarks (GET and PATCH /me in each
#     validation mode), 6 runs each, compared with benchstat. The commit
#     before the work had no such benchmark: it gets the first version.
#
#   bench/history.sh [DURATION] [ROUNDS]     (defaults: 3s, 3)
set -eu
duration=${1:-3s}
rounds=${2:-3}
commits="8bfbd6e bd78f4c 6cefce6 195c840 c821caf 08782fe ${HISTORY_HEAD:-HEAD}"
benchstat="go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"
work=$(mktemp -d)
cleanup() {
	for c in $commits; do git worktree remove --force "$work/src-$c" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
for c in $commits; do
	git worktree add -q --detach "$work/src-$c" "$c"
	if [ ! -f "$work/src-$c/impl/bench_handler_test.go" ]; then
		git show bd78f4c:impl/bench_handler_test.go >"$work/src-$c/impl/bench_handler_test.go"
	fi
	(cd "$work/src-$c" && go build -o "$work/meapi-$c" ./cmd/meapi)
done
for c in $commits; do
	echo "== $c $(git log -1 --format=%s "$c" | cut -c1-100)"
	go run ./bench/loadmatrix --meapi "$work/meapi-$c" --modes off,enforce --duration "$duration" --rounds "$rounds" 2>/dev/null
done
args=""
for c in $commits; do
	(cd "$work/src-$c" && go test ./impl -run '^$' -bench 'GetMe|PatchMe' -benchmem -count 6) >"$work/bench-$c.txt"
	args="$args $c=$work/bench-$c.txt"
done
# shellcheck disable=SC2086
$benchstat $args
