#!/usr/bin/env bash
# Class-weighting baselines re-run after the weighted CE became torch's weighted mean.
set -u
cd "$(dirname "$0")/../.."
source benchmarks/runs/lib.sh
CLS="--epochs 3 --max-length 64 --batch-size 16"
run humaid_idai19 icf $CLS --method icf
run humaid_idai19 effective_number $CLS --method effective_number
