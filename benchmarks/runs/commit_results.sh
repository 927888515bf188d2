#!/usr/bin/env bash
# Stage the finished runs of a bench results folder (folders with done.json) and its logs and summaries;
# per-example files (*.tsv: predictions, HAMR's hardness table with each example's label) stay out by the
# folder's .gitignore.
# Usage: bash benchmarks/runs/commit_results.sh benchmarks/results/cpu [more folders...]
set -eu
cd "$(dirname "$0")/../.."
for out in "$@"; do
  for done in $(find "$out/runs" -name done.json); do git add "$(dirname "$done")"; done
  for f in bench.log summary.json protocol.json report.md quartiles.png; do
    [ -f "$out/$f" ] && git add "$out/$f"
  done
done
git status --short "$@" | grep -E '\.tsv$' && { echo "refusing: a .tsv is staged" >&2; exit 1; } || true
