"""Per-step cost of HAMR variants against plain fine-tuning, measured interleaved on the same batches.

Timing whole runs on a shared 2-core machine mixes in whatever else runs; here every configuration takes one
step in turn on the same batch (round robin), so the ratios to ERM hold even when the machine is busy.
s/epoch is estimated as s/step × steps per epoch (HAMR draws oversample·N examples per epoch, the resolved
`oversample` of each configuration; a meta step runs every meta_interval steps, so a configuration's s/step is
the mean over one cycle of meta_interval steps of each phase's median).

    HF_HUB_OFFLINE=1 python benchmarks/overhead.py --dataset humaid_idai19 --steps 12
writes benchmarks/results/overhead_<dataset>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from hamr.data import load_benchmark
from hamr.metaset import build_meta_set
from hamr.tasks import IndexCollator, encode_split, load_model, load_tokenizer
from hamr.methods.arguments import ImbalanceArguments
from hamr.methods.base import ImbalanceTrainer
from hamr.methods.hamr import HAMRArguments, HAMRTrainer

CONFIGS = {  # options on top of HAMRArguments' defaults (head, meta every 3 steps; N draws per epoch and no kNN
    # boost since session 22, 1.2N with the boost before): "hamr_default" is whatever the library's default is
    "erm": {},
    "hamr_default": {},
    "hamr_os12": {"oversample": 1.2},  # the default of sessions 12-21 (the kNN boost's cost is per epoch, not here)
    "hamr_int2_n": {"oversample": 1.0, "meta_interval": 2},  # the default before session 12
    "hamr_all": {"lookahead_scope": "all", "meta_interval": 1, "oversample": 1.0},
    "hamr_all_interval2": {"lookahead_scope": "all", "meta_interval": 2, "oversample": 1.0},
    "hamr_last1": {"lookahead_scope": "last_k", "lookahead_layers": 1, "meta_interval": 1, "oversample": 1.0},
    "hamr_head": {"lookahead_scope": "head", "meta_interval": 1, "oversample": 1.0},
    "hamr_last1_interval2": {"lookahead_scope": "last_k", "meta_interval": 2, "oversample": 1.0},
    "hamr_head_interval2": {"lookahead_scope": "head", "meta_interval": 2, "oversample": 1.0},
    "hamr_last1_os12": {"lookahead_scope": "last_k", "meta_interval": 1, "oversample": 1.2},
    "hamr_os12_interval3": {"oversample": 1.2, "meta_interval": 3},
    "hamr_last1_fd": {"lookahead_scope": "last_k", "meta_interval": 1, "hypergrad_backend": "finite_difference", "oversample": 1.0},
    # issue 22: the head-only hypergradient from cached encoder features, and the class_residual weighting form
    "hamr_default_cached": {"hypergrad_backend": "head_cached", "oversample": 1.2},
    "hamr_cr_exact": {"weighting_form": "class_residual", "oversample": 1.2},
    "hamr_cr_cached": {"weighting_form": "class_residual", "hypergrad_backend": "head_cached", "oversample": 1.2},
    # session 21: the same with N draws per epoch (oversample 1.0), the cost of the method without the extra 20%
    "hamr_cached_os10": {"hypergrad_backend": "head_cached", "oversample": 1.0},
    "hamr_cr_cached_os10": {"weighting_form": "class_residual", "hypergrad_backend": "head_cached", "oversample": 1.0},
    # session 22: the candidate default, class_residual with the half meta objective and a cap on beta / delta
    "hamr_cr_half_cap": {"weighting_form": "class_residual", "hypergrad_backend": "head_cached", "meta_objective": "half",
                         "class_param_cap": 0.3, "oversample": 1.0},
    # session 34: the default until session 33 on NER, with the per-example residual u_φ (NER only)
    "hamr_with_residual": {"example_residual": True},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="humaid_idai19")
    ap.add_argument("--steps", type=int, default=12, help="timed steps per configuration")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args()
    torch.manual_seed(0)
    bundle = load_benchmark(a.dataset)
    tok = load_tokenizer()
    train = encode_split(bundle.train, tok, bundle.vocab, a.max_length)
    meta = encode_split(build_meta_set(bundle.train, bundle.validation).split, tok, bundle.vocab, a.max_length)
    collate = IndexCollator(tok, bundle.task)
    rng = np.random.default_rng(0)
    batches = [collate([train[int(i)] for i in rng.choice(len(train), a.batch_size, replace=False)])
               for _ in range(a.steps + 2)]
    emb = rng.normal(size=(len(train), 16)).astype("float32")
    trainers = {}
    for name in a.configs:
        common = dict(output_dir=f"/tmp/hamr_overhead/{name}", per_device_train_batch_size=a.batch_size,
                      report_to=[], use_cpu=True, disable_tqdm=True, learning_rate=4e-5)
        model = load_model(bundle.task, bundle.vocab)
        if name == "erm":
            tr = ImbalanceTrainer(model=model, args=ImbalanceArguments(**common), train_dataset=train,
                                  processing_class=tok, task=bundle.task)
        else:
            tr = HAMRTrainer(model=model, args=HAMRArguments(**common, **CONFIGS[name]), train_dataset=train,
                             meta_dataset=meta, processing_class=tok, embeddings=emb, task=bundle.task)
        tr.create_optimizer_and_scheduler(num_training_steps=1000)
        tr.current_gradient_accumulation_steps = 1
        trainers[name] = tr
    times: dict[str, list[float]] = {n: [] for n in trainers}
    for step, batch in enumerate(batches):
        for name, tr in trainers.items():
            tr.state.global_step = step
            inputs = {k: v.clone() for k, v in batch.items()}
            t = time.perf_counter()
            tr.training_step(tr.model, inputs)
            tr.optimizer.step()
            tr.optimizer.zero_grad()
            if step >= 2:  # two warm-up steps
                times[name].append(time.perf_counter() - t)
    n = len(train)
    base = statistics.median(times["erm"]) if "erm" in times else None
    rows = []
    for name, ts in times.items():
        interval = 1 if name == "erm" else int(trainers[name].args.meta_interval)
        first = 2  # timed steps start at step 2: phase of step j is (first + j) % interval
        med = statistics.mean(statistics.median(ts[j] for j in range(len(ts)) if (first + j) % interval == ph)
                              for ph in range(interval))
        oversample = 1.0 if name == "erm" else trainers[name].args.oversample
        steps_epoch = math.ceil(math.ceil(oversample * n) / a.batch_size)
        rows.append({"config": name, "options": CONFIGS[name], "oversample": oversample, "meta_interval": interval,
                     "median_s_per_step": med,
                     "step_ratio_to_erm": med / base if base else None,
                     "est_s_per_epoch": med * steps_epoch,
                     "epoch_ratio_to_erm": (med * steps_epoch) / (base * math.ceil(n / a.batch_size)) if base else None})
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    meta_info = {"dataset": a.dataset, "threads": torch.get_num_threads(),
                 "load_average": os.getloadavg(), "batch_size": a.batch_size, "max_length": a.max_length, "timed_steps": a.steps,
                 "command": f"HF_HUB_OFFLINE=1 OMP_NUM_THREADS={torch.get_num_threads()} python benchmarks/overhead.py "
                            f"--dataset {a.dataset} --max-length {a.max_length} --batch-size {a.batch_size} --steps {a.steps} "
                            f"--configs {' '.join(a.configs)} --out {a.out}"}
    (out / f"overhead_{a.dataset}.json").write_text(json.dumps({**meta_info, "rows": rows}, indent=2))
    lines = [f"# Per-step overhead on {a.dataset} (MiniLM, batch {a.batch_size}, length {a.max_length})", "",
             f"`{meta_info['command']}`; medians over {a.steps} interleaved steps.", "",
             "| config | meta every | oversample | s/step | × ERM step | est. s/epoch | × ERM epoch |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['meta_interval']} | {r['oversample']:g} | {r['median_s_per_step']:.2f} | "
                     f"{r['step_ratio_to_erm']:.2f} | "
                     f"{r['est_s_per_epoch']:.0f} | {r['epoch_ratio_to_erm']:.2f} |")
    (out / f"overhead_{a.dataset}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
