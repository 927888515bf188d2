"""Baselines that change the data or the training loop (method.md §6): LNR, GBC, MetaBalance.

Loss-only baselines (Dice, Focal, ICF, Effective Number) and class-balanced resampling live in
:mod:`hamr.losses` and :class:`hamr.trainer.ImbalanceTrainer`.
"""

from __future__ import annotations

from ..enums import Method


def train(method: Method, ctx):
    """Train ``ctx`` with one of the two-stage / meta baselines and return the trained Trainer."""
    method = Method.parse(method)
    if method == Method.LNR:
        from .lnr import train_lnr

        return train_lnr(ctx)
    if method == Method.GBC:
        from .gbc import train_gbc

        return train_gbc(ctx)
    if method == Method.METABALANCE:
        from .metabalance import train_metabalance

        return train_metabalance(ctx)
    raise ValueError(f"{method} is not a two-stage/meta baseline")
