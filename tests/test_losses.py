"""Losses, class weights, per-example CE and LNR flipping against hand-worked values (method.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hamr.enums import Method
from hamr.losses import (
    WeightedCrossEntropy,
    class_counts_from_labels,
    effective_number_weights,
    inverse_frequency_weights,
    log_prior,
    per_example_ce,
    token_mean_weights,
)
from hamr.methods import build_loss
from hamr.methods.dice import DiceLoss
from hamr.methods.focal import FocalLoss
from hamr.methods.logit_adjustment import BalancedSoftmaxLoss, LogitAdjustedLoss
from hamr.methods.lnr import lnr_flip, lnr_flip_rates, lnr_max_eligible_z

LN2 = 0.6931471805599453  # CE of logits [0, 0]
LN4 = 1.3862943611198906  # CE of label 0 under logits [0, ln 3] (p = 1/4)
LN4_3 = 0.28768207245178085  # CE of label 1 under logits [0, ln 3] (p = 3/4)
LN3 = 1.0986122886681098


def approx_list(t: torch.Tensor, expected: list[float]) -> None:
    assert t.tolist() == pytest.approx(expected, rel=1e-6, abs=1e-7)


# --------------------------------------------------------------------------------------------- counts


def test_class_counts_from_labels():
    assert class_counts_from_labels([0, 2, 2, -100], 3).tolist() == [1, 0, 2]
    assert class_counts_from_labels([[0, 1, -100], [1, 1]], 3).tolist() == [1, 3, 0]
    with pytest.raises(ValueError, match="example 1: label id 3"):
        class_counts_from_labels([[0], [3]], 3)


def test_inverse_frequency_weights_by_hand():
    # 1/n = [1, 1/3], mean 2/3 -> [1.5, 0.5]
    approx_list(inverse_frequency_weights([1, 3]), [1.5, 0.5])
    # 1/n = [0.1, 0.01, 0.001], mean 0.111/3 = 0.037 -> [0.1/0.037, 0.01/0.037, 0.001/0.037]
    approx_list(inverse_frequency_weights([10, 100, 1000]), [300 / 111, 30 / 111, 3 / 111])
    # a class with count 0 gets 0 and is left out of the mean
    approx_list(inverse_frequency_weights([0, 1, 3]), [0.0, 1.5, 0.5])
    assert inverse_frequency_weights(np.array([1, 3])).dtype == torch.float32


def test_effective_number_weights_by_hand():
    # beta 0.5: raw [0.5/0.5, 0.5/(1-0.125)] = [1, 4/7]; sum 11/7; scaled to sum 2 -> [14/11, 8/11]
    approx_list(effective_number_weights([1, 3], beta=0.5), [14 / 11, 8 / 11])
    # beta 0.9999: 0.9999^3 = 0.999700029999 -> raw [1, 0.0001/0.000299970001]
    raw3 = 0.0001 / 0.000299970001
    approx_list(effective_number_weights([1, 3]), [2 / (1 + raw3), 2 * raw3 / (1 + raw3)])
    # beta 0.9: 0.9^10 = 0.3486784401, 0.9^100 = 2.6561398887587544e-05, 0.9^1000 ~ 1.7e-46
    raw = [0.1 / 0.6513215599, 0.1 / (1 - 2.6561398887587544e-05), 0.1]
    approx_list(effective_number_weights([10, 100, 1000], beta=0.9), [3 * r / sum(raw) for r in raw])
    approx_list(effective_number_weights([0, 1, 3], beta=0.5), [0.0, 14 / 11, 8 / 11])
    with pytest.raises(ValueError, match="beta"):
        effective_number_weights([1, 3], beta=1.0)
    with pytest.raises(ValueError, match="every class count is 0"):
        effective_number_weights([0, 0])


# ----------------------------------------------------------------------------------------------- losses

# Two examples: logits [0, 0] (p = 1/2, 1/2) and [0, ln 3] (p = 1/4, 3/4).
LOGITS_2 = torch.tensor([[0.0, 0.0], [0.0, LN3]])


def test_weighted_ce_by_hand():
    labels = torch.tensor([0, 1])
    assert WeightedCrossEntropy()(LOGITS_2, labels).item() == pytest.approx((LN2 + LN4_3) / 2)
    # the weighted mean, as torch's cross_entropy(weight=...): divided by the weight sum 2 + 0.5
    got = WeightedCrossEntropy([2.0, 0.5])(LOGITS_2, labels).item()
    assert got == pytest.approx((2.0 * LN2 + 0.5 * LN4_3) / 2.5)
    torch_ref = torch.nn.functional.cross_entropy(LOGITS_2, labels, weight=torch.tensor([2.0, 0.5])).item()
    assert got == pytest.approx(torch_ref)
    approx_list(WeightedCrossEntropy([2.0, 0.5], reduction="none")(LOGITS_2, labels), [2 * LN2, 0.5 * LN4_3])


def test_weighted_ce_tokens_none_has_zero_at_ignored():
    logits = torch.stack([LOGITS_2, LOGITS_2])  # [2, 2, 2]
    labels = torch.tensor([[0, -100], [-100, 1]])
    per_tok = WeightedCrossEntropy(reduction="none")(logits, labels)
    assert per_tok.shape == (2, 2)
    approx_list(per_tok.flatten(), [LN2, 0.0, 0.0, LN4_3])
    assert WeightedCrossEntropy()(logits, labels).item() == pytest.approx((LN2 + LN4_3) / 2)


def test_focal_gamma_zero_is_ce():
    torch.manual_seed(0)
    x1 = torch.randn(5, 4, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    y = torch.tensor([0, 3, 1, 1, 2])
    focal, ce = FocalLoss(gamma=0.0)(x1, y), F.cross_entropy(x2, y)
    assert focal.item() == pytest.approx(ce.item())
    focal.backward()
    ce.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_focal_gamma_two_by_hand():
    x = LOGITS_2[1:]  # p = [1/4, 3/4]
    # label 1: (1 - 3/4)^2 * ln(4/3) = 0.0625 * 0.28768207245178085
    assert FocalLoss()(x, torch.tensor([1])).item() == pytest.approx(0.0625 * LN4_3)
    # label 0: (1 - 1/4)^2 * ln 4 = 0.5625 * 1.3862943611198906
    assert FocalLoss()(x, torch.tensor([0])).item() == pytest.approx(0.5625 * LN4)
    # with alpha [2, 0.5] over both, mean over items
    both = FocalLoss(alpha=[2.0, 0.5])(torch.cat([x, x]), torch.tensor([0, 1])).item()
    assert both == pytest.approx((2.0 * 0.5625 * LN4 + 0.5 * 0.0625 * LN4_3) / 2)


def test_focal_class_balanced_uses_effective_number():
    loss = FocalLoss.class_balanced([1, 3], gamma=2.0, beta=0.5)
    approx_list(loss.alpha, [14 / 11, 8 / 11])


# Dice batch: item 1 p = [3/4, 1/4] label 0, item 2 p = [1/2, 1/2] label 1, and an ignored token between.
DICE_LOGITS = torch.tensor([[[LN3, 0.0], [7.0, -3.0], [0.0, 0.0]]])
DICE_LABELS = torch.tensor([[0, -100, 1]])


def test_dice_by_hand():
    # class 0: (2*0.75 + 1) / (1.25 + 1 + 1) = 10/13 ; class 1: (2*0.5 + 1) / (0.75 + 1 + 1) = 8/11
    expected = 1 - (10 / 13 + 8 / 11) / 2  # = 36/143
    assert DiceLoss(smooth=1.0)(DICE_LOGITS, DICE_LABELS).item() == pytest.approx(expected)
    # the same items as classification input
    flat = DiceLoss(smooth=1.0)(DICE_LOGITS[0, [0, 2]], torch.tensor([0, 1])).item()
    assert flat == pytest.approx(expected)


def test_dice_square_denominator_by_hand():
    # class 0: 2.5 / (0.5625 + 0.25 + 1 + 1) = 8/9 ; class 1: 2 / (0.0625 + 0.25 + 1 + 1) = 32/37
    got = DiceLoss(smooth=1.0, square_denominator=True)(DICE_LOGITS, DICE_LABELS).item()
    assert got == pytest.approx(1 - (8 / 9 + 32 / 37) / 2)


def test_dice_self_adjusting_by_hand():
    # p~ = (1-p) p: item 1 [0.1875, 0.1875], item 2 [0.25, 0.25]
    # class 0: (2*0.1875 + 1) / (0.4375 + 1 + 1) = 22/39 ; class 1: (2*0.25 + 1) / 2.4375 = 24/39
    got = DiceLoss(smooth=1.0, alpha=1.0)(DICE_LOGITS, DICE_LABELS).item()
    assert got == pytest.approx(1 - (22 / 39 + 24 / 39) / 2)


def test_dice_default_smoothing_gives_an_absent_class_no_reward():
    """A class absent from the batch has dice smooth / (P + smooth), P its probability mass over the batch. At
    smooth = 1 that term rewards pushing its probability down on every item (the collapse to the majority
    class measured on Cyclone-Idai19); at the default 1e-4 it is ~0 whatever the model does."""
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])  # class 2 is absent
    p = torch.softmax(logits, -1)
    onehot = torch.nn.functional.one_hot(labels, 3).float()

    def present_dice(smooth):  # classes 0 and 1, by hand
        return sum((2 * (p[:, c] * onehot[:, c]).sum() + smooth) / (p[:, c].sum() + onehot[:, c].sum() + smooth)
                   for c in (0, 1))

    assert DiceLoss().smooth == 1e-4 and build_loss("dice", [5, 5, 1]).smooth == 1e-4
    absent_at_1 = 1 / (p[:, 2].sum() + 1)
    assert DiceLoss(smooth=1.0)(logits, labels).item() == pytest.approx(1 - (present_dice(1.0) + absent_at_1) / 3)
    assert absent_at_1 > 0.3  # a third of the loss depends on the absent class
    assert DiceLoss()(logits, labels).item() == pytest.approx(1 - present_dice(1e-4) / 3, abs=1e-4)


def test_dice_per_item():
    # item 1: class 0 2.5/2.75 = 10/11, class 1 1/1.25 = 4/5 -> 1 - 47/55 = 8/55
    # item 2: class 0 1/1.5 = 2/3, class 1 2/2.5 = 4/5 -> 1 - 11/15 = 4/15
    per_item = DiceLoss(smooth=1.0, reduction="none")(DICE_LOGITS, DICE_LABELS)
    assert per_item.shape == (1, 3)
    approx_list(per_item.flatten(), [8 / 55, 0.0, 4 / 15])


def test_no_labelled_item_gives_zero_with_graph():
    x = torch.randn(2, 3, 4, requires_grad=True)
    y = torch.full((2, 3), -100)
    for loss_fn in (WeightedCrossEntropy([1.0, 2.0, 1.0, 1.0]), FocalLoss(), DiceLoss()):
        loss = loss_fn(x, y)
        assert loss.item() == 0.0
        loss.backward()
        assert torch.equal(x.grad, torch.zeros_like(x))
        x.grad = None


@pytest.mark.parametrize(
    "loss_fn",
    [
        WeightedCrossEntropy(),
        WeightedCrossEntropy([0.5, 2.0, 1.0]),
        FocalLoss(gamma=2.0, alpha=[1.0, 3.0, 0.2]),
        DiceLoss(),
        DiceLoss(square_denominator=True, alpha=0.5),
        lambda x, y: per_example_ce(x, y).sum(),
        lambda x, y: per_example_ce(x, y, token_reduction="max").sum(),
        BalancedSoftmaxLoss(log_prior([5, 1, 2])),
        LogitAdjustedLoss(log_prior([5, 1, 2]), tau=0.5),
    ],
)
def test_ignored_positions_change_nothing(loss_fn):
    torch.manual_seed(1)
    base = torch.randn(2, 4, 3)
    labels = torch.tensor([[0, -100, 2, 1], [-100, 1, -100, 0]])
    ignored = labels == -100
    changed = base.clone()
    changed[ignored] = torch.randn(int(ignored.sum()), 3) * 50

    def value_and_grad(x0):
        x = x0.clone().requires_grad_(True)
        loss = loss_fn(x, labels)
        loss.backward()
        return loss.detach(), x.grad

    v1, g1 = value_and_grad(base)
    v2, g2 = value_and_grad(changed)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)
    assert torch.equal(g1[ignored], torch.zeros_like(g1[ignored]))


def test_shape_errors():
    with pytest.raises(ValueError, match="expected logits"):
        WeightedCrossEntropy()(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="3 class weights for 2 classes"):
        WeightedCrossEntropy([1.0, 1.0, 1.0])(LOGITS_2, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        FocalLoss(reduction="sum")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- per_example_ce


def test_per_example_ce_classification():
    approx_list(per_example_ce(LOGITS_2, torch.tensor([0, 1])), [LN2, LN4_3])
    approx_list(per_example_ce(LOGITS_2, torch.tensor([1, -100])), [LN2, 0.0])


def test_per_example_ce_tokens_by_hand():
    # sentence 0: [0,0] label 0 (ln 2), [0, ln 3] label 1 (ln 4/3), an ignored token; sentence 1: nothing.
    logits = torch.tensor(
        [
            [[0.0, 0.0], [0.0, LN3], [5.0, -5.0]],
            [[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]],
        ],
        requires_grad=True,
    )
    labels = torch.tensor([[0, 1, -100], [-100, -100, -100]])
    mean = per_example_ce(logits, labels)
    approx_list(mean, [(LN2 + LN4_3) / 2, 0.0])
    approx_list(per_example_ce(logits, labels, token_reduction="max"), [LN2, 0.0])
    none = per_example_ce(logits, labels, token_reduction="none")
    assert none.shape == (2, 3)
    approx_list(none.flatten(), [LN2, LN4_3, 0.0, 0.0, 0.0, 0.0])
    mean.sum().backward()
    assert torch.isfinite(logits.grad).all()
    # d(mean CE)/d logits of token 0 = (softmax - onehot) / 2 = ([0.5, 0.5] - [1, 0]) / 2
    approx_list(logits.grad[0, 0], [-0.25, 0.25])
    assert torch.equal(logits.grad[1], torch.zeros(3, 2))
    with pytest.raises(ValueError, match="token_reduction"):
        per_example_ce(logits, labels, token_reduction="min")  # type: ignore[arg-type]


def test_per_example_ce_max_gradient_goes_to_the_hardest_token():
    logits = torch.tensor([[[0.0, 0.0], [0.0, LN3]]], requires_grad=True)
    per_example_ce(logits, torch.tensor([[0, 1]]), token_reduction="max").sum().backward()
    approx_list(logits.grad[0, 0], [-0.5, 0.5])  # softmax [1/2, 1/2] - onehot [1, 0]
    approx_list(logits.grad[0, 1], [0.0, 0.0])


# ---------------------------------------------------------------------------------------------- factory


def test_build_loss():
    counts = [1, 3]
    assert isinstance(build_loss(Method.ERM, counts), WeightedCrossEntropy)
    assert build_loss("erm", counts).weights is None
    approx_list(build_loss(Method.ICF, counts).weights, [1.5, 0.5])
    approx_list(build_loss(Method.EFFECTIVE_NUMBER, counts, effective_number_beta=0.5).weights, [14 / 11, 8 / 11])
    focal = build_loss(Method.FOCAL, counts, focal_gamma=1.0, effective_number_beta=0.5)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.0
    approx_list(focal.alpha, [14 / 11, 8 / 11])
    dice = build_loss("dice", counts, dice_smooth=0.5)
    assert isinstance(dice, DiceLoss) and dice.smooth == 0.5
    for method in (Method.HAMR, Method.LNR, Method.GBC, Method.METABALANCE, Method.BALANCED_SAMPLER,
                   Method.LOGIT_ADJUSTMENT):  # logit adjustment's default form is post-hoc: it trains on plain CE
        loss = build_loss(method, counts)
        assert isinstance(loss, WeightedCrossEntropy) and loss.weights is None
    bs = build_loss("balanced_softmax", counts)
    assert isinstance(bs, BalancedSoftmaxLoss)
    approx_list(bs.offsets, [np.log(0.25), np.log(0.75)])
    la = build_loss("logit_adjustment", counts, logit_adjustment_form="loss", logit_adjustment_tau=2.0)
    assert type(la) is LogitAdjustedLoss
    approx_list(la.offsets, [2 * np.log(0.25), 2 * np.log(0.75)])


# ------------------------------------------------------------------- logit adjustment and Balanced Softmax


def test_log_prior_by_hand_and_unseen_class_is_finite():
    approx_list(log_prior([1, 3]), [np.log(0.25), np.log(0.75)])
    lp = log_prior([0, 4, 5])  # an unseen class counts as 1 (of 10)
    approx_list(lp, [np.log(0.1), np.log(0.4), np.log(0.5)])


def test_balanced_softmax_equals_ce_on_logits_plus_log_counts():
    torch.manual_seed(0)
    x, y = torch.randn(7, 3), torch.tensor([0, 0, 1, 2, 0, 1, 0])
    counts = torch.tensor([100.0, 10.0, 1.0])
    expected = F.cross_entropy(x + torch.log(counts), y)  # Ren et al.: softmax with n_j exp(η_j)
    torch.testing.assert_close(BalancedSoftmaxLoss(log_prior(counts))(x, y), expected)
    # = logit adjustment's loss form at τ = 1; τ = 0 is plain CE
    torch.testing.assert_close(LogitAdjustedLoss(log_prior(counts), tau=1.0)(x, y), expected)
    torch.testing.assert_close(LogitAdjustedLoss(log_prior(counts), tau=0.0)(x, y), F.cross_entropy(x, y))
    half = LogitAdjustedLoss(log_prior(counts), tau=0.5)(x, y)
    torch.testing.assert_close(half, F.cross_entropy(x + 0.5 * torch.log(counts / counts.sum()), y))


def test_balanced_softmax_on_tokens_by_hand():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 3)
    y = torch.tensor([[0, 1, -100], [2, 0, 0]])
    lp = log_prior([6, 2, 1])
    keep = y != -100
    expected = F.cross_entropy(x[keep] + lp, y[keep])
    torch.testing.assert_close(BalancedSoftmaxLoss(lp)(x, y), expected)
    per = BalancedSoftmaxLoss(lp, reduction="none")(x, y)
    assert per.shape == (2, 3) and per[0, 2] == 0


def test_logit_adjusted_loss_raises_rare_class_logits():
    """One gradient step on the adjusted loss moves a rare class's logit up more than plain CE does."""
    x = torch.zeros(4, 2, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1])
    LogitAdjustedLoss(log_prior([90, 10]))(x, y).backward()
    g_la = x.grad.clone()
    x.grad = None
    F.cross_entropy(x, y).backward()
    assert g_la[3, 1] < x.grad[3, 1] < 0  # a larger push up on the rare example's own logit


def test_posthoc_adjustment_folds_the_offset_into_the_output_bias():
    from hamr.methods.logit_adjustment import apply_posthoc_adjustment

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.randn(5, 4)
    before = model(x).detach()
    lp = log_prior([80, 15, 5])
    apply_posthoc_adjustment(model, lp, tau=1.0)
    torch.testing.assert_close(model(x).detach(), before - lp)
    with pytest.raises(ValueError, match="no Linear layer with 7 outputs"):
        apply_posthoc_adjustment(model, torch.zeros(7))


# ------------------------------------------------------------------------------------------------- LNR

# counts [100, 10, 1] -> minmax [1, 9/99, 0] -> prior [0, 10/11, 1]
LNR_COUNTS = [100, 10, 1]
LNR_LABELS = np.array([0, 0, 0, 0, 1, 2])
LNR_PROBS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.8, 0.1, 0.1],
        [0.6, 0.3, 0.1],  # unusually likely class 1
        [0.3, 0.1, 0.6],  # unusually likely class 2
        [0.2, 0.7, 0.1],
        [0.1, 0.1, 0.8],
    ]
)
TANH_1 = 0.7615941559557649
TANH_M15 = -0.9051482536448664


class FixedUniform:
    """Stands in for ``np.random.Generator``: returns the given draws."""

    def __init__(self, u: list[float]):
        self.u = np.array(u)

    def random(self, n: int) -> np.ndarray:
        assert n == len(self.u)
        return self.u


def test_lnr_flip_rates_by_hand():
    # class 2 over examples not labelled 2: [.1 .1 .1 .6 .1] -> mean .2, std .2 -> z = -.5 (or 2 for ex. 3)
    # class 1 over examples not labelled 1: [.1 .1 .3 .1 .1] -> mean .14, std .08 -> z = -.5 (or 2 for ex. 2)
    # t_flip = 1: tanh(-1.5) or tanh(1); prior weights: label 0 -> (0, 10/11, 1), label 1 -> (0, 0, 1/11)
    rates = lnr_flip_rates(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=1.0)
    expected = [
        [0.0, TANH_M15 * 10 / 11, TANH_M15],
        [0.0, TANH_M15 * 10 / 11, TANH_M15],
        [0.0, TANH_1 * 10 / 11, TANH_M15],
        [0.0, TANH_M15 * 10 / 11, TANH_1],
        [0.0, 0.0, TANH_M15 / 11],
        [0.0, 0.0, 0.0],
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-9, atol=1e-12)


def test_lnr_max_eligible_z_says_how_far_t_flip_is():
    # the eligible pairs above: z = -0.5 everywhere but ex. 2 -> class 1 and ex. 3 -> class 2 at z = 2
    assert lnr_max_eligible_z(LNR_PROBS, LNR_LABELS, LNR_COUNTS) == pytest.approx(2.0)
    new, flips = lnr_flip(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=7.5, rng=np.random.default_rng(0))
    assert flips == {} and (new == LNR_LABELS).all()  # the authors' t_flip is far above z = 2: no flip
    assert lnr_max_eligible_z(LNR_PROBS, LNR_LABELS, [2, 2, 2]) is None  # equal counts: no rarer class


def test_lnr_flip_against_fixed_draws():
    # rates of the flip targets: ex. 2 -> class 1 at 0.6924, ex. 3 -> class 2 at 0.7616; others <= 0
    new, flips = lnr_flip(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=1.0, rng=FixedUniform([0, 0, 0.5, 0.9, 0, 0]))
    assert new.tolist() == [0, 0, 1, 0, 1, 2]
    assert flips == {(0, 1): 1}
    new, flips = lnr_flip(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=1.0, rng=FixedUniform([0, 0, 0.5, 0.7, 0, 0]))
    assert new.tolist() == [0, 0, 1, 2, 1, 2]
    assert flips == {(0, 1): 1, (0, 2): 1}


def test_lnr_flip_deterministic_cases():
    rng = np.random.default_rng(0)
    # Non-positive rates never flip, whatever the draw.
    for _ in range(20):
        new, _ = lnr_flip(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=1.0, rng=rng)
        assert new[[0, 1, 4, 5]].tolist() == [0, 0, 1, 2]
    # t_flip = -30 saturates tanh to 1: every class-0 example has rate 1 towards the rarest class (prior
    # weight 1) and flips there; the rarest class never moves.
    new, flips = lnr_flip(LNR_PROBS, LNR_LABELS, LNR_COUNTS, t_flip=-30.0, rng=rng)
    assert new[[0, 1, 2, 3, 5]].tolist() == [2, 2, 2, 2, 2]
    assert flips[(0, 2)] == 4
    # Balanced counts: all prior weights are 0, nothing flips.
    new, flips = lnr_flip(LNR_PROBS, LNR_LABELS, [5, 5, 5], t_flip=-30.0, rng=rng)
    assert new.tolist() == LNR_LABELS.tolist() and flips == {}


def test_lnr_shape_errors():
    with pytest.raises(ValueError, match="probs"):
        lnr_flip_rates(LNR_PROBS, LNR_LABELS[:3], LNR_COUNTS, t_flip=1.0)
    with pytest.raises(ValueError, match="class ids"):
        lnr_flip_rates(LNR_PROBS, np.array([0, 0, 0, 0, 1, 3]), LNR_COUNTS, t_flip=1.0)


def test_token_mean_weights_keep_ratios_and_average_one_per_item():
    counts = np.array([90, 9, 1, 0])
    w = token_mean_weights(inverse_frequency_weights(counts), counts)
    assert float((torch.as_tensor(counts) * w).sum()) == pytest.approx(counts.sum())  # mean 1 per item
    assert float(w[2] / w[0]) == pytest.approx(90.0)  # the ICF ratios survive the rescaling
    assert float(w[3]) == 0.0
    with pytest.raises(ValueError, match="3 entries for 4"):
        token_mean_weights([1.0, 1.0, 1.0], counts)
    with pytest.raises(ValueError, match="positive weight"):
        token_mean_weights([0.0, 0.0, 0.0, 1.0], counts)
