#!/usr/bin/env bash
# Issue 5: the cheap baselines at 12 epochs (benchmarks/configs/screens/cheap_12ep.json), seed 42, validation only.
# Most decisive first. Resumable (finished runs are skipped). Started at nice 19 beside the grid, it takes the CPU
# only when the grid's workers leave it idle:
#   nohup nice -n 19 bash benchmarks/runs/cheap_12ep.sh > /tmp/cheap12.out 2>&1 &
set -u
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
screen() { hamr bench run benchmarks/configs/screens/cheap_12ep.json --jobs 1 --threads 1 \
  --out benchmarks/results/screens/cheap_12ep --only-datasets "$1" --only-methods "$2"; }
screen bionlp effective_number
screen tweetner7 dice
screen sst5 focal
screen mit_restaurant lnr
screen humaid_irma17 balanced_sampler
screen bionlp erm
screen tweetner7 erm
screen sst5 erm
screen mit_restaurant erm
screen humaid_idai19 hamr
screen humaid_idai19 icf
screen humaid_idai19 erm
