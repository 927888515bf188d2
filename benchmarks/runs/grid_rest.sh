#!/usr/bin/env bash
# The rest of the CPU grid, in the order issue 5 needs it (session 16). Every step is resumable: finished runs
# are skipped. Start it twice (two workers, one thread each): the workers walk the same list and the run
# claims (<out>/claims/) give each run to one of them, so no core idles at the tail of a selection.
# Run from a frozen worktree so that code edits in the main tree do not reach running benches:
#   git worktree add --detach ../hamr-bench HEAD && cd ../hamr-bench
#   for w in 1 2; do nohup bash benchmarks/runs/grid_rest.sh /work/main/benchmarks/results/cpu > /tmp/grid-w$w.out 2>&1 & sleep 20; done
set -u
cd "$(dirname "$0")/../.."
out=${1:-benchmarks/results/cpu}
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
grid() { hamr bench run benchmarks/configs/cpu.json --jobs 1 --threads 1 --out "$out" "$@"; }
ABLATIONS=hamr_wo_awe,hamr_wo_resampling,hamr_wo_knn,hamr_wo_all
# Done in sessions 15-16: every baseline at seed 42 on Irma17, SST-5 and BioNLP; Idai19 Dice and MetaBalance seed 44;
# the four ablations at seed 42 on MIT-R, BioNLP, TweetNER7 and Irma17. Session 17's order: what decides Table 2 first.
grid --only-datasets mit_restaurant --only-methods metabalance --seeds 42          # Table 2 complete for seed 42
grid --only-methods $ABLATIONS --seeds 42                                            # Table 3, seed 42
grid --only-methods metabalance --seeds 43                                           # the closest rival, second seed
grid --seeds 43                                                                      # then seed 43, then 44
grid --only-methods metabalance --seeds 44
grid --seeds 44
