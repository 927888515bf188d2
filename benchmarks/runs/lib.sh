# run DATASET NAME [hamr train options...]: one resumable run into benchmarks/results/single/DATASET/NAME
# (skipped when its metrics.json exists or when it is running elsewhere). Sourced by the run scripts.
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
out=benchmarks/results/single
run() {
  local ds=$1 name=$2; shift 2
  local dir=$out/$ds/$name
  if [ -f "$dir/metrics.json" ]; then echo "skip $ds/$name (done)"; return; fi
  if pgrep -f -- "--output-dir $dir " > /dev/null; then echo "skip $ds/$name (running elsewhere)"; return; fi
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$(date -u +%FT%TZ) start $ds/$name: hamr train --dataset $ds $*" | tee -a $out/runs.log
  if hamr train --dataset "$ds" --output-dir "$dir" --no-save-model --seed 42 "$@" > "$dir/train.log" 2>&1; then
    python -c "import json; m=json.load(open('$dir/metrics.json')); t=m['test']; v=m['validation']; print(f\"$ds/$name test macro {100*t['macro_f1']:.1f} micro {100*t['micro_f1']:.1f} | val macro {100*v['macro_f1']:.1f} micro {100*v['micro_f1']:.1f} | s/epoch {m['seconds_per_epoch']:.0f} peak {m['peak_memory_mb']:.0f}MB\")" | tee -a $out/runs.log
  else
    echo "FAILED $ds/$name (see $dir/train.log)" | tee -a $out/runs.log
  fi
}
