"""One HAMR training run on a tiny BERT and a real Idai19 slice, for ``tests/test_distributed.py``.

Run by ``python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py OUT`` (each rank
writes ``OUT/rank{r}.pt``), or in-process through :func:`run` for the single-process reference. Every rank
dumps what must agree across ranks (weight net, hardness memory m, sampler p, model parameters, the indices it
trained on per step) and, with ``--resume``, the same again for a second trainer resumed from the epoch-1
checkpoint of the first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from conftest import random_embeddings, tiny_bert  # noqa: E402

#: Idai19 slice sizes: 80 training examples → ⌈1.2·80⌉ = 96 draws per epoch, a multiple of every global batch
#: used here (16), so accelerate's BatchSamplerShard never pads the last batch with wrapped-around indices.
LIMITS = {"train": 80, "validation": 40, "test": 40}
META_BATCH = 8
MAX_LENGTH = 32


def _data():
    from hamr.data import load_benchmark
    from hamr.metaset import build_meta_set
    from hamr.tasks import encode_split, load_tokenizer

    tokenizer = load_tokenizer()
    bundle = load_benchmark("humaid_idai19", limit=LIMITS)
    with warnings.catch_warnings():  # "class X has only 2 training examples": expected on an 80-example slice
        warnings.simplefilter("ignore")
        meta = build_meta_set(bundle.train, bundle.validation, seed=42)
    enc = lambda s: encode_split(s, tokenizer, bundle.vocab, MAX_LENGTH)  # noqa: E731
    return tokenizer, bundle, enc(bundle.train), enc(meta.split), enc(bundle.test)


def _trainer_class():
    from hamr.tasks import INDEX_KEY
    from hamr.methods.hamr import HAMRTrainer

    class RecordingTrainer(HAMRTrainer):
        """Records the example indices this rank trained on, per step."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if model.training:
                self.seen = getattr(self, "seen", []) + [inputs[INDEX_KEY].tolist()]
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return RecordingTrainer


def _make_trainer(data, out_dir: str, per_device_batch: int, epochs: int, save: bool, meta_update_lr: float,
                  form: str = "wnet", class_params: str = "per_class"):
    from hamr.methods.hamr import HAMRArguments

    tokenizer, bundle, train, meta, _ = data
    args = HAMRArguments(
        output_dir=out_dir, num_train_epochs=epochs, per_device_train_batch_size=per_device_batch,
        learning_rate=1e-3, seed=11, report_to=[], save_strategy="epoch" if save else "no", logging_steps=1,
        use_cpu=True, disable_tqdm=True, dataloader_num_workers=0,
        wnet_lr=1e-2, meta_update_lr=meta_update_lr, lookahead_scope="all", meta_batch_size=META_BATCH,
        # the scenario the tolerances of test_distributed were measured on: the paper's uniform start and meta
        # batches (the class-level start n^-0.5 scales weights and m up to ~2x, and the O(η²) gap with them),
        # 1.2N draws and the kNN boost on (the reference settings: every part of the sampler is exercised)
        class_prior_power=0.0, meta_class_balanced=False, meta_interval=1, oversample=1.2, knn_lambda=0.7,
        weighting_form=form, class_param_lr=0.05, class_params=class_params,
        # gloo only under torchrun: a ddp_backend without a launcher makes accelerate call
        # torch.distributed.get_world_size() on a process group nobody initialised
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    return _trainer_class()(
        model=tiny_bert(tokenizer, len(bundle.vocab), dropout=0.0), args=args, train_dataset=train,
        meta_dataset=meta, processing_class=tokenizer, embeddings=random_embeddings(len(train)),
        group_names=bundle.vocab.labels,
    )


@torch.no_grad()
def _macro_f1(trainer, data) -> float:
    from hamr.metrics import classification_metrics
    from hamr.tasks import IndexCollator

    tokenizer, bundle, _, _, test = data
    model = trainer.accelerator.unwrap_model(trainer.model).eval()
    collate = IndexCollator(tokenizer, trainer.task)
    preds, gold = [], []
    for start in range(0, len(test), 20):
        batch = collate([test[i] for i in range(start, min(start + 20, len(test)))])
        batch.pop("example_index")
        gold += batch.pop("labels").tolist()
        preds += model(**batch).logits.argmax(-1).tolist()
    return classification_metrics(gold, preds, bundle.vocab.labels)["macro_f1"]


def _dump(trainer, data, wall: float) -> dict:
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    model = trainer.accelerator.unwrap_model(trainer.model)
    return {
        "world_size": trainer.accelerator.num_processes,
        "rank": trainer.accelerator.process_index,
        "global_step": trainer.state.global_step,
        "meta_steps": trainer.meta_steps,
        "meta_skipped": (trainer.class_reweighter or trainer.reweighter).num_skipped,
        "wnet": {k: v.detach().cpu().clone() for k, v in (
            trainer.class_reweighter.net if trainer.class_reweighter is not None else trainer.reweighter.net
        ).state_dict().items()},
        "class_params": None if trainer.class_reweighter is None else {
            "beta": trainer.class_reweighter.beta.detach().cpu().clone(),
            "beta_start": trainer.class_reweighter.beta_start.clone(),
            "delta": trainer.class_reweighter.delta.detach().cpu().clone()},
        "memory": np.array(trainer.memory.values, copy=True),
        "boost": np.array(trainer.boost, copy=True),
        "p": None if trainer.sampler.probabilities is None else trainer.sampler.probabilities.copy(),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "seen": list(getattr(trainer, "seen", [])),
        "losses": losses,
        "final_loss": float(np.mean(losses[-6:])) if losses else float("nan"),
        "macro_f1": _macro_f1(trainer, data),
        "train_seconds": wall,
    }


def run(
    out: str | os.PathLike, per_device_batch: int, epochs: int = 2, resume: bool = False, meta_update_lr: float = 0.5,
    form: str = "wnet", class_params: str = "per_class",
) -> dict:
    """Train once (and, with ``resume``, again from the epoch-1 checkpoint); return this rank's dump and
    write it to ``out/rank{r}.pt``."""
    out = Path(out)
    data = _data()
    trainer = _make_trainer(data, str(out / "full"), per_device_batch, epochs, resume, meta_update_lr, form, class_params)
    t0 = time.perf_counter()
    trainer.train()
    result = _dump(trainer, data, time.perf_counter() - t0)
    if resume:
        steps = sorted((out / "full").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        result["checkpoints"] = [p.name for p in steps]
        result["hamr_state_files"] = sorted(p.name for p in steps if (p / "hamr_state.pt").exists())
        resumed = _make_trainer(data, str(out / "resumed"), per_device_batch, epochs, False, meta_update_lr, form, class_params)
        resumed.train(resume_from_checkpoint=str(steps[0]))
        result["resumed"] = _dump(resumed, data, 0.0)
        result["resumed"]["resumed_from"] = steps[0].name
    if result["world_size"] > 1:
        result["global_stats_error"] = _global_stats_error(result["rank"], result["world_size"])
    torch.save(result, out / f"rank{result['rank']}.pt")
    return result


def _global_stats_error(rank: int, world: int) -> float:
    """Largest gap between the all-reduced statistics of :mod:`hamr.distributed` on per-rank pieces of
    unequal length and the single-process statistics of the concatenated batch."""
    from hamr.ddp import global_mean, global_zscore
    from hamr.weighting import batch_zscore

    pieces = [torch.linspace(-1.0, 2.0, 3 + r) ** 2 + r for r in range(world)]
    full = torch.cat(pieces)
    start = sum(len(p) for p in pieces[:rank])
    z_gap = (global_zscore(pieces[rank]) - batch_zscore(full)[start : start + len(pieces[rank])]).abs().max()
    mean_gap = (global_mean(pieces[rank]) - full.mean()).abs()
    return float(max(z_gap, mean_gap))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--per-device-batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--meta-update-lr", type=float, default=0.5)
    parser.add_argument("--weighting-form", default="wnet")
    parser.add_argument("--class-params", default="per_class")
    a = parser.parse_args(argv)
    torch.set_num_threads(1)
    run(a.out, a.per_device_batch, a.epochs, a.resume, a.meta_update_lr, a.weighting_form, a.class_params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
