"""One contract for every registered training method (hamr.methods.checks, imbalanced-learn style): each method
of ``hamr.methods.list_methods()`` trains through its registered ``train_fn`` on a small slice of a real dataset of
each task, with a tiny model built here, and must finish with finite logged losses and predictions, write exactly
the files it declares, round-trip its options, and train differently from ERM on the same data and seed (a method
silently running plain cross-entropy fails). ERM itself must give the same bits twice.

48 training examples, max_length 32, batch 8, one epoch, a 2-layer 32-wide BERT with the packaged MiniLM
tokenizer. HAMR's kNN embeddings are random (the embedder itself is tested in test_embeddings.py).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import random_embeddings, tiny_bert
from hamr import Method, TaskType
from hamr.config import RunConfig
from hamr.methods import checks, get_method, list_methods
from hamr.methods.context import RunContext
from hamr.data import load_benchmark
from hamr.pipeline import make_compute_metrics, training_arguments
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


def _context_factory(data, tokenizer, root):
    bundle, encoded = data

    def make(method, options):
        opts = {"logging_steps": 1, "disable_tqdm": True, **OPTIONS.get(method, {}), **options}
        if method == Method.HAMR:
            opts["embedding_cache_dir"] = str(root / "emb")
        out = root / str(method)
        config = RunConfig(dataset=bundle.name, limit=N, method=method, max_length=32, epochs=1, batch_size=8,
                           output_dir=str(out), options=opts)
        args = training_arguments(config, bundle.task, str(out / "trainer"))
        return TinyRunContext(config, bundle, tokenizer, encoded["train"], encoded["validation"], args,
                              make_compute_metrics(bundle.task, bundle))

    return make


@pytest.fixture(autouse=True)
def random_knn_embeddings(monkeypatch):
    import hamr.embeddings

    monkeypatch.setattr(hamr.embeddings, "embed_texts", lambda texts, *a, **k: random_embeddings(len(texts)))


@pytest.fixture(scope="module")
def erm_run(data, tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("erm_reference")
    return checks.train_for_checks(Method.ERM, _context_factory(data, tokenizer, root))


def test_the_registry_holds_every_method():
    assert list_methods() == list(Method)
    assert [m for m in list_methods() if not get_method(m).differs_from_erm] == [Method.ERM]


@pytest.mark.parametrize("method", list_methods(), ids=str)
def test_options_round_trip(method):
    checks.check_options_round_trip(get_method(method))


@pytest.mark.parametrize("method", list_methods(), ids=str)
def test_every_method_meets_the_contract(method, data, tokenizer, tmp_path, erm_run):
    bundle, encoded = data
    run = checks.train_for_checks(method, _context_factory(data, tokenizer, tmp_path))
    checks.check_trains_with_finite_losses(run)
    checks.check_writes_declared_files(run)
    gap = checks.check_differs_from_erm(run, erm_run)
    trainer, history = run.trainer, run.trainer.state.log_history
    assert any("eval_macro_f1" in r for r in history)  # per-epoch validation ran
    n_val, c = len(encoded["validation"]), len(bundle.vocab)
    if bundle.task == TaskType.CLASSIFICATION:
        assert run.predictions.shape == (n_val, c)
    else:
        assert run.predictions.shape[0] == n_val and run.predictions.shape[2] == c
        assert run.predictions.shape[1] <= 32

    out = tmp_path / str(method) / "trainer"
    if method == Method.ERM:
        assert gap == 0.0
    elif method == Method.LNR:
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
        from hamr.losses import log_prior
        from hamr.methods.logit_adjustment import BalancedSoftmaxLoss

        assert isinstance(trainer.loss_fn, BalancedSoftmaxLoss)  # priors per tag over labelled tokens for NER
        assert torch.allclose(trainer.loss_fn.offsets.cpu(), log_prior(trainer.class_counts))
    elif method == Method.LOGIT_ADJUSTMENT:  # post-hoc by default: the offset went into the output bias
        from hamr.losses import log_prior

        assert torch.allclose(trainer.posthoc_offset.cpu(), log_prior(trainer.class_counts))


def test_a_method_silently_training_plain_cross_entropy_fails_the_contract(data, tokenizer, tmp_path, erm_run,
                                                                           monkeypatch):
    """Focal's registry entry without its loss trains plain CE: the contract must catch it."""
    import dataclasses

    from hamr.methods import registry

    broken = dataclasses.replace(get_method(Method.FOCAL), build_loss=None)
    monkeypatch.setitem(registry._REGISTRY, Method.FOCAL, broken)
    run = checks.train_for_checks(Method.FOCAL, _context_factory(data, tokenizer, tmp_path))
    checks.check_trains_with_finite_losses(run)  # it trains fine ...
    with pytest.raises(AssertionError, match="equal ERM's"):
        checks.check_differs_from_erm(run, erm_run)  # ... but as ERM
