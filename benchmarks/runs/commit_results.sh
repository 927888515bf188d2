#!/usr/bin/env bash
# Stage the finished runs of a bench results folder (folders with done.json) and its logs and summaries;
# per-example predictions (*.tsv) stay out by the folder's .gitignore; HAMR's hardness table
# (hamr_examples.tsv: index, label, hardness, no texts) goes in, Table 4 is computed from it.
# Usage: bash benchmarks/runs/commit_results.sh benchmarks/results/cpu [more folders...]
set -eu
cd "$(dirname "$0")/../.."
for out in "$@"; do
  for done in $(find "$out/runs" -name done.json); do git add "$(dirname "$done")"; done
  for f in bench.log summary.json protocol.json report.md quartiles.png; do
    [ -f "$out/$f" ] && git add "$out/$f"
  done
done
git status --short "$@" | grep -E '\.tsv$' | grep -v '/hamr_examples\.tsv$' && { echo "refusing: a .tsv other than hamr_examples.tsv is staged" >&2; exit 1; } || true
