"""Probe: what the weight net's raw output s = sigmoid(g_φ(z)) does during a HAMR run, before the normalisation
w = s / mean_B(s) (mean detached). Tests the reading that the hypergradient pushes every s towards the sigmoid's
ceiling (raising all s acts like a larger inner step), where the normalised weights become equal.

Runs one configuration through the pipeline with ``MetaReweighter.step`` wrapped: after every meta step it records
min / mean / max of s and of w on that step's batch, and prints the trajectory (every 5th meta step).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/runs/probe_wnet.py tweetner7 --epochs 1 -o wnet_lr=0.01
"""
from __future__ import annotations

import argparse
import json
import tempfile

import torch

from hamr import pipeline
from hamr.weighting import MetaReweighter


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-train-examples", type=int, default=1000)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("-o", action="append", default=[], help="HAMRArguments field=value")
    a = p.parse_args()
    options = {}
    for kv in a.o:
        k, v = kv.split("=", 1)
        options[k] = json.loads(v) if v[:1].isdigit() or v in ("true", "false") else v
    trace = []
    step = MetaReweighter.step

    def recording_step(self, features, losses, *args, **kwargs):
        result = step(self, features, losses, *args, **kwargs)
        with torch.no_grad():
            s = torch.sigmoid(self.net(features.float())).reshape(-1)
            w = self.weights(features, kwargs.get("prior"))
        trace.append({"meta_step": self.num_steps, "s_min": float(s.min()), "s_mean": float(s.mean()),
                      "s_max": float(s.max()), "w_min": float(w.min()), "w_max": float(w.max())})
        return result

    MetaReweighter.step = recording_step
    with tempfile.TemporaryDirectory() as tmp:
        config = pipeline.RunConfig(dataset=a.dataset, method="hamr", epochs=a.epochs, seed=a.seed,
                                    max_train_examples=a.max_train_examples, max_length=a.max_length,
                                    learning_rate=a.lr, output_dir=tmp, save_model=False, evaluate_each_epoch=False,
                                    options=options)
        result = pipeline.run(config)
    print(f"{a.dataset} options {options}: validation macro-F1 {100 * result['validation']['macro_f1']:.1f}")
    print("meta_step  s_min   s_mean  s_max   w_min  w_max")
    for t in trace[::5] + ([trace[-1]] if len(trace) % 5 != 1 else []):
        print(f"{t['meta_step']:9d}  {t['s_min']:.4f}  {t['s_mean']:.4f}  {t['s_max']:.4f}  {t['w_min']:.3f}  {t['w_max']:.3f}")


if __name__ == "__main__":
    main()
