#!/usr/bin/env bash
# Wall time of the default scenario (best of 5 runs), as `make bench` reports it.
set -eu
bin=${1:-./moesim}
db=$(mktemp -d)/bench.db
best=""
for i in 1 2 3 4 5; do
  t=$("$bin" run scenarios/default.ini --db "$db" --json --quiet | sed -n 's/.*"wall_s":[[:space:]]*\([0-9.e+-]*\).*/\1/p')
  if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
done
events=$("$bin" run scenarios/default.ini --db "$db" --json --quiet | sed -n 's/.*"events":[[:space:]]*\([0-9.e+-]*\).*/\1/p')
echo "default scenario: wall ${best} s (best of 5), ${events} events"
rm -rf "$(dirname "$db")"
