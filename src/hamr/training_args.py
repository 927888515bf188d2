"""Training arguments: every constant of method.md is a documented field (setfit's ``training_args`` style).

``ImbalanceArguments`` extends ``transformers.TrainingArguments`` with the method and the baselines' settings;
``HAMRArguments`` adds HAMR's. Fields left ``None`` take a task-dependent default (classification vs NER)
that :meth:`HAMRArguments.resolve` fills in once the task is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from .enums import (
    AblationMode,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    LogitAdjustmentForm,
    LookaheadScope,
    MemoryMode,
    MetaObjective,
    Method,
    TaskType,
    TokenClassWeights,
    WNetInputs,
    WeightingForm,
    WeightUnit,
)


def _positive(v) -> bool:
    return v > 0


def _non_negative(v) -> bool:
    return v >= 0


def _at_least_one(v) -> bool:
    return v >= 1


def _unit_interval_open_right(v) -> bool:
    return 0 <= v < 1


_RULES = {_positive: "> 0", _non_negative: ">= 0", _at_least_one: ">= 1", _unit_interval_open_right: "in [0, 1)"}

# field -> rule (None values are allowed where the field is optional: they take a default)
_IMBALANCE_SIZES = {
    "num_train_epochs": _positive, "per_device_train_batch_size": _at_least_one,
    "per_device_eval_batch_size": _at_least_one, "learning_rate": _non_negative,
    "gradient_accumulation_steps": _at_least_one,
    "focal_gamma": _non_negative, "effective_number_beta": _unit_interval_open_right, "dice_smooth": _non_negative,
    "lnr_t_flip": _non_negative, "lnr_first_stage_epochs": _positive, "gbc_layers": _at_least_one,
    "gbc_max_coordinates": _at_least_one, "gbc_warmup_epochs": _non_negative, "gbc_meta_size": _at_least_one,
    "gbc_score_examples": _at_least_one, "gbc_inner_lr": _positive, "gbc_meta_batch_size": _at_least_one,
    "gbc_lookahead_layers": _at_least_one, "metabalance_inner_lr": _positive, "metabalance_lambda": _non_negative,
    "metabalance_outer_batches": _at_least_one,
}
_HAMR_SIZES = {
    "wnet_lr": _positive, "wnet_weight_decay": _non_negative, "meta_update_lr": _positive,
    "meta_batch_size": _at_least_one, "fd_epsilon": _positive, "memory_gamma": _unit_interval_open_right,
    "memory_eps": _positive, "knn_lambda": _non_negative,
}


def check_sizes(args, cls_name: str, rules: dict) -> None:
    """Every numeric field in ``rules`` obeys its rule (a ``None`` optional field takes its default);
    the message names the field, what was expected and what was given."""
    import math

    for name, rule in rules.items():
        v = getattr(args, name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not rule(v):
            raise ValueError(f"{cls_name}.{name} must be {_RULES[rule]}, got {v!r}")


@dataclass
class ImbalanceArguments(TrainingArguments):
    """``TrainingArguments`` plus the choice of method and the settings of the baselines (method.md §6)."""

    method: Method = field(default=Method.ERM, metadata={"help": "Training method (see hamr.Method)."})
    focal_gamma: float = field(default=2.0, metadata={"help": "Focal loss focusing parameter γ."})
    effective_number_beta: float = field(
        default=0.9999, metadata={"help": "β of the Effective Number weights (Cui et al. 2019); also Focal's α."}
    )
    dice_smooth: float = field(
        default=1e-4,
        metadata={
            "help": "Smoothing of the soft Dice loss (1e-4, the Dice authors' trainer default; at method.md's 1, "
            "Dice collapsed to the majority class on Cyclone-Idai19: see hamr.losses.DiceLoss)."
        },
    )
    lnr_t_flip: float = field(default=7.5, metadata={"help": "LNR flip threshold t_flip (authors: 7.5 for 10 classes)."})
    lnr_first_stage_epochs: float = field(
        default=1.0, metadata={"help": "Epochs of the plain first-stage model whose probabilities drive LNR."}
    )
    gbc_layers: int = field(default=3, metadata={"help": "GBC: layers drawn for the gradient features."})
    gbc_max_coordinates: int = field(default=5000, metadata={"help": "GBC: random coordinates kept per layer."})
    gbc_warmup_epochs: float = field(default=1.0, metadata={"help": "GBC: plain warm-up before selecting the meta set."})
    gbc_meta_size: int | None = field(
        default=None, metadata={"help": "GBC: meta-set size K (None: the size of HAMR's balanced meta set)."}
    )
    gbc_weight_lr: float | None = field(
        default=None,
        metadata={
            "help": "GBC (L2RW-style): step size η_w on example weights, w ← clip(w − η_w g, 1e-7, 1). None: 1/η_in "
            "(the virtual step's lr), so an update moves a weight by ⟨∇L_meta(θ'), ∇ℓ_j⟩/B whatever the training lr. "
            "g is proportional to η_in: |g| ≈ 2e-5 at lr 4e-5 (benchmarks/runs/gbc_weight_scale.py), so a fixed "
            "η_w of 1 leaves every weight within 1e-4 of 1 and GBC trains as plain CE."
        },
    )
    gbc_score_examples: int = field(
        default=64, metadata={"help": "GBC: training examples (seeded sample) whose gradients score the layers."}
    )
    gbc_inner_lr: float | None = field(
        default=None, metadata={"help": "GBC: step of the virtual SGD step (None: the optimiser's current lr)."}
    )
    gbc_meta_batch_size: int | None = field(
        default=None, metadata={"help": "GBC: meta batch size of the L2RW step (None: the train batch size)."}
    )
    gbc_lookahead_scope: LookaheadScope = field(
        default=LookaheadScope.LAST_K, metadata={"help": "GBC: parameters moved by the virtual step: all|head|last_k|lora."}
    )
    gbc_lookahead_layers: int = field(default=1, metadata={"help": "GBC: k for gbc_lookahead_scope=last_k."})
    metabalance_inner_lr: float = field(
        default=1e-4, metadata={"help": "MetaBalance: inner SGD step α (far below the from-scratch 0.01)."}
    )
    metabalance_lambda: float = field(default=0.01, metadata={"help": "MetaBalance: weight λ of the inner loss."})
    metabalance_outer_batches: int = field(
        default=4, metadata={"help": "MetaBalance: outer losses accumulated per optimiser step."}
    )
    logit_adjustment_tau: float = field(
        default=1.0, metadata={"help": "Logit adjustment (Menon et al. 2021): τ of the offset τ·log π (1: the paper's)."}
    )
    logit_adjustment_form: LogitAdjustmentForm = field(
        default=LogitAdjustmentForm.POST_HOC,
        metadata={
            "help": "Logit adjustment: post_hoc (train with CE, predict with f(x) − τ·log π, folded into the output "
            "bias after training) | loss (train on CE(f(x) + τ·log π), predict with f(x)). post_hoc is the default "
            "because the loss form at τ = 1 is Balanced Softmax exactly (method balanced_softmax)."
        },
    )

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        self.logit_adjustment_form = LogitAdjustmentForm.parse(self.logit_adjustment_form)
        if self.logit_adjustment_tau < 0:
            raise ValueError(f"ImbalanceArguments.logit_adjustment_tau must be >= 0, got {self.logit_adjustment_tau}")
        if self.gbc_weight_lr is not None and not self.gbc_weight_lr > 0:
            raise ValueError(f"ImbalanceArguments.gbc_weight_lr must be > 0 (or None: 1/η_in), got {self.gbc_weight_lr}")
        check_sizes(self, "ImbalanceArguments", _IMBALANCE_SIZES)
        super().__post_init__()


@dataclass
class HAMRArguments(ImbalanceArguments):
    """HAMR's settings (method.md §1-§5). ``faithful=True`` reproduces the reference code's behaviour."""

    method: Method = field(default=Method.HAMR, metadata={"help": "Training method (see hamr.Method)."})
    faithful: bool = field(
        default=False,
        metadata={
            "help": "Reproduce the paper's code: look-ahead over all parameters, global-decay memory (γ 0.99), NER "
            "trained on the max-token loss, kNN hits include the hard example itself, meta examples removed from train."
        },
    )
    ablation: AblationMode = field(default=AblationMode.FULL, metadata={"help": "Paper Table 3 ablation."})
    # --- Adaptive Weight Estimation
    wnet_lr: float | None = field(
        default=None,
        metadata={"help": "Adam lr of the weight net (None: 1e-3 classification, 3e-4 NER; faithful: 1e-4 / 3e-4)."},
    )
    wnet_weight_decay: float = field(default=1e-4, metadata={"help": "Weight decay of the weight net's Adam."})
    wnet_hidden: int = field(default=100, metadata={"help": "Hidden units of the weight net."})
    wnet_init_bias: float = field(default=0.1, metadata={"help": "Initial bias of the weight net's output layer."})
    wnet_inputs: WNetInputs = field(
        default=WNetInputs.LOSS, metadata={"help": "Weight-net input: loss (paper) | loss_class (adds class frequency)."}
    )
    class_prior_power: float | None = field(
        default=None,
        metadata={
            "help": "τ of the class-level starting point: w_i ∝ s_i · n_{y_i}^(-τ) before normalisation "
            "(None: 0.5 classification, 0 NER: on TweetNER7 τ 0.5 and 1 lowered validation macro-F1 from 36.9 to "
            "35.7 and 30.5, benchmarks/results/screens/ner_class_prior; 0 = the paper; 1 = inverse class frequency; "
            "NER classes: a sentence's rarest entity tag)."
        },
    )
    weighting_form: WeightingForm = field(
        default=WeightingForm.WNET,
        metadata={
            "help": "wnet (default): w = clip(s·n_y^-τ / mean_B(s·n_y^-τ)), s = sigmoid(g_φ(z)). class_residual (issue 22): "
            "per class (NER: per entity type, B-/I- shared, and O) a log-weight β_c and a logit offset δ_c learned by "
            "the hypergradient with a zero-initialised per-example residual u_φ: w = B·softmax_B(β_y + u_φ(z)), inner "
            "loss Σ w·CE(f(x) + δ, y); β starts at log n_y^-τ (class_prior_power), δ at 0; NER units are labelled "
            "tokens. δ is a training-time adjustment: the model predicts with its plain logits (as in loss-based "
            "logit adjustment), and the meta loss is taken on the plain logits of the look-ahead model. Not under "
            "DDP or fp16 loss scaling, not with the finite_difference backend or wnet_inputs=loss_class."
        },
    )
    class_param_lr: float = field(
        default=1e-2,
        metadata={"help": "class_residual: Adam lr of β and δ (Adam moves a parameter by about lr per meta step; "
                          "a 3-epoch CPU run has ~200 meta steps, so 1e-2 lets β move by up to ~2 in log space)."},
    )
    meta_objective: MetaObjective = field(
        default=MetaObjective.PLAIN,
        metadata={
            "help": "The meta loss: plain (mean CE of the meta batch; today) | balanced (mean over classes of the "
            "class-mean CE; NER: ½ the O tokens' mean CE + ½ the mean over entity tags) | natural (class-mean CEs "
            "weighted by the training prior, NER: the tag prior over labelled tokens) | half (½ balanced + ½ natural)."
        },
    )
    meta_class_balanced: bool = field(
        default=True,
        metadata={
            "help": "Draw meta batches round robin over classes, so the meta loss is a balanced objective (the "
            "median-balanced meta set alone keeps its largest class at ~30% of a batch on Cyclone-Idai19). "
            "False: uniform batches from the meta set, as the paper."
        },
    )
    normalise_through_mean: bool = field(
        default=False,
        metadata={
            "help": "Differentiate the weights' normalisation w = s / mean_B(s) through the batch mean too. False (the "
            "paper): the mean is detached, so the hypergradient rewards raising every s (like a larger inner step) and "
            "pushes all s towards the sigmoid's ceiling, where the weights flatten (benchmarks/results/"
            "probe_wnet_tweetner7.txt). True: only relative changes of s count. Single process only (not under DDP)."
        },
    )
    weight_min: float = field(default=0.1, metadata={"help": "Lower clip of the normalised weights."})
    weight_max: float = field(default=8.0, metadata={"help": "Upper clip of the normalised weights."})
    token_class_weights: TokenClassWeights = field(
        default=TokenClassWeights.NONE,
        metadata={
            "help": "NER: class weights on the per-token training loss (none | icf | effective_number, the latter "
            "with effective_number_beta), rescaled to mean 1 over the training tokens, under HAMR's sentence "
            "weights: a sentence's loss is Σ_t w_{y_t} CE_t / n_t. The hardness signal stays unweighted. "
            "Classification ignores it (its class-level term is class_prior_power)."
        },
    )
    meta_token_class_weights: TokenClassWeights = field(
        default=TokenClassWeights.NONE,
        metadata={
            "help": "NER: class weights on the meta loss's tokens (none | icf | effective_number), from the meta "
            "set's tag counts, torch's weighted mean: with icf every tag weighs the same in the meta objective, "
            "which plain token CE leaves to the O tag. The training loss is unchanged (see token_class_weights). "
            "Classification ignores it (its meta batches are class-balanced already)."
        },
    )
    ner_weight_unit: WeightUnit = field(
        default=WeightUnit.SENTENCE,
        metadata={
            "help": "NER: what the weight net weighs. sentence (the paper): one weight per sentence from its "
            "hardness_stat token CE, the same for all its tokens. token: one weight per labelled token from its "
            "own CE (z-scored over the batch's labelled tokens), normalised over them, so a hard entity token can "
            "outweigh the easy O tokens of its own sentence, which a sentence weight cannot; the training loss is "
            "the token mean of w_t·CE_t over the batch, and a sentence's hardness memory takes the hardness_stat "
            "(max|mean) of its token weights, rescaled to mean 1 over the batch. Not with wnet_inputs=loss_class. Classification ignores it."
        },
    )
    hardness_stat: HardnessStat = field(
        default=HardnessStat.MAX, metadata={"help": "NER: a sentence's hardness from its token losses (max|mean)."}
    )
    meta_update_lr: float = field(default=2e-4, metadata={"help": "η_in of the virtual step (inner_lr=constant)."})
    inner_lr: InnerLR = field(default=InnerLR.CONSTANT, metadata={"help": "Virtual step size: constant | optimizer."})
    lookahead_scope: LookaheadScope = field(
        default=LookaheadScope.HEAD,
        metadata={
            "help": "Parameters moved by the virtual step: all (paper; faithful) | head (default: within 1.5x ERM's "
            "time per epoch with the default meta_interval and oversample) | last_k (+ the last lookahead_layers layers) | lora."
        },
    )
    lookahead_layers: int = field(default=1, metadata={"help": "k for lookahead_scope=last_k."})
    meta_interval: int | None = field(
        default=None,
        metadata={
            "help": "Run the bi-level step every k training steps (None: 3; faithful: 1, the paper's). With 1.2N draws "
            "per epoch, 3 keeps an epoch at 1.39x plain fine-tuning's time (benchmarks/results/overhead/os12_interval3)."
        },
    )
    meta_batch_size: int | None = field(default=None, metadata={"help": "Meta batch size (None: the train batch size)."})
    hypergrad_backend: HypergradBackend = field(
        default=HypergradBackend.EXACT, metadata={"help": "exact (second order) | finite_difference (first order)."}
    )
    fd_epsilon: float = field(default=0.01, metadata={"help": "Finite-difference radius ε/‖v‖ (first-order backend)."})
    # --- Hardness memory and resampling
    memory_mode: MemoryMode = field(default=MemoryMode.EMA, metadata={"help": "Eq. 5 memory: ema | faithful."})
    memory_gamma: float | None = field(default=None, metadata={"help": "γ of the memory (None: 0.7 ema, 0.99 faithful)."})
    memory_eps: float | None = field(default=None, metadata={"help": "ε_m of the faithful memory (None: 1e-6 cls, 1e-4 NER)."})
    hardness_alpha: float | None = field(
        default=None,
        metadata={
            "help": "α of Eq. 4: p ∝ (m+1e-6)^α (1+λb) (None: 1.0 classification, 0.7 NER; faithful: 0.7, the "
            "paper's). The sharper sampler draws the rare, hard classes more: on Cyclone-Idai19 it raised validation "
            "macro-F1 on each of 3 seeds (48.0 ± 3.4 → 51.1 ± 1.8), left Hurricane-Irma17 level (63.0 → 62.9) and "
            "TweetNER7 too (38.7 → 38.4, so NER keeps 0.7); benchmarks/configs/screens/hum_sampler_wnet.json, "
            "ner_alpha.json."
        },
    )
    knn_lambda: float | None = field(default=None, metadata={"help": "λ of Eq. 4 (None: 0.7 cls, 0.1 NER)."})
    knn_k: int = field(default=10, metadata={"help": "Neighbours per hard example."})
    knn_ratio: float = field(default=0.1, metadata={"help": "Share of examples (top by m) in the hard set."})
    knn_include_self: bool = field(default=False, metadata={"help": "Count a hard example as its own neighbour."})
    oversample: float = field(
        default=1.2,
        metadata={
            "help": "Indices drawn per epoch, as a multiple of N (1.2, the reference scripts' value, in the default "
            "and faithful modes alike: 20% more steps per epoch than the baselines. Against 1.0N with a meta step every "
            "2 steps it gained validation macro-F1 on Cyclone-Idai19 (3 seeds, 48.0 vs 45.3) and TweetNER7; "
            "benchmarks/configs/screens/*_oversample.json)."
        },
    )
    embedding_model: str | None = field(
        default=None, metadata={"help": "Sentence embedder for the kNN graph (None: the packaged MiniLM)."}
    )
    embedding_cache_dir: str | None = field(default=None, metadata={"help": "Embedding cache (None: ~/.cache/hamr)."})
    meta_strip_from_train: bool = field(
        default=False, metadata={"help": "Remove examples copied into the meta set from train (reference code)."}
    )

    def __post_init__(self) -> None:
        self.ablation = AblationMode.parse(self.ablation)
        self.hardness_stat = HardnessStat.parse(self.hardness_stat)
        self.inner_lr = InnerLR.parse(self.inner_lr)
        self.lookahead_scope = LookaheadScope.parse(self.lookahead_scope)
        self.hypergrad_backend = HypergradBackend.parse(self.hypergrad_backend)
        self.memory_mode = MemoryMode.parse(self.memory_mode)
        self.wnet_inputs = WNetInputs.parse(self.wnet_inputs)
        self.ner_weight_unit = WeightUnit.parse(self.ner_weight_unit)
        self.token_class_weights = TokenClassWeights.parse(self.token_class_weights)
        self.meta_token_class_weights = TokenClassWeights.parse(self.meta_token_class_weights)
        self.weighting_form = WeightingForm.parse(self.weighting_form)
        self.meta_objective = MetaObjective.parse(self.meta_objective)
        if self.hypergrad_backend == HypergradBackend.HEAD_CACHED and self.lookahead_scope != LookaheadScope.HEAD \
                and not self.faithful:
            raise ValueError("HAMRArguments: hypergrad_backend='head_cached' computes the hypergradient over the head "
                             f"alone; it needs lookahead_scope='head', got {self.lookahead_scope.value!r}")
        if self.faithful and (self.weighting_form != WeightingForm.WNET or
                              self.hypergrad_backend == HypergradBackend.HEAD_CACHED):
            raise ValueError("HAMRArguments: faithful=True reproduces the reference code: weighting_form='wnet' and an "
                             "exact or finite_difference hypergradient over all parameters")
        if self.ablation in (AblationMode.WITHOUT_CLASS_PARAMS, AblationMode.WITHOUT_RESIDUAL) and \
                self.weighting_form != WeightingForm.CLASS_RESIDUAL:
            raise ValueError(f"HAMRArguments: ablation={self.ablation.value!r} removes a part of "
                             "weighting_form='class_residual'; set weighting_form='class_residual'")
        if self.weighting_form == WeightingForm.CLASS_RESIDUAL:
            if self.hypergrad_backend == HypergradBackend.FINITE_DIFFERENCE:
                raise ValueError("HAMRArguments: weighting_form='class_residual' supports hypergrad_backend 'exact' "
                                 "or 'head_cached', not 'finite_difference'")
            if self.wnet_inputs != WNetInputs.LOSS:
                raise ValueError("HAMRArguments: weighting_form='class_residual' reads the class through β; "
                                 "wnet_inputs must be 'loss'")
            if self.normalise_through_mean:
                raise ValueError("HAMRArguments: normalise_through_mean is for weighting_form='wnet' (the softmax "
                                 "of class_residual has no common scale to detach)")
        if not self.class_param_lr > 0:
            raise ValueError(f"HAMRArguments.class_param_lr must be > 0, got {self.class_param_lr}")
        for name in ("class_prior_power", "hardness_alpha"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"HAMRArguments.{name} must be >= 0, got {getattr(self, name)}")
        if self.meta_interval is None:
            self.meta_interval = 1 if self.faithful else 3
        for name in ("token_class_weights", "meta_token_class_weights"):
            if self.faithful and getattr(self, name) != TokenClassWeights.NONE:
                raise ValueError(
                    "HAMRArguments: faithful=True reproduces the reference code, which has no token class weights; "
                    f"got {name}={getattr(self, name).value!r}"
                )
        if self.faithful and self.ner_weight_unit != WeightUnit.SENTENCE:
            raise ValueError("HAMRArguments: faithful=True reproduces the reference code, which weighs sentences; got "
                             f"ner_weight_unit={self.ner_weight_unit.value!r}")
        if self.ner_weight_unit == WeightUnit.TOKEN and self.wnet_inputs == WNetInputs.LOSS_CLASS:
            raise ValueError("HAMRArguments: ner_weight_unit='token' takes the loss as the weight net's only input; "
                             "wnet_inputs='loss_class' is for sentence (or classification) weights")
        if self.faithful and self.normalise_through_mean:
            raise ValueError("HAMRArguments: faithful=True reproduces the reference code, whose normalisation mean is "
                             "detached; got normalise_through_mean=True")
        if self.faithful:
            self.lookahead_scope = LookaheadScope.ALL
            self.meta_class_balanced = False
            self.class_prior_power = 0.0
            self.memory_mode = MemoryMode.FAITHFUL
            self.knn_include_self = True
            self.meta_strip_from_train = True
        for name in ("meta_interval", "knn_k", "lookahead_layers", "wnet_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"HAMRArguments.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.knn_ratio <= 1:
            raise ValueError(f"HAMRArguments.knn_ratio must be in (0, 1], got {self.knn_ratio}")
        if self.oversample <= 0:
            raise ValueError(f"HAMRArguments.oversample must be > 0, got {self.oversample}")
        if not 0 < self.weight_min < self.weight_max:
            raise ValueError("HAMRArguments: need 0 < weight_min < weight_max")
        check_sizes(self, "HAMRArguments", _HAMR_SIZES)
        super().__post_init__()

    # -- task-dependent defaults ---------------------------------------------------------------------
    def resolved(self, task: TaskType) -> dict:
        """The effective values of the task-dependent fields (method.md §1, §4, §8)."""
        ner = TaskType.parse(task) == TaskType.NER
        return {
            "wnet_lr": self.wnet_lr
            if self.wnet_lr is not None
            else (3e-4 if ner else (1e-4 if self.faithful else 1e-3)),
            "class_prior_power": self.class_prior_power
            if self.class_prior_power is not None
            else (0.0 if ner else 0.5),
            "memory_gamma": self.memory_gamma
            if self.memory_gamma is not None
            else (0.99 if self.memory_mode == MemoryMode.FAITHFUL else 0.7),
            "memory_eps": self.memory_eps if self.memory_eps is not None else (1e-4 if ner else 1e-6),
            "knn_lambda": self.knn_lambda if self.knn_lambda is not None else (0.1 if ner else 0.7),
            "hardness_alpha": self.hardness_alpha
            if self.hardness_alpha is not None
            else (0.7 if ner or self.faithful else 1.0),
            "meta_batch_size": self.meta_batch_size or self.per_device_train_batch_size,
            "ner_train_max_token": ner and self.faithful,
        }

    _CLASS_ABLATIONS = (AblationMode.WITHOUT_CLASS_PARAMS, AblationMode.WITHOUT_RESIDUAL)

    @property
    def uses_awe(self) -> bool:
        return self.ablation in (AblationMode.FULL, AblationMode.WITHOUT_RESAMPLING, AblationMode.WITHOUT_KNN,
                                 *self._CLASS_ABLATIONS)

    @property
    def uses_resampling(self) -> bool:
        return self.ablation in (AblationMode.FULL, AblationMode.WITHOUT_AWE, AblationMode.WITHOUT_KNN,
                                 *self._CLASS_ABLATIONS)

    @property
    def uses_knn(self) -> bool:
        return self.ablation in (AblationMode.FULL, AblationMode.WITHOUT_AWE, *self._CLASS_ABLATIONS)

    @property
    def learns_class_params(self) -> bool:
        """class_residual: β and δ are learned (False: frozen at their start, the w/o-class-parameters ablation)."""
        return self.ablation != AblationMode.WITHOUT_CLASS_PARAMS

    @property
    def uses_residual(self) -> bool:
        """class_residual: the per-example residual u_φ is used (False: u ≡ 0, the w/o-residual ablation)."""
        return self.ablation != AblationMode.WITHOUT_RESIDUAL
