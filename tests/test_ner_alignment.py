"""NER predictions go back to words by word id: a word without sub-tokens (U+200B, U+FE0F, ...) keeps its own
position and gets an explicit ``O``; nothing after it shifts (issue 20, item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from hamr.data import DataBundle, LabelVocab, Split
from hamr.enums import TaskType
from hamr.pipeline import evaluate_predictions, make_compute_metrics
from hamr.tasks import IGNORE_INDEX, encode_split, labels_by_word

ZWSP = "\u200b"


def _logits_for(encoded, rows_by_word: list[list[str]], vocab: LabelVocab) -> tuple[np.ndarray, np.ndarray]:
    """Logits that predict ``rows_by_word[i][w]`` at the first sub-token of word ``w``, and the label ids."""
    width = max(len(it["input_ids"]) for it in encoded.items)
    logits = np.zeros((len(encoded), width, len(vocab)), dtype=np.float32)
    label_ids = np.full((len(encoded), width), IGNORE_INDEX, dtype=np.int64)
    for i, (item, words) in enumerate(zip(encoded.items, encoded.word_index)):
        label_ids[i, : len(item["labels"])] = item["labels"]
        positions = [j for j, lab in enumerate(item["labels"]) if lab != IGNORE_INDEX]
        assert len(positions) == len(words)
        for j, w in zip(positions, words):
            logits[i, j, vocab.index[rows_by_word[i][w]]] = 5.0
    return logits, label_ids


def _bundle(split: Split) -> DataBundle:
    train = Split("train", TaskType.NER, labels=[["B-person", "I-person", "O", "B-location", "B-event", "I-event"]],
                  tokens=[["a", "b", "c", "d", "e", "f"]])
    return DataBundle("toy", TaskType.NER, train, test=split)


def test_labels_by_word_puts_o_on_words_without_positions():
    assert labels_by_word(["B-x", "I-x", "O"], [0, 2, 3], 5) == ["B-x", "O", "I-x", "O", "O"]
    with pytest.raises(ValueError, match="do not belong"):
        labels_by_word(["B-x"], [0, 1], 3)


def test_zero_subtoken_word_does_not_shift_later_labels(tokenizer):
    words = ["Barack", "Obama", "visited", "Paris", "for", "the", "World", "Cup", "today"]
    tags = ["B-person", "I-person", "O", "B-location", "O", "O", "B-event", "I-event", "O"]
    # an imperfect model: right on Obama and Paris, wrong on "World Cup" (misses I-event)
    pred = ["B-person", "I-person", "O", "B-location", "O", "O", "B-event", "O", "O"]
    at = 3  # the U+200B word goes right before "Paris": the old end-padding shifted every later label
    words_z = words[:at] + [ZWSP] + words[at:]
    tags_z = tags[:at] + ["O"] + tags[at:]
    pred_z = pred[:at] + ["O"] + pred[at:]  # the model's prediction for the other words is unchanged
    plain = Split("test", TaskType.NER, labels=[tags], tokens=[words])
    zwsp = Split("test", TaskType.NER, labels=[tags_z], tokens=[words_z])
    scores = []
    for split, rows in ((plain, [pred]), (zwsp, [pred_z])):
        bundle = _bundle(split)
        enc = encode_split(split, tokenizer, bundle.vocab, 64)
        logits, label_ids = _logits_for(enc, rows, bundle.vocab)
        scores.append(evaluate_predictions(TaskType.NER, bundle, logits, label_ids, gold_split=split,
                                           word_index=enc.word_index))
    enc_z = encode_split(zwsp, tokenizer, _bundle(zwsp).vocab, 64)
    assert at not in enc_z.word_index[0], "U+200B should produce no sub-token with MiniLM's tokenizer"
    plain_m, zwsp_m = scores
    assert zwsp_m["macro_f1"] == plain_m["macro_f1"]
    assert zwsp_m["micro_f1"] == plain_m["micro_f1"]
    assert zwsp_m["per_type"] == plain_m["per_type"]
    # person and location right, event wrong: micro 2 of 3 entities
    assert plain_m["per_type"]["person"]["f1"] == 1.0 and plain_m["per_type"]["location"]["f1"] == 1.0
    assert plain_m["micro_f1"] == pytest.approx(2 / 3)


def test_per_epoch_metrics_use_the_word_map(tokenizer):
    words = ["I", "met", ZWSP, "Ada", "Lovelace"]
    tags = ["O", "O", "O", "B-person", "I-person"]
    split = Split("validation", TaskType.NER, labels=[tags], tokens=[words])
    bundle = DataBundle("toy", TaskType.NER, _bundle(split).train, validation=split)
    enc = encode_split(split, tokenizer, bundle.vocab, 64)
    logits, label_ids = _logits_for(enc, [tags], bundle.vocab)

    class Pred:
        predictions, label_ids = logits, None

    Pred.label_ids = label_ids
    m = make_compute_metrics(TaskType.NER, bundle, {"validation": enc})(Pred)
    assert m["micro_f1"] == 1.0 and m["f1/person"] == 1.0


@pytest.mark.parametrize("split_name", ["validation", "test"])
def test_perfect_predictor_scores_100_on_tweetner7(tokenizer, split_name):
    from hamr import load_benchmark

    bundle = load_benchmark("tweetner7")
    split = bundle.splits()[split_name]
    enc = encode_split(split, tokenizer, bundle.vocab, 128)  # the CPU protocol's max_length
    assert enc.num_truncated == 0  # measured: nothing is cut at 128 in validation or test
    logits, label_ids = _logits_for(enc, [list(t) for t in split.labels], bundle.vocab)
    m = evaluate_predictions(TaskType.NER, bundle, logits, label_ids, gold_split=split, word_index=enc.word_index)
    assert m["macro_f1"] == 1.0
    assert m["micro_f1"] == 1.0
    if split_name == "validation":  # sentence 443 has a zero-sub-token word ('\u200b\u200b', word 19)
        assert 19 not in enc.word_index[443] and len(enc.word_index[443]) == len(split.labels[443]) - 1
