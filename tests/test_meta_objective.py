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
