#!/usr/bin/env bash
# check-breaking: fail when openapi.yaml breaks clients of the last release,
# unless info.version has a new major version.
#
# The last release is the newest tag vMAJOR.MINOR.PATCH; before the first
# one, the commit tools/contract-baseline names (the contract as it stood
# when it last changed on purpose, see CHANGELOG.md), or else the first
# commit that has openapi.yaml. oasdiff judges what breaks; its report is
# printed only when something breaks.
# Error codes are an open string in responses, so a new code needs no
# exception here; a value added to a response enum that is closed breaks
# strict clients, and the gate says so.
#
#   tools/check-breaking.sh             compare the working tree's spec
#   tools/check-breaking.sh --self-test show that a removed path fails
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

oasdiff() { go run github.com/oasdiff/oasdiff "$@"; }

# major prints the major version of info.version in an OpenAPI file.
major() { sed -n "s/^  version: *[\"']\{0,1\}\([0-9][0-9]*\)\..*/\1/p" "$1" | head -1; }

# check BASE NEW WHAT: exit 0 when NEW does not break BASE, or its major moved.
check() {
  local base=$1 new=$2 what=$3 report
  if report=$(oasdiff breaking "$base" "$new" --fail-on ERR --format singleline 2>&1); then
    echo "check-breaking: nothing breaks clients of $what"
    return 0
  fi
  echo "$report"
  local old_major new_major
  old_major=$(major "$base") new_major=$(major "$new")
  if [ -n "$old_major" ] && [ -n "$new_major" ] && [ "$new_major" -gt "$old_major" ]; then
    echo "check-breaking: breaking changes since $what, allowed by the new major version ($old_major → $new_major)"
    return 0
  fi
  echo "check-breaking: the changes above break clients of $what (info.version major $old_major → $new_major)."
  echo "Keep compatibility, or release them as a new major version: see README, \"Releasing\"."
  return 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${1:-}" = "--self-test" ]; then
  # Renaming a path removes an operation: the gate must refuse it.
  sed 's|^  /healthz:$|  /healthz-renamed:|' openapi.yaml > "$tmp/new.yaml"
  if check openapi.yaml "$tmp/new.yaml" "the working tree" >/dev/null 2>&1; then
    echo "check-breaking --self-test: a removed operation passed the gate" >&2
    exit 1
  fi
  echo "check-breaking --self-test: a removed operation fails the gate"
  exit 0
fi

if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  echo "check-breaking: this clone is shallow; the release to compare with may be missing (git fetch --unshallow)" >&2
  exit 1
fi
base=$(git describe --tags --abbrev=0 --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null || true)
if [ -n "$base" ]; then
  what="release $base"
elif [ -s tools/contract-baseline ]; then
  base=$(sed -n 's/^\([0-9a-f]\{40\}\).*/\1/p' tools/contract-baseline | head -1)
  what="the contract baseline ${base:0:12} (tools/contract-baseline; there is no release tag yet)"
else
  base=$(git log --diff-filter=A --format=%H -- openapi.yaml | tail -1)
  what="the first commit with openapi.yaml (${base:0:12}; there is no release tag yet)"
fi
if [ -z "$base" ]; then
  echo "check-breaking: openapi.yaml has never been committed: nothing to compare with" >&2
  exit 1
fi
git show "$base:openapi.yaml" > "$tmp/base.yaml"
check "$tmp/base.yaml" openapi.yaml "$what"
