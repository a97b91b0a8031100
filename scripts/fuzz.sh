#!/usr/bin/env bash
# Runs every fuzz target of the module (every `func FuzzXxx` of a *_test.go file) for the
# given time each, one at a time: `scripts/fuzz.sh 10s` is the short pass of `make test`,
# `scripts/fuzz.sh 10m` the long one of `make fuzz`. A failing input is written by go test
# to the package's testdata/fuzz/<FuzzXxx>/ directory; keep it there once the bug is fixed,
# so that every later `go test` replays it.
set -euo pipefail
fuzztime="${1:-10s}"
go="${GO:-go}"
cd "$(dirname "$0")/.."

targets=$(git ls-files --cached --others --exclude-standard -- '*_test.go' |
	xargs -r grep -H -o -E '^func Fuzz[A-Za-z0-9_]+\(' |
	sed -E 's/^(.*)\/[^/]*:func (Fuzz[A-Za-z0-9_]+)\($/\1 \2/; s/^[^/ ]*:func (Fuzz[A-Za-z0-9_]+)\($/. \1/' | sort -u)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets"
	exit 0
fi
# fuzz_once runs one target, its output shown and kept in $out.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fuzz_once() {
	"$go" test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "./$1/" 2>&1 | tee "$out"
	return "${PIPESTATUS[0]}"
}
failed=0
while read -r dir name; do
	echo "$go test -run '^\$' -fuzz '^${name}\$' -fuzztime $fuzztime ./$dir/"
	if fuzz_once "$dir" "$name"; then
		continue
	fi
	# Go's fuzzing engine (before Go 1.27, golang/go#75804) can end a run with "context
	# deadline exceeded" when -fuzztime's deadline races its workers; that is not a finding
	# (a finding always writes its input). Such a run is repeated, up to twice.
	passed=false
	for retry in 1 2; do
		if ! grep -q 'context deadline exceeded' "$out" || grep -q 'Failing input written to' "$out"; then
			break
		fi
		echo "fuzz: $name stopped with the engine's deadline and no failing input; running it again ($retry)"
		if fuzz_once "$dir" "$name"; then
			passed=true
			break
		fi
	done
	if $passed; then
		continue
	fi
	failed=$((failed + 1))
done <<<"$targets"
if [ "$failed" -gt 0 ]; then
	echo "fuzz: $failed target(s) failed; the failing inputs are in their package's testdata/fuzz/"
	exit 1
fi
