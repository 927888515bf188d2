"""One contract for every training method: each ``hamr.Method`` trains through the public path
(``hamr.pipeline.train_with_method``) on a small slice of a real dataset of each task, with a tiny model built
here, and must finish with finite logged losses and predictions of the right shape.

48 training examples, max_length 32, batch 8, one epoch, a 2-layer 32-wide BERT with the packaged MiniLM
tokenizer. HAMR's kNN embeddings are random (the embedder itself is tested in test_embeddings.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from conftest import random_embeddings, tiny_bert
from hamr import Method, TaskType
from hamr.data import load_benchmark
from hamr.pipeline import RunConfig, RunContext, make_compute_metrics, train_with_method, training_arguments
from hamr.tasks import encode_split

pytestmark = pytest.mark.filterwarnings("ignore:class .*:UserWarning")  # meta-set notes on tiny slices

DATASETS = {TaskType.CLASSIFICATION: "humaid_idai19", TaskType.NER: "tweetner7"}
N = 48



# the smallest settings that still run every part of a method within one epoch
OPTIONS = {
    Method.GBC: {"gbc_warmup_epochs": 0.5, "gbc_score_examples": 8, "gbc_meta_size": 8},
    Method.METABALANCE: {"metabalance_outer_batches": 2},
    Method.LNR: {"lnr_t_flip": 0.0},
}


@pytest.fixture(scope="module", params=[TaskType.CLASSIFICATION, TaskType.NER], ids=str)
def data(request, tokenizer):
    bundle = load_benchmark(DATASETS[request.param], limit=N)
    encoded = {name: encode_split(split, tokenizer, bundle.vocab, 32) for name, split in bundle.splits().items()}
    return bundle, encoded


class TinyRunContext(RunContext):
    def new_model(self):
        return tiny_bert(self.tokenizer, len(self.bundle.vocab), str(self.bundle.task))


@pytest.mark.parametrize("method", list(Method), ids=str)
def test_every_method_trains_through_the_pipeline(method, data, tokenizer, tmp_path, monkeypatch):
    bundle, encoded = data
    options = {"logging_steps": 1, "disable_tqdm": True, **OPTIONS.get(method, {})}
    if method == Method.HAMR:
        options["embedding_cache_dir"] = str(tmp_path / "emb")
        import hamr.embeddings

        monkeypatch.setattr(hamr.embeddings, "embed_texts", lambda texts, *a, **k: random_embeddings(len(texts)))
    config = RunConfig(dataset=bundle.name, limit=N, method=method, max_length=32, epochs=1, batch_size=8,
                       output_dir=str(tmp_path), options=options)
    args = training_arguments(config, bundle.task, str(tmp_path / "trainer"))
    ctx = TinyRunContext(config, bundle, tokenizer, encoded["train"], encoded["validation"], args,
                         make_compute_metrics(bundle.task, bundle))

    trainer = train_with_method(ctx)

    history = trainer.state.log_history
    steps = [r["loss"] for r in history if "loss" in r]
    assert trainer.state.global_step > 0 and len(steps) == trainer.state.global_step
    assert all(math.isfinite(v) for v in steps), steps
    final = [r for r in history if "train_loss" in r]
    assert len(final) == 1 and math.isfinite(final[0]["train_loss"])
    assert any("eval_macro_f1" in r for r in history)  # per-epoch validation ran
    pred = trainer.predict(encoded["validation"])
    n_val, c = len(encoded["validation"]), len(bundle.vocab)
    if bundle.task == TaskType.CLASSIFICATION:
        assert pred.predictions.shape == (n_val, c)
    else:
        assert pred.predictions.shape == (n_val, pred.label_ids.shape[1], c)
        assert pred.label_ids.shape[1] <= 32
    assert np.isfinite(pred.predictions).all()

    out = tmp_path / "trainer"
    if method == Method.LNR:
        flips = json.loads((out / "lnr_flips.json").read_text())
        assert flips["unit"] == ("example" if bundle.task == TaskType.CLASSIFICATION else "entity_span")
        assert flips["num_flipped"] == sum(f["count"] for f in flips["flips"]) > 0
    elif method == Method.GBC:
        assert len(set(trainer.meta_indices)) == 8 and trainer.l2rw_steps == 3  # steps 4-6 re-weighted
        assert json.loads((out / "gbc_selection.json").read_text())["meta_size"] == 8
    elif method == Method.METABALANCE:
        assert all(math.isfinite(r["metabalance_outer_loss"]) for r in history if "metabalance_outer_loss" in r)
    elif method == Method.HAMR:
        assert trainer.meta_steps > 0  # the bi-level step ran
    elif method == Method.BALANCED_SOFTMAX:
        from hamr.losses import BalancedSoftmaxLoss, log_prior

        assert isinstance(trainer.loss_fn, BalancedSoftmaxLoss)  # priors per tag over labelled tokens for NER
        assert torch.allclose(trainer.loss_fn.offsets.cpu(), log_prior(trainer.class_counts))
    elif method == Method.LOGIT_ADJUSTMENT:  # post-hoc by default: the offset went into the output bias
        from hamr.losses import log_prior

        assert torch.allclose(trainer.posthoc_offset.cpu(), log_prior(trainer.class_counts))
