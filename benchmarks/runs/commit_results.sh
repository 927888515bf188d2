#!/usr/bin/env bash
# Stage the finished runs of a bench results folder (folders with done.json) and its logs and summaries;
# per-example files (*.tsv: predictions, HAMR's hardness table with each example's label) stay out by the
# folder's .gitignore. Classification runs' logits.npz (45-98 KB) are staged with -f, so offsets_cv.py reproduces
# from a clone; NER ones (~6 MB) stay on the machine: run offsets_cv.py --json on a grid folder before the machine
# goes, or their cross-validated offsets are lost (session 28 found the NER logits of session 27's runs gone).
# Usage: bash benchmarks/runs/commit_results.sh benchmarks/results/cpu [more folders...]
set -eu
cd "$(dirname "$0")/../.."
for out in "$@"; do
  for done in $(find "$out/runs" -name done.json); do
    run="$(dirname "$done")"
    git add "$run"
    if [ -f "$run/logits.npz" ] && grep -q '"task": "classification"' "$run/metrics.json"; then git add -f "$run/logits.npz"; fi
  done
  for f in bench.log summary.json protocol.json report.md quartiles.png; do
    [ -f "$out/$f" ] && git add "$out/$f"
  done
done
git status --short "$@" | grep -E '\.tsv$' && { echo "refusing: a .tsv is staged" >&2; exit 1; } || true
