#!/usr/bin/env bash
# tests/device/compare.sh DIR [MOESIM]: holds the GEMM times that
# tests/device/measure_step_kernels.py measured (DIR/gemm_burst.csv, DIR/gemm_sustained.csv)
# against moesim's GEMM model on the h100-sxm preset (kernel time, no launch overhead), one
# line per shape, then the time-weighted ratio of measured to modelled over all shapes:
# above 1, the model is optimistic. Runs here, not on the GPU machine.
set -euo pipefail
dir=${1:?usage: tests/device/compare.sh DIR [MOESIM]}
moesim=${2:-./moesim}
gpu=${GPU:-h100-sxm}
for f in "$dir/gemm_burst.csv" "$dir/gemm_sustained.csv"; do
  [ -r "$f" ] || { echo "compare.sh: $f: cannot read" >&2; exit 2; }
done

printf '%-22s %11s %11s %11s %7s %7s\n' "m x n x k" "model us" "burst us" "sust. us" \
  "burst/m" "sust/m"
# the burst and sustained tables list the same shapes in the same order
paste -d, <(grep -v '^#' "$dir/gemm_burst.csv" | tail -n +2) \
          <(grep -v '^#' "$dir/gemm_sustained.csv" | tail -n +2) |
while IFS=, read -r m n k dt tb _ _ _ _ ts; do
  model=$("$moesim" gemm "$m" "$n" "$k" --gpu "$gpu" --dtype "$dt" \
            --set cluster.launch_us=0 --json | sed -n 's/.*"time_us":[[:space:]]*\([0-9.e+-]*\).*/\1/p')
  awk -v m="$m" -v n="$n" -v k="$k" -v mo="$model" -v b="$tb" -v s="$ts" 'BEGIN {
    printf "%-22s %11.1f %11.1f %11.1f %7.3f %7.3f\n", m "x" n "x" k, mo, b, s, b / mo, s / mo }'
done | tee /dev/stderr | awk '{ mo += $2; b += $3; s += $4 }
  END { if (mo > 0) printf "all shapes, time-weighted: burst / model %.3f, sustained / model %.3f\n", b / mo, s / mo }'
