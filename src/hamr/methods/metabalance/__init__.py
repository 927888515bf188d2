"""MetaBalance: first-order meta steps against class-balanced outer batches (method.md §6)."""

from ...enums import Method
from ..registry import register_method
from .arguments import MetaBalanceArguments
from .trainer import MetaBalanceTrainer, train_metabalance

register_method(Method.METABALANCE, MetaBalanceArguments, train_metabalance, cost_factor=4.0, resumable=False,
                description="first-order meta-learning on balanced outer batches")

__all__ = ["MetaBalanceArguments", "MetaBalanceTrainer", "train_metabalance"]
