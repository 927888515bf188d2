#!/usr/bin/env bash
# Issue 7 screening on Cyclone-Idai19 (seed 42, the method.md §10 setting), chosen on validation.
# Resumable like issue_runs.sh. Usage: bash benchmarks/runs/issue7_runs.sh
set -u
cd "$(dirname "$0")/../.."
source benchmarks/runs/lib.sh
CLS="--epochs 3 --max-length 64 --batch-size 16"
NER="--epochs 3 --max-length 128 --batch-size 16"
# the meta objective made balanced: meta batches round-robin over classes
run humaid_idai19 hamr_balmeta $CLS --method hamr -o meta_class_balanced=true
# ... with a weight net ten times faster and a class-level start between ERM and ICF
run humaid_idai19 hamr_balmeta_prior05_lr1e-3 $CLS --method hamr -o meta_class_balanced=true -o class_prior_power=0.5 -o wnet_lr=1e-3
# the cheapest look-ahead that fits 1.5x ERM per epoch (benchmarks/results/overhead_humaid_idai19.md)
run humaid_idai19 hamr_balmeta_head_int2 $CLS --method hamr -o meta_class_balanced=true -o lookahead_scope=head -o meta_interval=2
run tweetner7 hamr_last1 $NER --method hamr
run humaid_idai19 hamr_balmeta_cls $CLS --method hamr -o meta_class_balanced=true -o wnet_inputs=loss_class -o wnet_lr=1e-3
# the new defaults at the cheapest look-ahead that fits 1.5x ERM per epoch
run humaid_idai19 hamr_default_head_int2 $CLS --method hamr -o lookahead_scope=head -o meta_interval=2
# session 10: the variants within 1.5x ERM per epoch, and the class-level start τ (all on Idai19 validation)
run humaid_idai19 hamr_lastk_int2_os1 $CLS --method hamr -o meta_interval=2 -o oversample=1.0
run humaid_idai19 hamr_head_int1_os1 $CLS --method hamr -o lookahead_scope=head -o oversample=1.0
run humaid_idai19 hamr_head_int1_os1_tau075 $CLS --method hamr -o lookahead_scope=head -o oversample=1.0 -o class_prior_power=0.75
run humaid_idai19 hamr_head_int1_os1_tau1 $CLS --method hamr -o lookahead_scope=head -o oversample=1.0 -o class_prior_power=1.0
