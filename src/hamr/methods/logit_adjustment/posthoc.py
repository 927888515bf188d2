"""Post-hoc logit adjustment (Menon et al., ICLR 2021): predict with ``f(x) − τ·log π``.

The model is trained with plain cross-entropy; after training the offset is folded into the bias of the
model's output layer (the last ``nn.Linear`` with one output per label), so the saved model predicts with the
adjusted logits wherever it is loaded (``hamr evaluate``, plain ``from_pretrained``). For NER the priors are
per tag over labelled training tokens (the offset then applies to every token's logits). Validation scores
logged *during* training (per-epoch evaluation) are those of the unadjusted model.
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import InputError

__all__ = ["apply_posthoc_adjustment", "output_layer"]


def output_layer(model: nn.Module, num_labels: int) -> nn.Linear:
    """The model's output layer: the last ``nn.Linear`` with ``num_labels`` outputs and a bias."""
    found = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_labels]
    if not found:
        raise InputError(f"post-hoc logit adjustment: the model has no Linear layer with {num_labels} outputs")
    layer = found[-1]
    if layer.bias is None:
        raise InputError("post-hoc logit adjustment: the output layer has no bias to carry the offset")
    return layer


@torch.no_grad()
def apply_posthoc_adjustment(model: nn.Module, log_priors: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Subtract ``tau · log_priors`` from the output layer's bias in place; returns the offset subtracted."""
    lp = torch.as_tensor(log_priors, dtype=torch.float32).flatten()
    layer = output_layer(model, lp.numel())
    offset = (float(tau) * lp).to(device=layer.bias.device, dtype=layer.bias.dtype)
    layer.bias.sub_(offset)
    return offset
