#!/usr/bin/env bash
# The CPU grid in the order the issue notes need it (every step resumable: finished runs are skipped).
# Run from a worktree so that code edits in the main tree do not reach running benches:
#   git worktree add ../hamr-grid HEAD && cd ../hamr-grid && nohup bash benchmarks/runs/grid_queue.sh /work/main/benchmarks/results/cpu &
set -u
cd "$(dirname "$0")/../.."
out=${1:-benchmarks/results/cpu}
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1
grid() { hamr bench run benchmarks/configs/cpu.json --jobs 2 --out "$out" "$@"; }
MAIN=erm,icf,effective_number,focal,hamr
OTHERS=dice,balanced_sampler,lnr,gbc,metabalance
grid --only-datasets tweetner7 --only-methods $MAIN --seeds 42        # issues 3, 4, 7: NER
grid --only-datasets humaid_idai19 --only-methods $OTHERS --seeds 42  # issue 4: every baseline on Idai19
grid --only-datasets tweetner7 --only-methods $OTHERS --seeds 42      # issue 4: every baseline on TweetNER7
grid --only-datasets tweetner7 --only-methods $MAIN --seeds 43,44     # issue 7: 3 seeds on NER
grid --only-datasets humaid_idai19 --only-methods $OTHERS --seeds 43,44
grid                                                                   # the rest of the grid
