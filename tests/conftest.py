"""Shared fixtures: offline hub, the packaged tokenizer, tiny models built in the test, small real slices."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest
import torch

# Tiny models gain nothing from a second thread, and on a shared 2-core machine oversubscribed OpenMP threads
# were seen to slow steps down tenfold.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tokenizer():
    from hamr.tasks import load_tokenizer

    return load_tokenizer()


def tiny_bert(tokenizer, num_labels: int, task: str = "classification", seed: int = 0, dropout: float = 0.1):
    """A 2-layer, 32-wide BERT with the packaged tokenizer's vocabulary (random weights)."""
    from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

    cfg = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    cls = BertForTokenClassification if task == "ner" else BertForSequenceClassification
    return cls(cfg)


def random_embeddings(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, dim)).astype("float32")
    return e / np.linalg.norm(e, axis=1, keepdims=True)


@pytest.fixture
def tiny_models(monkeypatch, tokenizer):
    """Every model a run loads (:meth:`hamr.methods.context.RunContext.new_model`) is a tiny random BERT on the
    packaged tokenizer's vocabulary, with the run's label names."""
    import hamr.methods.context

    def fake_load_model(task, vocab, model_name_or_path=None, **kw):
        m = tiny_bert(tokenizer, len(vocab), str(task), dropout=0.0)
        m.config.id2label, m.config.label2id = vocab.id2label, vocab.label2id
        return m

    monkeypatch.setattr(hamr.methods.context, "load_model", fake_load_model)
