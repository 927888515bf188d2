"""HAMR's arguments: every constant of method.md is a documented field (setfit's ``training_args`` style).

Fields left ``None`` take a task-dependent default (classification vs NER) that :meth:`HAMRArguments.resolved`
fills in once the task is known. Why each default is what it is: ``docs/defaults_history.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import (
    AblationMode,
    ClassParams,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    LookaheadScope,
    MemoryMode,
    MetaObjective,
    Method,
    TaskType,
    TokenClassWeights,
    WeightingForm,
    WeightUnit,
    WNetInputs,
)
from ...errors import SettingError
from ..arguments import (
    ImbalanceArguments,
    at_least_one,
    effective_number_beta_field,
    non_negative,
    positive,
    unit_interval_open_right,
)


@dataclass
class HAMRArguments(ImbalanceArguments):
    """HAMR's settings (method.md §1-§5). ``faithful=True`` reproduces the reference code's behaviour."""

    size_rules: ClassVar[dict] = {
        "wnet_lr": positive, "wnet_weight_decay": non_negative, "meta_update_lr": positive,
        "meta_batch_size": at_least_one, "fd_epsilon": positive, "memory_gamma": unit_interval_open_right,
        "memory_eps": positive, "knn_lambda": non_negative, "effective_number_beta": unit_interval_open_right,
        "class_param_lr": positive, "class_param_cap": non_negative, "class_prior_power": non_negative,
        "pr_feedback_decay": unit_interval_open_right,
        "hardness_alpha": non_negative, "sampler_class_power": non_negative, "meta_interval": at_least_one, "knn_k": at_least_one,
        "lookahead_layers": at_least_one,
        "wnet_hidden": at_least_one, "oversample": positive,
    }

    method: Method = field(default=Method.HAMR, metadata={"help": "Training method (see hamr.Method)."})
    faithful: bool = field(
        default=False,
        metadata={"help": "Reproduce the reference code's behaviour (see docs/defaults_history.md for what it switches)."},
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
        metadata={"help": "τ of the class-level start w_i ∝ s_i · n_{y_i}^(-τ) (None: 0.5 classification; NER 1 with "
                  "the class_residual form (β starts at −log n_c), 0 with the weight net; see docs/defaults_history.md)."},
    )
    weighting_form: WeightingForm | None = field(
        default=None,
        metadata={
            "help": "None: class_residual for NER (wnet if a wnet-only option is set: token_class_weights, "
            "ner_weight_unit=token, wnet_inputs=loss_class, normalise_through_mean, fp16), wnet for classification "
            "and with faithful | wnet: w = clip(s·n_y^-τ / mean_B(s·n_y^-τ)), s = sigmoid(g_φ(z)) | class_residual: "
            "learned per-class "
            "log-weight β and logit offset δ, w = B·softmax_B(β_y) (with example_residual, + u_φ(z), a per-example "
            "residual), inner loss Σ w·CE(f(x) + δ, y) (see docs/defaults_history.md)."
        },
    )
    class_param_lr: float = field(
        default=1e-2,
        metadata={"help": "class_residual: Adam lr of β and δ (class_params=pr_feedback: the feedback gain η, β "
                          "moves by η·log((1+ε)/(p/t+ε)) per meta step)."},
    )
    class_params: ClassParams = field(
        default=ClassParams.PER_CLASS,
        metadata={"help": "class_residual: how β and δ are parametrised: per_class (a free β_c and δ_c per class "
                          "group) | strength (two learned scalars along the class prior: β = β_start + a·b, "
                          "δ = −k·b with b = −(log n_c − mean log n), a and k starting at 0; k = 1 is Balanced "
                          "Softmax's offset) | pr_feedback (β set by feedback, not the hypergradient: after every "
                          "meta step β_c rises by class_param_lr·log((1+ε)/(p_c/t_c+ε)), p_c / t_c how often class c "
                          "is predicted over how often it occurs (= R_c / P_c) in the recent meta batches, reweighted "
                          "to the training prior; δ = 0)."},
    )
    pr_feedback_decay: float = field(
        default=0.9,
        metadata={"help": "class_params=pr_feedback: per meta step, the factor by which the earlier meta batches' "
                          "confusion counts decay (0.9: about the last ten meta batches)."},
    )
    class_param_cap: float | None = field(
        default=None,
        metadata={"help": "class_residual: keep every β within ± cap of its start and every δ within ± cap "
                          "(None: unbounded)."},
    )
    example_residual: bool = field(
        default=False,
        metadata={"help": "class_residual: add the per-example residual u_φ(z) to β, w = B·softmax_B(β_y + u_φ(z)) "
                          "(False: w = B·softmax_B(β_y), the hardness acts through the sampler alone). Off since "
                          "session 34: on NER it gained ≥ 1 held-out macro-F1 on none of the three datasets (Table 3, "
                          "3 seeds; docs/defaults_history.md)."},
    )
    meta_objective: MetaObjective | None = field(
        default=None,
        metadata={
            "help": "The meta loss (None: half where the form resolves to class_residual on NER and no "
            "meta_token_class_weights are set, else plain): plain (mean CE of the meta batch) | balanced (mean "
            "over classes of the "
            "class-mean CE; NER: ½ the O tokens' mean CE + ½ the mean over entity tags) | natural (class-mean CEs "
            "weighted by the training prior, NER: the tag prior over labelled tokens) | half (½ balanced + ½ natural) | "
            "soft_f1 (1 − the soft macro-F1 of the meta batch's soft counts added to decayed running totals of the "
            "earlier batches', units reweighted to the training prior; NER: over the entity tags)."
        },
    )
    meta_class_balanced: bool = field(
        default=True,
        metadata={"help": "Draw meta batches round robin over classes (False: uniform, as the paper)."},
    )
    normalise_through_mean: bool = field(
        default=False,
        metadata={"help": "Differentiate the weights' normalisation through the batch mean too (single process only)."},
    )
    weight_min: float = field(default=0.1, metadata={"help": "Lower clip of the normalised weights."})
    weight_max: float = field(default=8.0, metadata={"help": "Upper clip of the normalised weights."})
    token_class_weights: TokenClassWeights = field(
        default=TokenClassWeights.NONE,
        metadata={"help": "NER: class weights on the per-token training loss: none | icf | effective_number."},
    )
    meta_token_class_weights: TokenClassWeights = field(
        default=TokenClassWeights.NONE,
        metadata={"help": "NER: class weights on the meta loss's tokens: none | icf | effective_number."},
    )
    ner_weight_unit: WeightUnit = field(
        default=WeightUnit.SENTENCE,
        metadata={"help": "NER: what the weight net weighs: sentence (the paper) | token."},
    )
    effective_number_beta: float = effective_number_beta_field()
    hardness_stat: HardnessStat = field(
        default=HardnessStat.MAX, metadata={"help": "NER: a sentence's hardness from its token losses (max|mean)."}
    )
    meta_update_lr: float = field(default=2e-4, metadata={"help": "η_in of the virtual step (inner_lr=constant)."})
    inner_lr: InnerLR = field(default=InnerLR.CONSTANT, metadata={"help": "Virtual step size: constant | optimizer."})
    lookahead_scope: LookaheadScope = field(
        default=LookaheadScope.HEAD,
        metadata={"help": "Parameters moved by the virtual step: all (paper; faithful) | head | last_k | lora."},
    )
    lookahead_layers: int = field(default=1, metadata={"help": "k for lookahead_scope=last_k."})
    meta_interval: int | None = field(
        default=None,
        metadata={"help": "Run the bi-level step every k training steps (None: 3; faithful: 1, the paper's)."},
    )
    meta_batch_size: int | None = field(default=None, metadata={"help": "Meta batch size (None: the train batch size)."})
    hypergrad_backend: HypergradBackend | None = field(
        default=None,
        metadata={"help": "None: head_cached for class_residual with lookahead_scope=head, else exact | exact "
                          "(second order) | finite_difference (first order) | head_cached (the exact hypergradient "
                          "over the head alone, from the training forward's cached features; lookahead_scope=head)."}
    )
    fd_epsilon: float = field(default=0.01, metadata={"help": "Finite-difference radius ε/‖v‖ (first-order backend)."})
    # --- Hardness memory and resampling
    memory_mode: MemoryMode = field(default=MemoryMode.EMA, metadata={"help": "Eq. 5 memory: ema | faithful."})
    memory_gamma: float | None = field(default=None, metadata={"help": "γ of the memory (None: 0.7 ema, 0.99 faithful)."})
    memory_eps: float | None = field(default=None, metadata={"help": "ε_m of the faithful memory (None: 1e-6 cls, 1e-4 NER)."})
    hardness_alpha: float | None = field(
        default=None,
        metadata={"help": "α of Eq. 4, p ∝ (m+1e-6)^α (1+λb) (None: 1.0 classification, 0.7 NER; faithful: 0.7)."},
    )
    sampler_class_power: float = field(
        default=0.0,
        metadata={"help": "ρ: Eq. 4 times n_g^-ρ, g an example's class (NER: its sentence's rarest entity tag); 0 the "
                          "paper, 1 draws every class equally often while the memory is flat (from epoch 1)."},
    )
    knn_lambda: float | None = field(
        default=None,
        metadata={"help": "λ of Eq. 4, the kNN boost (None: 0, off; faithful: 0.7 cls, 0.1 NER, the reference scripts')."},
    )
    knn_k: int = field(default=10, metadata={"help": "Neighbours per hard example."})
    knn_ratio: float = field(default=0.1, metadata={"help": "Share of examples (top by m) in the hard set."})
    knn_include_self: bool = field(default=False, metadata={"help": "Count a hard example as its own neighbour."})
    oversample: float | None = field(
        default=None,
        metadata={"help": "Indices drawn per epoch, as a multiple of N (None: 1.0, as many steps as every other "
                          "method; faithful: 1.2, the reference scripts' value)."},
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
        if self.hypergrad_backend is not None:
            self.hypergrad_backend = HypergradBackend.parse(self.hypergrad_backend)
        self.memory_mode = MemoryMode.parse(self.memory_mode)
        self.wnet_inputs = WNetInputs.parse(self.wnet_inputs)
        self.ner_weight_unit = WeightUnit.parse(self.ner_weight_unit)
        self.token_class_weights = TokenClassWeights.parse(self.token_class_weights)
        self.meta_token_class_weights = TokenClassWeights.parse(self.meta_token_class_weights)
        self.weighting_form = None if self.weighting_form is None else WeightingForm.parse(self.weighting_form)
        self.class_params = ClassParams.parse(self.class_params)
        self.meta_objective = None if self.meta_objective is None else MetaObjective.parse(self.meta_objective)
        if self.faithful and (self.weighting_form not in (None, WeightingForm.WNET) or
                              self.hypergrad_backend == HypergradBackend.HEAD_CACHED):
            raise SettingError("HAMRArguments: faithful=True reproduces the reference code: weighting_form='wnet' and an "
                             "exact or finite_difference hypergradient over all parameters")
        if self.weighting_form is not None:  # else checked once the task is known (form_settings)
            self._check_form(self.weighting_form, self.hypergrad_backend or HypergradBackend.EXACT, "")
        elif self.hypergrad_backend == HypergradBackend.HEAD_CACHED:
            self._check_form(WeightingForm.WNET, self.hypergrad_backend, "")
        if self.meta_interval is None:
            self.meta_interval = 1 if self.faithful else 3
        if self.oversample is None:
            self.oversample = 1.2 if self.faithful else 1.0
        for name in ("token_class_weights", "meta_token_class_weights"):
            if self.faithful and getattr(self, name) != TokenClassWeights.NONE:
                raise SettingError(
                    "HAMRArguments: faithful=True reproduces the reference code, which has no token class weights; "
                    f"got {name}={getattr(self, name).value!r}"
                )
        if self.faithful and self.ner_weight_unit != WeightUnit.SENTENCE:
            raise SettingError("HAMRArguments: faithful=True reproduces the reference code, which weighs sentences; got "
                             f"ner_weight_unit={self.ner_weight_unit.value!r}")
        if self.ner_weight_unit == WeightUnit.TOKEN and self.wnet_inputs == WNetInputs.LOSS_CLASS:
            raise SettingError("HAMRArguments: ner_weight_unit='token' takes the loss as the weight net's only input; "
                             "wnet_inputs='loss_class' is for sentence (or classification) weights")
        if self.faithful and self.normalise_through_mean:
            raise SettingError("HAMRArguments: faithful=True reproduces the reference code, whose normalisation mean is "
                             "detached; got normalise_through_mean=True")
        if self.faithful:
            self.lookahead_scope = LookaheadScope.ALL
            self.meta_class_balanced = False
            self.class_prior_power = 0.0
            self.memory_mode = MemoryMode.FAITHFUL
            self.knn_include_self = True
            self.meta_strip_from_train = True
        if not 0 < self.knn_ratio <= 1:
            raise SettingError(f"HAMRArguments.knn_ratio must be in (0, 1], got {self.knn_ratio}")
        if not 0 < self.weight_min < self.weight_max:
            raise SettingError("HAMRArguments: need 0 < weight_min < weight_max")
        super().__post_init__()

    def _check_form(self, form: WeightingForm, backend: HypergradBackend, why: str) -> None:
        """The settings that fit (or not) with a weighting form and hypergradient backend; ``why`` says where a
        resolved default came from, for the message."""
        if backend == HypergradBackend.HEAD_CACHED and self.lookahead_scope != LookaheadScope.HEAD \
                and not self.faithful:
            raise SettingError("HAMRArguments: hypergrad_backend='head_cached' computes the hypergradient over the head "
                             f"alone; it needs lookahead_scope='head', got {self.lookahead_scope.value!r}{why}")
        cr = form == WeightingForm.CLASS_RESIDUAL
        if self.ablation in (AblationMode.WITHOUT_CLASS_PARAMS, AblationMode.WITHOUT_RESIDUAL) and not cr:
            raise SettingError(f"HAMRArguments: ablation={self.ablation.value!r} removes a part of "
                             f"weighting_form='class_residual'; set weighting_form='class_residual'{why}")
        if self.class_params != ClassParams.PER_CLASS and not cr:
            raise SettingError(f"HAMRArguments: class_params={self.class_params.value!r} parametrises the class terms "
                             f"of weighting_form='class_residual'; set weighting_form='class_residual'{why}")
        if self.example_residual and not cr:
            raise SettingError("HAMRArguments: example_residual=True adds the per-example residual of "
                             f"weighting_form='class_residual'; set weighting_form='class_residual'{why}")
        if self.class_param_cap is not None and not cr:
            raise SettingError("HAMRArguments: class_param_cap bounds the class parameters of "
                             f"weighting_form='class_residual'; set weighting_form='class_residual'{why}")
        if not cr:
            return
        if backend == HypergradBackend.FINITE_DIFFERENCE:
            raise SettingError("HAMRArguments: weighting_form='class_residual' supports hypergrad_backend 'exact' "
                             f"or 'head_cached', not 'finite_difference'{why}")
        for _, on, refusal in self._wnet_only():
            if on and refusal:
                raise SettingError(f"HAMRArguments: {refusal}{why}")

    def _wnet_only(self) -> list[tuple[str, bool, str | None]]:
        """(option, set here, why class_residual refuses it or None where it is only ignored) for the options
        only the weight-net form has."""
        return [
            ("token_class_weights", self.token_class_weights != TokenClassWeights.NONE,
             "weighting_form='class_residual' learns the tags' weights (β); token_class_weights must be 'none'"),
            ("ner_weight_unit", self.ner_weight_unit != WeightUnit.SENTENCE, None),
            ("wnet_inputs", self.wnet_inputs != WNetInputs.LOSS,
             "weighting_form='class_residual' reads the class through β; wnet_inputs must be 'loss'"),
            ("normalise_through_mean", self.normalise_through_mean,
             "normalise_through_mean is for weighting_form='wnet' (the softmax of class_residual has no common "
             "scale to detach)"),
            ("fp16", self.fp16, "weighting_form='class_residual' has no fp16 loss scaling; use bf16 or fp32"),
        ]

    def wnet_only_options(self) -> list[str]:
        """The options set here that only the weight-net form has (then the NER default form is the weight net)."""
        return [name for name, on, _ in self._wnet_only() if on]

    def form_settings(self, task: TaskType) -> dict:
        """The weighting form, meta objective and hypergradient backend a run on ``task`` uses: the fields, or
        where they are None, the task's defaults (issue 22: class_residual with the half meta objective for
        NER, the weight net and the plain meta loss for classification and ``faithful``; for NER too the weight
        net when an option only it has is set, see :meth:`wnet_only_options`), checked."""
        ner = TaskType.parse(task) == TaskType.NER
        form = self.weighting_form or (
            WeightingForm.CLASS_RESIDUAL if ner and not self.faithful and not self.wnet_only_options()
            else WeightingForm.WNET)
        cr = form == WeightingForm.CLASS_RESIDUAL
        objective = self.meta_objective or (
            MetaObjective.HALF if ner and cr and self.meta_token_class_weights == TokenClassWeights.NONE
            else MetaObjective.PLAIN)
        backend = self.hypergrad_backend or (
            HypergradBackend.HEAD_CACHED if cr and self.lookahead_scope == LookaheadScope.HEAD else HypergradBackend.EXACT)
        if self.weighting_form is None or self.hypergrad_backend is None:
            why = (f" (weighting_form={form.value!r} is the default for {'NER' if ner else 'classification'}; "
                   "set weighting_form to choose another)") if self.weighting_form is None else ""
            self._check_form(form, backend, why)
        return {"weighting_form": form, "meta_objective": objective, "hypergrad_backend": backend}

    # -- task-dependent defaults ---------------------------------------------------------------------
    def resolved(self, task: TaskType) -> dict:
        """The effective values of the task-dependent fields (method.md §1, §4, §8)."""
        ner = TaskType.parse(task) == TaskType.NER
        forms = self.form_settings(task)
        cr = forms["weighting_form"] == WeightingForm.CLASS_RESIDUAL
        return {
            "wnet_lr": self.wnet_lr
            if self.wnet_lr is not None
            else (3e-4 if ner else (1e-4 if self.faithful else 1e-3)),
            "class_prior_power": self.class_prior_power
            if self.class_prior_power is not None
            else ((1.0 if cr else 0.0) if ner else 0.5),
            "memory_gamma": self.memory_gamma
            if self.memory_gamma is not None
            else (0.99 if self.memory_mode == MemoryMode.FAITHFUL else 0.7),
            "memory_eps": self.memory_eps if self.memory_eps is not None else (1e-4 if ner else 1e-6),
            "knn_lambda": self.knn_lambda if self.knn_lambda is not None
            else ((0.1 if ner else 0.7) if self.faithful else 0.0),
            "hardness_alpha": self.hardness_alpha
            if self.hardness_alpha is not None
            else (0.7 if ner or self.faithful else 1.0),
            "meta_batch_size": self.meta_batch_size or self.per_device_train_batch_size,
            "ner_train_max_token": ner and self.faithful,
            **{k: v.value for k, v in forms.items()},
            "uses_example_residual": cr and self.uses_residual and self.uses_awe,
        }

    @staticmethod
    def unrecorded_resolved(resolved: dict[str, str], settings: dict[str, str]) -> dict[str, str]:
        """The resolved values a run made before they were recorded ran with, from what it did record
        (``resolved_method_settings`` and ``method_settings``, as strings), so that a default changed since is
        still seen by the bench's staleness check: ``uses_example_residual`` (recorded since session 34; before,
        class_residual always had the residual unless an ablation removed it or the learned weights)."""
        out = {}
        if "uses_example_residual" not in resolved and "weighting_form" in resolved:
            without = (AblationMode.WITHOUT_RESIDUAL, AblationMode.WITHOUT_AWE, AblationMode.WITHOUT_ALL)
            out["uses_example_residual"] = str(resolved["weighting_form"] == WeightingForm.CLASS_RESIDUAL.value
                                               and settings.get("ablation") not in {a.value for a in without})
        return out

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
        """The kNN boost is on: λ > 0 (by default only with ``faithful``) and the ablation keeps it."""
        lam_on = self.knn_lambda > 0 if self.knn_lambda is not None else self.faithful
        return lam_on and self.ablation in (AblationMode.FULL, AblationMode.WITHOUT_AWE, *self._CLASS_ABLATIONS)

    @property
    def learns_class_params(self) -> bool:
        """class_residual: β and δ are learned (False: frozen at their start, the w/o-class-parameters ablation)."""
        return self.ablation != AblationMode.WITHOUT_CLASS_PARAMS

    @property
    def uses_residual(self) -> bool:
        """class_residual: the per-example residual u_φ is used (``example_residual``, off by default; the
        w/o-residual ablation removes it when it is on)."""
        return self.example_residual and self.ablation != AblationMode.WITHOUT_RESIDUAL
