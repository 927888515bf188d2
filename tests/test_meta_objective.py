"""Meta objectives (issue 22): balanced, natural and half, checked against hand-computed values."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hamr.methods.hamr.meta_objective import MetaObjectiveLoss


def _ce(x, y):
    return F.cross_entropy(x, y, reduction="none")


def test_classification_objectives_by_hand():
    torch.manual_seed(0)
    x, y = torch.randn(6, 3), torch.tensor([0, 0, 0, 0, 1, 2])
    ce = _ce(x, y)
    m = torch.stack([ce[:4].mean(), ce[4], ce[5]])
    counts = [70, 20, 10]
    prior = torch.tensor(counts, dtype=torch.float32) / 100
    bal = MetaObjectiveLoss("balanced", counts)(x, y)
    nat = MetaObjectiveLoss("natural", counts)(x, y)
    half = MetaObjectiveLoss("half", counts)(x, y)
    torch.testing.assert_close(bal, m.mean())
    torch.testing.assert_close(nat, (prior * m).sum())
    torch.testing.assert_close(half, 0.5 * (m.mean() + (prior * m).sum()))
    assert not torch.isclose(bal, nat)  # the objectives differ when classes differ in loss


def test_natural_renormalises_over_present_classes_and_ignores_padding():
    x, y = torch.randn(4, 3), torch.tensor([0, 2, -100, 2])
    ce = _ce(x[[0, 1, 3]], y[[0, 1, 3]])
    m0, m2 = ce[0], ce[1:].mean()
    out = MetaObjectiveLoss("natural", [60, 30, 10])(x, y)
    torch.testing.assert_close(out, (0.6 * m0 + 0.1 * m2) / 0.7)


def test_ner_balanced_puts_o_in_its_own_half():
    torch.manual_seed(1)
    # tags: O=0, B-a=1, I-a=2, B-b=3; a [2, 4] batch with one padded token
    x = torch.randn(2, 4, 4, requires_grad=True)
    y = torch.tensor([[0, 1, 2, 0], [0, 3, -100, 0]])
    ce = F.cross_entropy(x.reshape(-1, 4), y.reshape(-1), reduction="none", ignore_index=-100).reshape(2, 4)
    m_o = ce[y == 0].mean()
    m_ent = torch.stack([ce[y == 1].mean(), ce[y == 2].mean(), ce[y == 3].mean()]).mean()
    loss = MetaObjectiveLoss("balanced", [100, 5, 3, 2], outside_id=0, ner=True)(x, y)
    torch.testing.assert_close(loss, 0.5 * (m_o + m_ent))
    loss.backward()
    assert x.grad[1, 2].abs().sum() == 0  # the padded token takes no part
    only_o = MetaObjectiveLoss("balanced", [100, 5, 3, 2], outside_id=0, ner=True)(x, torch.zeros(2, 4).long())
    torch.testing.assert_close(only_o, F.cross_entropy(x.reshape(-1, 4), torch.zeros(8).long()))


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="plain"):
        MetaObjectiveLoss("plain", [1, 2])
    with pytest.raises(ValueError, match="O tag"):
        MetaObjectiveLoss("balanced", [1, 2], ner=True)


def test_soft_f1_of_confident_logits_is_one_minus_the_weighted_macro_f1():
    from sklearn.metrics import f1_score

    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 0])
    pred = torch.tensor([0, 1, 0, 1, 0, 2, 0, 0])
    counts = [70, 20, 10]
    loss = MetaObjectiveLoss("soft_f1", counts)(50.0 * F.one_hot(pred, 3).float(), y)
    q = torch.bincount(y, minlength=3).float() / len(y)
    v = (torch.tensor(counts, dtype=torch.float32) / 100 / q)[y]
    want = 1 - f1_score(y.numpy(), pred.numpy(), average="macro", sample_weight=v.numpy())
    assert abs(loss.item() - want) < 1e-4
    assert abs(loss.item() - (1 - f1_score(y.numpy(), pred.numpy(), average="macro"))) > 1e-3  # the weights act


def test_soft_f1_weighs_a_rare_class_false_positive_by_the_training_prior():
    # a class-balanced batch; one example of the common class predicted as the rare class
    y, pred = torch.tensor([0, 0, 1, 1]), torch.tensor([1, 0, 1, 1])
    logits = 50.0 * F.one_hot(pred, 2).float()
    skewed = MetaObjectiveLoss("soft_f1", [90, 10])(logits, y)
    even = MetaObjectiveLoss("soft_f1", [50, 50])(logits, y)
    # by hand: v = 1.8 (class 0), 0.2 (class 1); F1_0 = 3.6 / 5.4, F1_1 = 0.8 / 2.6
    torch.testing.assert_close(skewed, torch.tensor(1 - (3.6 / 5.4 + 0.8 / 2.6) / 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(even, torch.tensor(1 - (2 / 3 + 4 / 5) / 2), atol=1e-4, rtol=0)
    x = torch.zeros(4, 2, requires_grad=True)
    MetaObjectiveLoss("soft_f1", [90, 10])(x, y).backward()
    assert x.grad[2, 1] < 0 and x.grad[0, 0] < 0  # raising a unit's true-class logit lowers the loss


def test_soft_f1_for_ner_scores_the_entity_tags_and_ignores_padding():
    torch.manual_seed(2)
    x = torch.randn(2, 4, 4, requires_grad=True)
    y = torch.tensor([[0, 1, 2, 0], [0, 3, -100, 0]])
    obj = MetaObjectiveLoss("soft_f1", [100, 5, 3, 2], outside_id=0, ner=True)
    loss = obj(x, y)
    loss.backward()
    assert 0 < loss.item() < 1 and x.grad[1, 2].abs().sum() == 0
    # O's own F1 is left out: perfect predictions score 0 ...
    perfect = 50.0 * F.one_hot(y.clamp_min(0), 4).float()
    assert obj(perfect, y).item() < 1e-4
    # ... but an O token half-predicted as entities costs the entity tags precision (its FP, weighted by O's prior)
    unsure = perfect.clone()
    unsure[0, 0] = torch.zeros(4)
    assert obj(unsure, y).item() > 0.3
    only_o = obj(x, torch.zeros(2, 4).long())
    torch.testing.assert_close(only_o, F.cross_entropy(x.reshape(-1, 4), torch.zeros(8).long()))


def test_soft_f1_scores_a_batch_against_the_decayed_running_counts():
    counts, y = [70, 20, 10], torch.tensor([0, 0, 1, 2])
    obj = MetaObjectiveLoss("soft_f1", counts, f1_decay=0.5)
    torch.manual_seed(3)
    first = torch.randn(4, 3)
    obj(first, y)
    obj.commit()
    obj.commit()  # nothing pending: a second commit adds nothing
    v = (torch.tensor(counts, dtype=torch.float32) / 100 / (torch.bincount(y, minlength=3).float() / 4))[y]
    v = (v / v.mean()).unsqueeze(1)

    def soft_counts(x):
        p, onehot = x.softmax(-1), F.one_hot(y, 3).float()
        return torch.stack([(v * p * onehot).sum(0), (v * p * (1 - onehot)).sum(0), (v * (1 - p) * onehot).sum(0)])

    torch.testing.assert_close(obj.running.float(), soft_counts(first))
    x = torch.randn(4, 3, requires_grad=True)
    loss = obj(x, y)
    tp, fp, fn = 0.5 * soft_counts(first) + soft_counts(x)
    want = 1 - (2 * tp / (2 * tp + fp + fn)).mean()
    torch.testing.assert_close(loss, want)
    g, = torch.autograd.grad(loss, x)
    g_want, = torch.autograd.grad(want, x)
    torch.testing.assert_close(g, g_want)
    fresh = MetaObjectiveLoss("soft_f1", counts, f1_decay=0.5)(x, y)
    assert abs(float(fresh) - float(loss)) > 1e-3  # the running counts change the score
    with pytest.raises(ValueError, match="f1_decay"):
        MetaObjectiveLoss("soft_f1", counts, f1_decay=1.0)
