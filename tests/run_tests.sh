#!/usr/bin/env bash
# Runs each cmocka test binary given as an argument, then prints one closing line
# "tests: N passed, N failed" counting the individual cmocka cases.
set -u
pass=0; fail=0; bad_bins=""
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^\[  (FAILED|ERROR) |^\[  PASSED  \]|^\[==========\] tests' >/dev/null
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ]; then
    [ -z "$f" ] && fail=$((fail + 1))
    bad_bins="$bad_bins $t"
    printf '%s\n' "$out" | grep -vE '^\[ (RUN|      OK) ' | tail -n 40
  fi
  printf '  %-40s %s passed%s\n' "$(basename "$t")" "${p:-0}" "$([ $rc -ne 0 ] && echo ", FAILED (exit $rc)")"
done
echo "tests: $pass passed, $fail failed"
[ -z "$bad_bins" ]
