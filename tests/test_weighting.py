"""Adaptive Weight Estimation: weights, look-ahead selection and the hypergradient (method.md §1-§2)."""

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from hamr.enums import HypergradBackend, LookaheadScope
from hamr.weighting import MetaReweighter, WeightNet, batch_zscore, normalise_weights, select_lookahead


def _tiny_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    xm, ym = torch.randn(12, 4, dtype=torch.float64), torch.randint(0, 3, (12,))

    def train_loss_at(params=None):
        out = functional_call(model, params, (x,)) if params else model(x)
        return nn.functional.cross_entropy(out, y, reduction="none")

    def meta_loss_at(params):
        return nn.functional.cross_entropy(functional_call(model, params, (xm,)), ym)

    return model, train_loss_at, meta_loss_at


def _reweighter(backend, seed=1, detach_mean=True):
    torch.manual_seed(seed)
    rw = MetaReweighter(1, backend=backend, w_min=1e-3, w_max=1e3, fd_epsilon=1e-4, detach_mean=detach_mean)
    rw.net.double()
    return rw


def _meta_objective(rw, model, params, train_loss_at, meta_loss_at, feats, lr, denom):
    """F(φ) = L_meta(θ − η ∇θ mean(w(φ)·ℓ(θ))) evaluated directly, with w = s(φ)/denom: the batch mean in
    the weights' normalisation is detached (method.md §1), so it is held at its value at φ0 here."""
    losses = train_loss_at()
    s = torch.sigmoid(rw.net(feats.unsqueeze(-1))).squeeze(-1)
    w = s / (denom if denom is not None else s.mean() + 1e-6)  # denom None: the mean moves with φ
    grads = torch.autograd.grad((w * losses).mean(), list(params.values()))
    virtual = {n: p - lr * g for (n, p), g in zip(params.items(), grads)}
    return meta_loss_at(virtual).item()


@pytest.mark.parametrize("backend", [HypergradBackend.EXACT, HypergradBackend.FINITE_DIFFERENCE])
@pytest.mark.parametrize("scope", [LookaheadScope.ALL, LookaheadScope.HEAD])
@pytest.mark.parametrize("detach_mean", [True, False])
def test_hypergradient_matches_finite_differences_in_phi(backend, scope, detach_mean):
    model, train_loss_at, meta_loss_at = _tiny_problem()
    rw = _reweighter(backend, detach_mean=detach_mean)
    params = select_lookahead(model, scope)
    lr = 0.5
    losses = train_loss_at()
    feats = batch_zscore(losses)
    hyper, _ = rw.hypergradient(feats, losses, params, meta_loss_at, lr, train_loss_at)
    with torch.no_grad():
        denom = torch.sigmoid(rw.net(feats)).mean() + 1e-6 if detach_mean else None
    # central differences of F(φ) along random directions
    torch.manual_seed(7)
    phi = list(rw.net.parameters())
    for _ in range(3):
        direction = [torch.randn_like(p) for p in phi]
        h = 1e-5
        with torch.no_grad():
            for p, d in zip(phi, direction):
                p.add_(h * d)
        f_plus = _meta_objective(rw, model, params, train_loss_at, meta_loss_at, feats, lr, denom)
        with torch.no_grad():
            for p, d in zip(phi, direction):
                p.sub_(2 * h * d)
        f_minus = _meta_objective(rw, model, params, train_loss_at, meta_loss_at, feats, lr, denom)
        with torch.no_grad():
            for p, d in zip(phi, direction):
                p.add_(h * d)
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = sum((g * d).sum() for g, d in zip(hyper, direction)).item()
        assert abs(numeric) > 1e-7, "degenerate test: the meta objective does not depend on φ"
        tol = 1e-6 if backend == HypergradBackend.EXACT else 2e-3 * abs(numeric) + 1e-7
        assert analytic == pytest.approx(numeric, rel=1e-4 if backend == HypergradBackend.EXACT else 2e-2, abs=tol)


def test_exact_and_first_order_backends_agree():
    model, train_loss_at, meta_loss_at = _tiny_problem(3)
    params = select_lookahead(model, LookaheadScope.ALL)
    out = []
    for backend in (HypergradBackend.EXACT, HypergradBackend.FINITE_DIFFERENCE):  # head_cached: same maths as
        rw = _reweighter(backend)  # exact here (tests/test_class_weighting.py checks it on a model with a head)
        losses = train_loss_at()
        out.append(rw.hypergradient(batch_zscore(losses), losses, params, meta_loss_at, 0.3, train_loss_at)[0])
    for a, b in zip(*out):
        torch.testing.assert_close(a, b, rtol=2e-2, atol=1e-8)


def test_weights_mean_one_and_clip():
    s = torch.tensor([0.01, 0.5, 0.5, 0.5, 0.99])
    w = normalise_weights(s, 0.1, 8.0)
    assert w.min() >= 0.1 and w.max() <= 8.0
    assert w.mean().item() == pytest.approx(1.0, abs=0.02)  # clipping at 0.1 moves the mean slightly
    w_tight = normalise_weights(torch.tensor([1e-4, 1.0, 1.0, 1.0]), 0.5, 1.2)
    assert w_tight.min().item() == pytest.approx(0.5) and w_tight.max().item() == pytest.approx(1.2)
    unclipped = normalise_weights(torch.rand(64) * 0.5 + 0.25, 0.01, 100.0)
    assert unclipped.mean().item() == pytest.approx(1.0, rel=1e-5)


def test_weight_net_shape_and_init_bias():
    net = WeightNet()
    assert net.fc2.bias.item() == pytest.approx(0.1)
    assert net(torch.zeros(5)).shape == (5,)
    assert [m.out_features for m in net.modules() if isinstance(m, nn.Linear)] == [100, 1]


def test_zscore_population_std_and_constant_batch():
    z = batch_zscore(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert z.tolist() == pytest.approx([-1.3416, -0.4472, 0.4472, 1.3416], abs=1e-4)
    assert batch_zscore(torch.ones(4)).abs().max().item() == 0.0


def test_non_finite_gradient_skips_the_step_and_keeps_phi():
    model, train_loss_at, meta_loss_at = _tiny_problem()
    rw = _reweighter(HypergradBackend.EXACT)
    before = [p.detach().clone() for p in rw.net.parameters()]
    losses = train_loss_at()
    res = rw.step(batch_zscore(losses), losses, select_lookahead(model, "all"),
                  lambda p: meta_loss_at(p) * float("nan"), 0.1)
    assert res.skipped and rw.num_skipped == 1
    for a, b in zip(before, rw.net.parameters()):
        assert torch.equal(a, b)
    res = rw.step(batch_zscore(losses), losses, select_lookahead(model, "all"), meta_loss_at, 0.1)
    assert not res.skipped and any(not torch.equal(a, b) for a, b in zip(before, rw.net.parameters()))


def test_lookahead_scopes_on_a_transformer_like_model():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.head = nn.Linear(4, 2)

    m = Tiny()
    assert set(select_lookahead(m, "all")) == {n for n, _ in m.named_parameters()}
    assert set(select_lookahead(m, "head")) == {"head.weight", "head.bias"}
    assert set(select_lookahead(m, "last_k", last_k=2)) == {
        "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias", "head.weight", "head.bias"}
    with pytest.raises(ValueError, match="LoRA"):
        select_lookahead(m, "lora")
    assert math.isfinite(sum(p.sum().item() for p in select_lookahead(m, "all").values()))


def test_faithful_mode_sets_the_reference_behaviour():
    from hamr.enums import MemoryMode
    from hamr.methods.hamr import HAMRArguments

    a = HAMRArguments(output_dir="/tmp/hamr_faithful", faithful=True, lookahead_scope="head", report_to=[])
    assert a.lookahead_scope == LookaheadScope.ALL and a.memory_mode == MemoryMode.FAITHFUL
    assert a.knn_include_self and a.meta_strip_from_train and not a.meta_class_balanced
    assert a.resolved("ner")["ner_train_max_token"] and a.resolved("ner")["memory_gamma"] == 0.99
    d = HAMRArguments(output_dir="/tmp/hamr_default", report_to=[])
    assert d.memory_mode == MemoryMode.EMA and not d.resolved("ner")["ner_train_max_token"] and d.meta_class_balanced
    assert d.resolved("classification")["memory_gamma"] == 0.7
    assert d.resolved("classification")["class_prior_power"] == 0.5 and d.resolved("ner")["class_prior_power"] == 1.0
    # NER τ 1 goes with the class_residual form (β starts at −log n_c); with the weight net it stays 0
    w = HAMRArguments(output_dir="/tmp/hamr_wnet", token_class_weights="icf", report_to=[])
    assert w.resolved("ner")["weighting_form"] == "wnet" and w.resolved("ner")["class_prior_power"] == 0.0
    assert a.resolved("ner")["class_prior_power"] == 0.0  # faithful: the paper's τ 0
    assert d.resolved("classification")["wnet_lr"] == 1e-3 and a.resolved("classification")["wnet_lr"] == 1e-4
    assert a.resolved("classification")["class_prior_power"] == 0.0
    assert d.resolved("classification")["hardness_alpha"] == 1.0 and d.resolved("ner")["hardness_alpha"] == 0.7
    assert a.resolved("classification")["hardness_alpha"] == 0.7  # the paper's α
    assert d.lookahead_scope == LookaheadScope.HEAD and d.meta_interval == 3 and a.meta_interval == 1
    assert d.oversample == 1.0 and a.oversample == 1.2  # N draws (equal steps); faithful 1.2N
    assert HAMRArguments(output_dir="/tmp/hamr_os", faithful=True, oversample=1.0, report_to=[]).oversample == 1.0
    with pytest.raises(ValueError, match="oversample"):
        HAMRArguments(output_dir="/tmp/hamr_os", oversample=0.0, report_to=[])
    assert HAMRArguments(output_dir="/tmp/hamr_mi", faithful=True, meta_interval=3, report_to=[]).meta_interval == 3
    with pytest.raises(ValueError, match="meta_interval"):
        HAMRArguments(output_dir="/tmp/hamr_mi", meta_interval=0, report_to=[])
    with pytest.raises(ValueError, match="hardness_alpha must be >= 0, got -1"):
        HAMRArguments(output_dir="/tmp/hamr_ha", hardness_alpha=-1.0, report_to=[])


def test_normalisation_through_the_mean_ignores_a_uniform_rise_of_s():
    """With the mean detached, raising every s (a common factor) has a gradient; through the mean it has none."""
    s = (torch.rand(32, dtype=torch.float64) * 0.5 + 0.25).requires_grad_(True)
    g = torch.randn(32, dtype=torch.float64)
    detached = torch.autograd.grad((normalise_weights(s, 1e-3, 1e3) * g).sum(), s)[0]
    through = torch.autograd.grad((normalise_weights(s, 1e-3, 1e3, detach_mean=False) * g).sum(), s)[0]
    assert abs(float((detached * s).sum())) > 1e-3  # d/dc of w(c·s) at c = 1: the uniform direction
    # zero up to the 1e-6 guard in the denominator
    assert abs(float((through * s).sum())) < 1e-4 * abs(float((detached * s).sum()))
    torch.testing.assert_close(normalise_weights(s, 1e-3, 1e3, detach_mean=False), normalise_weights(s, 1e-3, 1e3))
    with pytest.raises(ValueError, match="detach_mean=False needs mean=None"):
        normalise_weights(s, mean=s.mean(), detach_mean=False)
