"""String choices of the library, as enums (every option that takes a word takes one of these)."""

from __future__ import annotations

from enum import Enum

from .errors import InputError


class _StrEnum(str, Enum):
    def __str__(self) -> str:  # so that f-strings and argparse/typer print the value
        return self.value

    @classmethod
    def parse(cls, value: "str | _StrEnum") -> "_StrEnum":
        """Return the member for ``value``; a clear error lists the accepted words."""
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise InputError(f"{cls.__name__}: {value!r} is not one of: {choices}") from None


class TaskType(_StrEnum):
    """What is predicted: one label per text, or one tag per token (NER, IOB2)."""

    CLASSIFICATION = "classification"
    NER = "ner"


class Method(_StrEnum):
    """Training methods selectable with ``hamr train --method``."""

    ERM = "erm"
    DICE = "dice"
    FOCAL = "focal"
    ICF = "icf"
    EFFECTIVE_NUMBER = "effective_number"
    BALANCED_SAMPLER = "balanced_sampler"
    LNR = "lnr"
    GBC = "gbc"
    METABALANCE = "metabalance"
    LOGIT_ADJUSTMENT = "logit_adjustment"
    BALANCED_SOFTMAX = "balanced_softmax"
    HAMR = "hamr"


class LogitAdjustmentForm(_StrEnum):
    """Logit adjustment (Menon et al., ICLR 2021): where the offset τ·log π acts."""

    POST_HOC = "post_hoc"  # train with plain CE, subtract τ·log π from the logits at prediction
    LOSS = "loss"  # train on CE(f(x) + τ·log π, y), predict with the plain logits (τ = 1: Balanced Softmax)


class LookaheadScope(_StrEnum):
    """Which parameters the bi-level virtual step moves (method.md §2)."""

    ALL = "all"  # every trainable parameter (the paper)
    HEAD = "head"  # classification / token-classification head only
    LAST_K = "last_k"  # the head plus the last ``lookahead_layers`` transformer layers
    LORA = "lora"  # only LoRA adapter parameters (peft models)


class MemoryMode(_StrEnum):
    """How the hardness memory m of Eq. 5 is updated (method.md §4)."""

    EMA = "ema"  # per-index exponential moving average of the post-meta weight (default)
    FAITHFUL = "faithful"  # the reference code's global decay + renormalisation


class HardnessStat(_StrEnum):
    """How a sentence's hardness is read off its token losses (NER)."""

    MAX = "max"
    MEAN = "mean"


class WeightUnit(_StrEnum):
    """NER: what the weight net weighs (method.md §1 weighs sentences)."""

    SENTENCE = "sentence"  # one weight per sentence from its max (hardness_stat) token CE: the paper
    TOKEN = "token"  # one weight per labelled token from its own CE; a sentence's memory from its token weights


class InnerLR(_StrEnum):
    """Step size of the virtual (look-ahead) step."""

    CONSTANT = "constant"  # ``meta_update_lr`` throughout (paper)
    OPTIMIZER = "optimizer"  # follow the optimiser's current learning rate


class HypergradBackend(_StrEnum):
    """How the gradient of the meta loss w.r.t. the weight net is computed."""

    EXACT = "exact"  # second-order, through the virtual step with create_graph=True
    FINITE_DIFFERENCE = "finite_difference"  # first-order: two extra gradient evaluations (DARTS-style)
    HEAD_CACHED = "head_cached"  # exact, over the head alone from cached encoder features (lookahead_scope=head)


class AblationMode(_StrEnum):
    """Paper Table 3 ablations of HAMR."""

    FULL = "full"
    WITHOUT_AWE = "without_awe"
    WITHOUT_RESAMPLING = "without_resampling"
    WITHOUT_KNN = "without_knn"
    WITHOUT_ALL = "without_all"
    # issue 22, weighting_form=class_residual only
    WITHOUT_CLASS_PARAMS = "without_class_params"  # β, δ frozen at their start; u_φ (if on) still learns
    WITHOUT_RESIDUAL = "without_residual"  # u_φ ≡ 0 (a no-op unless example_residual=True); β, δ still learn


class ClassParams(_StrEnum):
    """How weighting_form=class_residual parametrises its class terms β, δ (session 26)."""

    PER_CLASS = "per_class"  # a free β_c and δ_c per class group
    STRENGTH = "strength"  # two scalars along the class prior: β = β_start + a·b, δ = −k·b, b = −(log n − mean)
    PR_FEEDBACK = "pr_feedback"  # β set by feedback: raised where the meta batches' precision exceeds recall; δ = 0


class WeightingForm(_StrEnum):
    """How HAMR's example weights are formed (issue 22)."""

    WNET = "wnet"  # w = clip(s·prior / mean_B(s·prior)), s = sigmoid(g_φ(z)): the paper's form with a class-level start
    CLASS_RESIDUAL = "class_residual"  # w = B·softmax_B(β_y [+ u_φ(z)]), inner loss CE(f(x) + δ, y): learned class terms


class MetaObjective(_StrEnum):
    """The meta loss on a meta batch (issue 22)."""

    PLAIN = "plain"  # mean CE over the batch's units (today; with meta_class_balanced batches, balanced for classification)
    BALANCED = "balanced"  # mean over classes of the class-mean CE (NER: ½ O, ½ mean over entity tags)
    NATURAL = "natural"  # class-mean CEs weighted by the training class prior (NER: tag prior over labelled tokens)
    HALF = "half"  # ½ balanced + ½ natural
    SOFT_F1 = "soft_f1"  # 1 − soft macro-F1 on running soft counts, units reweighted to the training prior (session 23)


class DecisionOffsets(_StrEnum):
    """Per-class logit offsets fitted on validation after training and folded into the output bias
    (:mod:`hamr.offsets`, session 24)."""

    AUTO = "auto"  # macro_f1 when the run has validation rows to fit on and an output layer with a bias, else none
    NONE = "none"  # the model's own decisions
    BALANCED = "balanced"  # minimise class-balanced CE (NER: ½ O, ½ entity tags)
    HALF = "half"  # ½ balanced + ½ natural-prior CE
    MACRO_F1 = "macro_f1"  # coordinate search on the fit rows' macro-F1


class WNetInputs(_StrEnum):
    """What the weight net reads for an example."""

    LOSS = "loss"  # the batch z-score of its hardness (paper)
    LOSS_CLASS = "loss_class"  # and the standardised log training frequency of its class (CMW-Net style)


class TokenClassWeights(_StrEnum):
    """NER: class weights on HAMR's per-token training loss, under the sentence weights of the weight net."""

    NONE = "none"  # plain token CE (the paper)
    ICF = "icf"  # inverse tag frequency
    EFFECTIVE_NUMBER = "effective_number"  # Cui et al. (2019), with effective_number_beta


class CheckpointEvery(_StrEnum):
    """When a run saves a resumable checkpoint (``hamr train --checkpoint-every``)."""

    NONE = "none"  # no checkpoints (the benchmark harness: runs stay bit-identical and small on disk)
    EPOCH = "epoch"  # at the end of every epoch (``hamr train``'s default for the methods that can resume)
    STEPS = "steps"  # every ``checkpoint_steps`` optimiser steps


class UnseenLabels(_StrEnum):
    """What to do with validation/test examples whose label the training split never has."""

    ERROR = "error"  # stop, listing every unseen label with its count and first lines
    DROP = "drop"  # score without those examples (counted, printed and written to metrics.json)
    MAP = "map"  # rename them to known labels with a two-column file (``map:FILE``)


class Device(_StrEnum):
    """Where prediction runs (``hamr predict --device``)."""

    AUTO = "auto"  # CUDA when a GPU is visible, else CPU
    CPU = "cpu"
    CUDA = "cuda"


class Severity(_StrEnum):
    """How bad a finding of ``hamr data check`` is."""

    ERROR = "error"  # training would fail on it (non-zero exit code)
    WARNING = "warning"  # training runs, but the results are likely hurt
    INFO = "info"  # worth knowing (a little truncation)


class ReportTo(_StrEnum):
    """Where the Trainer logs (``TrainingArguments.report_to``)."""

    NONE = "none"
    TENSORBOARD = "tensorboard"
    WANDB = "wandb"
