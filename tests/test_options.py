"""The one key=value parser and validator (hamr.options) behind `-o`, `--data-option`, protocol files and
RunConfig.options, and the one source of run settings (hamr.config)."""

from __future__ import annotations

import dataclasses

import pytest

from hamr.config import SETTING_DEFAULTS, RunConfig, resolve_learning_rate, run_config_defaults
from hamr.enums import LookaheadScope, TaskType
from hamr.methods import get_method
from hamr.methods.hamr import HAMRArguments
from hamr.options import OptionError, parse_data_options, parse_options, validate_options


def test_key_value_options_are_typed_by_the_arguments_class():
    got = parse_options(["lookahead-scope=last_k", "knn_k=5", "knn_ratio=0.25", "wnet_lr=None", "faithful=off",
                         "embedding_model=my/model"], HAMRArguments)
    assert got == {"lookahead_scope": LookaheadScope.LAST_K, "knn_k": 5, "knn_ratio": 0.25, "wnet_lr": None,
                   "faithful": False, "embedding_model": "my/model"}
    assert type(got["knn_k"]) is int and type(got["knn_ratio"]) is float
    with pytest.raises(OptionError, match=r"--option knn_k: invalid literal"):
        parse_options(["knn_k=five"], HAMRArguments)
    with pytest.raises(OptionError, match=r"--option faithful: expected true/false, got 'maybe'"):
        parse_options(["faithful=maybe"], HAMRArguments)
    with pytest.raises(OptionError, match=r"expected key=value"):
        parse_options(["knn_k"], HAMRArguments)
    with pytest.raises(OptionError, match=r"gbc_layers: not a field of ImbalanceArguments"):
        parse_options(["gbc_layers=2"], get_method("erm").arguments_class)  # GBC's field is not ERM's
    assert parse_options(["gbc_layers=2"], get_method("gbc").arguments_class) == {"gbc_layers": 2}


def test_typed_options_are_validated_with_the_place_they_came_from():
    assert validate_options({"knn_k": 3, "knn_ratio": 1, "ablation": "without_awe"}, HAMRArguments, "p.json: x") \
        == {"knn_k": 3, "knn_ratio": 1, "ablation": "without_awe"}  # an int is a valid float; words stay words
    for bad, words in (({"knn_k": 2.5}, "p.json: x.knn_k: expected int for knn_k, got 2.5"),
                       ({"knn_k": True}, "expected int"),
                       ({"faithful": "yes"}, "expected bool"),
                       ({"ablation": "without_magic"}, "without_magic"),
                       ({"knn_k": None}, "null is not allowed"),
                       ({"no_such": 1}, "p.json: x.no_such: unknown option: not a field of HAMRArguments")):
        with pytest.raises(OptionError, match=words):
            validate_options(bad, HAMRArguments, "p.json: x")
    with pytest.raises(OptionError, match="set by the harness"):
        validate_options({"seed": 1}, HAMRArguments, "w", reserved={"seed"}, reserved_reason="set by the harness")



def test_strict_readers_take_a_unions_first_member_config_files_keep_it_whole():
    """`-o` and protocol JSON read `SchedulerType | str` as the enum (a typo is an error); config files (coerce)
    keep a several-type union whole (`report_to` takes a word or a list)."""
    from hamr.methods.arguments import ImbalanceArguments
    from hamr.options import check, coerce, field_types

    types_ = field_types(ImbalanceArguments)
    assert parse_options(["lr_scheduler_type=cosine"], ImbalanceArguments)["lr_scheduler_type"].value == "cosine"
    with pytest.raises(OptionError, match=r"lr_scheduler_type: .*not a valid SchedulerType"):
        parse_options(["lr_scheduler_type=cosin"], ImbalanceArguments)
    with pytest.raises(OptionError, match=r"protocol.options.lr_scheduler_type: .*not a valid SchedulerType"):
        check("lr_scheduler_type", "cosin", types_["lr_scheduler_type"], "protocol.options.lr_scheduler_type")
    assert coerce(["tensorboard"], types_["report_to"], "config.report_to") == ["tensorboard"]
    assert coerce("none", types_["report_to"], "config.report_to") == "none"  # a word here, not null

def test_data_options_keep_integers_and_words():
    assert parse_data_options(["tag_column=0", "text_column=text", "offset=-2", "sep=;"]) == \
        {"tag_column": 0, "text_column": "text", "offset": -2, "sep": ";"}
    with pytest.raises(OptionError, match=r"--data-option 'tag_column': expected key=value"):
        parse_data_options(["tag_column"])


def test_run_settings_have_one_source():
    defaults = run_config_defaults()
    assert SETTING_DEFAULTS == {k: defaults[k] for k in SETTING_DEFAULTS}
    assert set(SETTING_DEFAULTS) <= {f.name for f in dataclasses.fields(RunConfig)}
    assert SETTING_DEFAULTS["epochs"] == RunConfig(dataset="sst5").epochs == 3.0
    assert resolve_learning_rate(None, TaskType.NER) == 2e-5 and resolve_learning_rate(None, "classification") == 4e-5
    assert resolve_learning_rate(1e-4, TaskType.NER) == 1e-4


def test_the_public_api_resolves_from_the_new_layout():
    import hamr

    for name in hamr.__all__:
        assert getattr(hamr, name) is not None, name
    assert hamr.HAMRArguments is get_method("hamr").arguments_class
    assert hamr.RunConfig is RunConfig and hamr.get_method("gbc").cost_factor == 2.5
    assert hamr.HAMRTrainer.__module__ == "hamr.methods.hamr.trainer"
    assert issubclass(hamr.HAMRTrainer, hamr.ImbalanceTrainer)
