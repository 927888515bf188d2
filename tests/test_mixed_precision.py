"""Mixed precision through HAMR's bi-level step, on CPU.

- bf16: ``HAMRArguments(bf16=True, use_cpu=True)`` really autocasts the model's forward passes, including the
  virtual-step and meta forwards of the meta step, to bfloat16; the hypergradient stays finite and close to
  fp32's. bf16 has fp32's exponent range: no loss scaling is needed.
- fp16 (method.md §2, the paper trained with FP16): :class:`~hamr.weighting.MetaReweighter` scales the inner
  (virtual-step) loss and the meta loss before ``autograd.grad`` and unscales after, with a dynamic scale that
  halves on a non-finite step (skipped) and doubles after a run of finite ones; ``HAMRArguments(fp16=True)``
  switches it on (2^16). Limit of this CPU-only machine: accelerate autocasts only bf16 on CPU, so a Trainer
  run with ``fp16=True`` keeps fp32 activations here (asserted below, so the day it changes the test says so);
  the fp16 arithmetic itself is tested on a tiny MLP under ``torch.autocast("cpu", dtype=torch.float16)``,
  which torch does support, with the weight net's hypergradient compared to an fp32 reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from hamr.weighting import MetaReweighter, batch_zscore


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second thread only contends with the other processes of the box
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    import ddp_worker

    return ddp_worker._data()  # tiny real Idai19 slice: 80 train, 47 meta, 40 test; the packaged tokenizer


@pytest.fixture(scope="module")
def fp32_run(data, tmp_path_factory):
    return _run(data, tmp_path_factory.mktemp("fp32"))


def _run(data, tmp_path, **kw):
    """3 steps of HAMR on a tiny BERT; returns the trainer, the hypergradients of every meta step and the
    dtypes the first attention projection produced."""
    from conftest import random_embeddings, tiny_bert
    from hamr.methods.hamr import HAMRTrainer
    from hamr.methods.hamr import HAMRArguments

    tokenizer, bundle, train, meta, _ = data
    args = HAMRArguments(
        output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=8, learning_rate=1e-3, seed=11,
        report_to=[], save_strategy="no", logging_steps=1000, use_cpu=True, disable_tqdm=True, wnet_lr=1e-2,
        meta_update_lr=0.5, lookahead_scope="all", meta_batch_size=8, meta_interval=1, **kw,
    )
    tr = HAMRTrainer(
        model=tiny_bert(tokenizer, len(bundle.vocab), dropout=0.0), args=args, train_dataset=train,
        meta_dataset=meta, processing_class=tokenizer, embeddings=random_embeddings(len(train)),
        group_names=bundle.vocab.labels,
    )
    hypers, dtypes = [], set()
    original = tr.reweighter.hypergradient

    def recording(*a, **k):
        h, m = original(*a, **k)
        hypers.append((torch.cat([x.detach().flatten() for x in h]), m))
        return h, m

    tr.reweighter.hypergradient = recording
    tr.model.bert.encoder.layer[0].attention.self.query.register_forward_hook(
        lambda mod, inp, out: dtypes.add(out.dtype)
    )
    phi0 = [p.detach().clone() for p in tr.reweighter.net.parameters()]
    tr.train()
    moved = any(not torch.equal(a, b) for a, b in zip(phi0, tr.reweighter.net.parameters()))
    return tr, hypers, dtypes, moved


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_bf16_autocast_through_the_meta_step_matches_fp32(data, fp32_run, tmp_path):
    ref, ref_hypers, ref_dtypes, _ = fp32_run
    tr, hypers, dtypes, moved = _run(data, tmp_path / "bf16", bf16=True)
    assert ref_dtypes == {torch.float32}
    assert torch.bfloat16 in dtypes, "bf16=True did not autocast the model"
    assert tr.state.global_step == 3 and tr.meta_steps == 3 and tr.reweighter.num_skipped == 0 and moved
    assert tr.reweighter.loss_scale is None  # bf16 needs no loss scaling
    h, meta_loss = hypers[0]  # the first meta step sees the same θ, batch and meta batch in both runs
    assert torch.isfinite(h).all() and np.isfinite(meta_loss)
    assert _rel(h, ref_hypers[0][0]) < 0.05, "bf16 hypergradient far from fp32's"
    assert meta_loss == pytest.approx(ref_hypers[0][1], rel=1e-2)
    for w_bf16, w_fp32 in zip(tr.reweighter.net.parameters(), ref.reweighter.net.parameters()):
        assert w_bf16.dtype == torch.float32  # the weight net stays fp32
        torch.testing.assert_close(w_bf16, w_fp32, rtol=0, atol=0.05)


def test_fp16_trainer_turns_on_loss_scaling_and_cpu_keeps_fp32_activations(data, fp32_run, tmp_path):
    _, ref_hypers, _, _ = fp32_run
    tr, hypers, dtypes, moved = _run(data, tmp_path / "fp16", fp16=True)
    assert tr.reweighter.loss_scale == 2.0**16 and tr.reweighter.num_skipped == 0 and moved
    assert dtypes == {torch.float32}, "accelerate now autocasts fp16 on CPU: extend this test to compare to fp32"
    # fp32 activations: a power-of-two scale changes nothing (up to the order of the three backward passes)
    for (h, m), (h_ref, m_ref) in zip(hypers, ref_hypers):
        assert _rel(h, h_ref) < 1e-5 and m == pytest.approx(m_ref, rel=1e-6)


# --- the fp16 arithmetic on a tiny MLP under CPU fp16 autocast ---------------------------------------------


def _mlp_problem():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    xm, ym = torch.randn(12, 8), torch.randint(0, 3, (12,))
    return mlp, x, y, xm, ym


def _hyper(backend, loss_scale, fp16, loss_factor, inner_lr):
    """One hypergradient of a fresh weight net (same init every call) on the MLP; ``loss_factor`` shrinks the
    training losses (and so every inner gradient) to push them under fp16's range."""
    mlp, x, y, xm, ym = _mlp_problem()
    torch.manual_seed(1)
    rw = MetaReweighter(1, hidden=8, lr=1e-2, loss_scale=loss_scale, backend=backend)
    params = dict(mlp.named_parameters())
    with torch.autocast("cpu", dtype=torch.float16, enabled=fp16):
        losses = loss_factor * F.cross_entropy(mlp(x), y, reduction="none")
        if fp16:
            assert mlp[0](x).dtype == torch.float16  # CPU fp16 autocast is really on

        def train_loss_at(p):
            return loss_factor * F.cross_entropy(functional_call(mlp, p, (x,)), y, reduction="none")

        def meta_loss_at(p):
            return F.cross_entropy(functional_call(mlp, p, (xm,)), ym)

        h, _ = rw.hypergradient(batch_zscore(losses), losses, params, meta_loss_at, inner_lr, train_loss_at)
    return torch.cat([t.flatten() for t in h])


@pytest.mark.parametrize("backend", ["exact", "finite_difference"])
@pytest.mark.parametrize(
    "loss_factor,inner_lr",
    [(1.0, 2e-4), (1e-4, 1e-4)],  # the paper's η with ordinary losses; small losses with a small η
)
def test_fp16_loss_scaling_rescues_the_hypergradient(backend, loss_factor, inner_lr):
    ref = _hyper(backend, None, False, loss_factor, inner_lr)
    unscaled = _hyper(backend, None, True, loss_factor, inner_lr)
    scaled = _hyper(backend, 2.0**16, True, loss_factor, inner_lr)
    assert torch.isfinite(scaled).all() and scaled.norm() > 0
    # measured: without scaling 1.8e-2 .. 0.55 relative error (fp16 underflow), with scaling 2e-4 .. 7e-3
    assert _rel(unscaled, ref) > 1e-2
    assert _rel(scaled, ref) < (2e-3 if backend == "exact" else 2e-2)
    assert _rel(scaled, ref) < _rel(unscaled, ref) / 4


@pytest.mark.parametrize("backend", ["exact", "finite_difference"])
def test_power_of_two_loss_scale_is_exact_in_fp32(backend):
    torch.testing.assert_close(
        _hyper(backend, 2.0**16, False, 1.0, 0.5), _hyper(backend, None, False, 1.0, 0.5), rtol=1e-6, atol=0
    )


def test_fp16_overflow_skips_the_meta_step_and_backs_off_the_scale():
    mlp, x, y, xm, ym = _mlp_problem()
    torch.manual_seed(1)
    rw = MetaReweighter(1, hidden=8, lr=1e-2, loss_scale=2.0**16, loss_scale_growth_interval=2)
    params = dict(mlp.named_parameters())
    history = []
    for _ in range(10):
        phi = [p.detach().clone() for p in rw.net.parameters()]
        scale = rw.loss_scale
        with torch.autocast("cpu", dtype=torch.float16):
            losses = F.cross_entropy(mlp(x), y, reduction="none")
            result = rw.step(
                batch_zscore(losses), losses, params,
                lambda p: F.cross_entropy(functional_call(mlp, p, (xm,)), ym), inner_lr=1.0,  # large η: overflows
            )
        unchanged = all(torch.equal(a, b) for a, b in zip(phi, rw.net.parameters()))
        history.append((scale, result.skipped, unchanged))
        assert all(torch.isfinite(p).all() for p in rw.net.parameters())
    skipped = [h for h in history if h[1]]
    assert history[0][1] and skipped and all(h[2] for h in skipped)  # a skipped step leaves φ as it was
    assert any(not h[1] and not h[2] for h in history)  # ... and the scale came down until steps went through
    for (scale, was_skipped, _), (next_scale, _, _) in zip(history, history[1:]):
        if was_skipped:
            assert next_scale == scale / 2
    assert rw.num_skipped == len(skipped)
    grown = [b[0] / a[0] for a, b in zip(history, history[1:]) if not a[1] and b[0] > a[0]]
    assert grown and all(g == 2.0 for g in grown)  # two finite steps in a row double it
    # the scale and its counter are part of the checkpointed state
    state = rw.state_dict()
    other = MetaReweighter(1, hidden=8, loss_scale=2.0**16)
    other.load_state_dict(state)
    assert other.loss_scale == rw.loss_scale and other._finite_in_a_row == rw._finite_in_a_row
    legacy = {k: v for k, v in state.items() if k not in ("loss_scale", "finite_in_a_row")}
    MetaReweighter(1, hidden=8).load_state_dict(legacy)  # states from before loss scaling still load
