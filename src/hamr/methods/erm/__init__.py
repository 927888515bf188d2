"""ERM: plain cross-entropy fine-tuning, the reference every other method is compared with."""

from ...enums import Method
from ..arguments import ImbalanceArguments
from ..base import train_plain
from ..registry import register_method

register_method(Method.ERM, ImbalanceArguments, train_plain, cost_factor=1.0, differs_from_erm=False,
                description="plain cross-entropy")
