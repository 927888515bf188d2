#!/usr/bin/env bash
# The single runs quoted in the issue notes (foundation, HAMR, baselines), one after the other.
# Resumable: a run whose metrics.json exists is skipped. Usage: bash benchmarks/runs/issue_runs.sh [a|b]
# Two queues (a, b) can run side by side on 2 cores, one thread each.
# Results: benchmarks/results/single/<dataset>/<name>/metrics.json (no model weights are kept).
set -u
cd "$(dirname "$0")/../.."
source benchmarks/runs/lib.sh
queue=${1:-a}
CLS="--epochs 3 --max-length 64 --batch-size 16"
NER="--epochs 3 --max-length 128 --batch-size 16"
if [ "$queue" = a ]; then
  run humaid_idai19 erm $CLS --method erm
  run humaid_idai19 hamr_last1 $CLS --method hamr
  run humaid_idai19 hamr_prior05 $CLS --method hamr -o class_prior_power=0.5
  run tweetner7 hamr_last1 $NER --method hamr
  run humaid_idai19 hamr_prior1 $CLS --method hamr -o class_prior_power=1.0
  run humaid_idai19 hamr_cls_prior05 $CLS --method hamr -o class_prior_power=0.5 -o wnet_inputs=loss_class -o meta_class_balanced=true -o wnet_lr=1e-3
  run humaid_idai19 gbc $CLS --method gbc
  run humaid_idai19 metabalance $CLS --method metabalance
  run humaid_idai19 hamr_head $CLS --method hamr -o lookahead_scope=head
  run humaid_idai19 hamr_all $CLS --method hamr -o lookahead_scope=all
  for m in lnr gbc metabalance; do run tweetner7 $m $NER --method $m; done
fi
if [ "$queue" = b ]; then
  [ -f benchmarks/results/overhead_humaid_idai19.json ] || python benchmarks/overhead.py --dataset humaid_idai19 --steps 10
  run tweetner7 erm $NER --method erm
  run humaid_idai19 icf $CLS --method icf
  run humaid_idai19 effective_number $CLS --method effective_number
  run humaid_idai19 focal $CLS --method focal
  run humaid_idai19 dice $CLS --method dice
  run humaid_idai19 balanced_sampler $CLS --method balanced_sampler
  run humaid_idai19 lnr $CLS --method lnr
  for m in icf effective_number focal dice balanced_sampler; do run tweetner7 $m $NER --method $m; done
  # Dice at smooth 1e-4 (session 11: the old default smooth 1 is the "dice" run above, collapsed to the majority class)
  run humaid_idai19 dice_smooth1e-4 $CLS --method dice -o dice_smooth=0.0001
fi
