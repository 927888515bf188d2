#!/usr/bin/env bash
# The single runs quoted in the issue notes (foundation, HAMR, baselines), one after the other.
# Resumable: a run whose metrics.json exists is skipped. Usage: bash benchmarks/runs/issue_runs.sh [GROUP]
# Results: benchmarks/results/single/<dataset>/<name>/metrics.json (no model weights are kept).
set -u
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
out=benchmarks/results/single
run() {  # run DATASET NAME [hamr train options...]
  local ds=$1 name=$2; shift 2
  local dir=$out/$ds/$name
  if [ -f "$dir/metrics.json" ]; then echo "skip $ds/$name (done)"; return; fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$(date -u +%FT%TZ) start $ds/$name: hamr train --dataset $ds $*" | tee -a $out/runs.log
  if hamr train --dataset "$ds" --output-dir "$dir" --no-save-model --seed 42 "$@" > "$dir/train.log" 2>&1; then
    python -c "import json,sys; m=json.load(open('$dir/metrics.json')); t=m['test']; print(f\"$ds/$name macro {100*t['macro_f1']:.1f} micro {100*t['micro_f1']:.1f} s/epoch {m['seconds_per_epoch']:.0f} peak {m['peak_memory_mb']:.0f}MB\")" | tee -a $out/runs.log
  else
    echo "FAILED $ds/$name (see $dir/train.log)" | tee -a $out/runs.log
  fi
}
group=${1:-all}
CLS="--epochs 3 --max-length 64 --batch-size 16"
NER="--epochs 3 --max-length 128 --batch-size 16"
if [ "$group" = all ] || [ "$group" = core ]; then
  run humaid_idai19 erm $CLS --method erm
  run humaid_idai19 hamr_last1 $CLS --method hamr
  run tweetner7 erm $NER --method erm
  run tweetner7 hamr_last1 $NER --method hamr
  run humaid_idai19 hamr_head $CLS --method hamr -o lookahead_scope=head
  run humaid_idai19 hamr_all $CLS --method hamr -o lookahead_scope=all
fi
if [ "$group" = all ] || [ "$group" = baselines ]; then
  for m in icf effective_number focal dice balanced_sampler lnr gbc metabalance; do
    run humaid_idai19 $m $CLS --method $m
  done
  for m in icf effective_number focal dice balanced_sampler lnr gbc metabalance; do
    run tweetner7 $m $NER --method $m
  done
fi
