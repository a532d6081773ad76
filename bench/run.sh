#!/bin/sh
# Runs the repository's whole benchmark set with enough repetitions for
# benchstat. Usage: bench/run.sh [out-file]   (COUNT=6 BENCH=. by default)
#   bench/run.sh /tmp/old.txt; (change) ; bench/run.sh /tmp/new.txt
#   benchstat /tmp/old.txt /tmp/new.txt
set -eu
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
go test -run '^$' -bench "${BENCH:-.}" -count "${COUNT:-6}" -timeout 60m ./... >"$out"
