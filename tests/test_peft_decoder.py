"""HAMR on peft LoRA models: a tiny BERT encoder and tiny randomly initialised decoder-only classifiers
(Llama, Qwen2), with the virtual step restricted to the LoRA parameters (``lookahead_scope="lora"``)."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, TaskType, get_peft_model

from hamr.weighting import select_lookahead


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    import ddp_worker

    return ddp_worker._data()  # tiny real Idai19 slice: 80 train, 47 meta, 40 test; the packaged tokenizer


def _train(model, data, tmp_path, steps: int = 4):
    from conftest import random_embeddings
    from hamr.methods.hamr import HAMRTrainer
    from hamr.methods.hamr import HAMRArguments

    tokenizer, bundle, train, meta, _ = data
    args = HAMRArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=8, learning_rate=1e-3,
        seed=11, report_to=[], save_strategy="no", logging_steps=1000, use_cpu=True, disable_tqdm=True,
        wnet_lr=1e-2, meta_update_lr=0.5, lookahead_scope="lora", meta_batch_size=8, meta_interval=1,
    )
    tr = HAMRTrainer(
        model=model, args=args, train_dataset=train, meta_dataset=meta, processing_class=tokenizer,
        embeddings=random_embeddings(len(train)), group_names=bundle.vocab.labels,
    )
    hypers = []
    original = tr.reweighter.hypergradient

    def recording(*a, **k):
        h, m = original(*a, **k)
        hypers.append(torch.cat([x.detach().flatten() for x in h]))
        return h, m

    tr.reweighter.hypergradient = recording
    phi0 = [p.detach().clone() for p in tr.reweighter.net.parameters()]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    tr.train()
    phi_moved = any(not torch.equal(a, b) for a, b in zip(phi0, tr.reweighter.net.parameters()))
    return tr, hypers, phi_moved, before


def _assert_hamr_ran(tr, hypers, phi_moved, steps: int = 4):
    assert tr.state.global_step == steps and tr.meta_steps == steps and tr.reweighter.num_skipped == 0
    assert len(hypers) == steps and all(torch.isfinite(h).all() for h in hypers)
    assert any(h.abs().max() > 0 for h in hypers)
    assert phi_moved, "the weight net did not move"


def test_lora_bert_lookahead_is_lora_only(data, tmp_path):
    from conftest import tiny_bert

    tokenizer, bundle, *_ = data
    model = get_peft_model(
        tiny_bert(tokenizer, len(bundle.vocab), dropout=0.0),
        LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["query", "value"]),
    )
    lora = {n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n}
    head = {n for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n}
    assert len(lora) == 2 * 2 * 2  # 2 layers × (query, value) × (A, B)
    assert head and all("classifier" in n for n in head)  # peft trains the new head too (modules_to_save)
    look = select_lookahead(model, "lora")
    assert set(look) == lora  # the virtual step moves LoRA parameters only: not the head, not the frozen base
    assert set(select_lookahead(model, "head")) == head  # the default scope finds the head inside peft's wrapper

    tr, hypers, phi_moved, before = _train(model, data, tmp_path)
    _assert_hamr_ran(tr, hypers, phi_moved)
    assert hypers[0].numel() == sum(p.numel() for p in tr.reweighter.net.parameters())
    after = dict(model.named_parameters())
    frozen = [n for n, p in after.items() if not p.requires_grad]
    assert frozen and all(torch.equal(before[n], after[n]) for n in frozen)  # the base model stayed as it was
    assert any(not torch.equal(before[n], after[n]) for n in lora)  # LoRA adapters trained
    assert all(not torch.equal(before[n], after[n]) for n in head)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_tiny_decoder_with_lora_trains_with_hamr(data, tmp_path, arch):
    from transformers import AutoModelForSequenceClassification, LlamaConfig, Qwen2Config

    tokenizer, bundle, *_ = data
    config_cls = {"llama": LlamaConfig, "qwen2": Qwen2Config}[arch]
    config = config_cls(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128, num_labels=len(bundle.vocab),
        pad_token_id=tokenizer.pad_token_id,  # sequence classification reads the last non-pad token
    )
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_config(config)
    model = get_peft_model(base, LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["q_proj", "v_proj"]))
    look = select_lookahead(model, "lora")
    assert look and all("lora_" in n and ("q_proj" in n or "v_proj" in n) for n in look)

    tr, hypers, phi_moved, _ = _train(model, data, tmp_path)
    _assert_hamr_ran(tr, hypers, phi_moved)
    logits = tr.predict(data[4]).predictions  # evaluation through the Trainer works on the LoRA decoder
    assert logits.shape == (len(data[4]), len(bundle.vocab)) and torch.isfinite(torch.as_tensor(logits)).all()
