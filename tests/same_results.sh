#!/usr/bin/env bash
# Same scenario and seed, same results: runs a few scenarios with two moesim binaries (e.g.
# built by gcc and by clang, or the same binary twice) and demands identical JSON output,
# wall time and database paths aside. Usage: tests/same_results.sh BIN_A BIN_B
set -u
a=$1; b=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
strip() { grep -vE '"(wall_s|db|run_id)"'; }
for args in "scenarios/default.ini" \
            "scenarios/skew.ini" \
            "scenarios/default.ini --set routing.model=zipf --set routing.capacity_factor=1.25 --set run.seed=7" \
            "scenarios/default.ini --set network.model=analytic --set routing.sampler=multinomial --set routing.pilot_tokens=512"; do
  n=$((n + 1))
  "$a" run $args --json --quiet --db "$tmp/a$n.db" | strip > "$tmp/a$n.json" || { echo "  $a failed on: $args"; fail=1; continue; }
  "$b" run $args --json --quiet --db "$tmp/b$n.db" | strip > "$tmp/b$n.json" || { echo "  $b failed on: $args"; fail=1; continue; }
  if ! cmp -s "$tmp/a$n.json" "$tmp/b$n.json"; then
    echo "  results differ for: $args"; diff "$tmp/a$n.json" "$tmp/b$n.json" | head -n 10; fail=1
  fi
done
if [ $fail -eq 0 ]; then echo "same results: $n scenarios identical ($(basename "$a") vs $(basename "$b"))"; fi
exit $fail
