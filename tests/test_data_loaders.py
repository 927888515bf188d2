"""File-format loaders: the real benchmark files, malformed input, label vocabularies and Hugging Face data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hamr.data import (
    DataError,
    load_conll,
    load_delimited,
    load_files,
    load_hf,
    load_jsonl,
    load_ptb_trees,
    resolve_data_root,
)
from hamr.enums import TaskType

HUMAID = {"text_column": "tweet_text", "label_column": "class_label", "id_column": "tweet_id"}


@pytest.fixture(scope="module")
def root() -> Path:
    return resolve_data_root()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    ("folder", "stem", "size", "first_label"),
    [
        ("humaid_idai19", "cyclone_idai_2019_train", 2753, "caution_and_advice"),
        ("humaid_idai19", "cyclone_idai_2019_dev", 401, "rescue_volunteering_or_donation_effort"),
        ("humaid_idai19", "cyclone_idai_2019_test", 779, None),
        ("humaid_irma17", "hurricane_irma_2017_train", 6579, "displaced_people_and_evacuations"),
        ("humaid_irma17", "hurricane_irma_2017_dev", 958, None),
        ("humaid_irma17", "hurricane_irma_2017_test", 1862, "other_relevant_information"),
    ],
)
def test_humaid_tsv(root, folder, stem, size, first_label):
    split = load_delimited(root / folder / f"{stem}.tsv", **HUMAID)
    assert len(split) == size
    assert split.task == TaskType.CLASSIFICATION
    assert split.name == stem
    assert split.locations[0].endswith(f"{stem}.tsv:2")  # line 1 is the header
    assert len(set(split.ids)) == size
    if first_label is not None:
        assert split.labels[0] == first_label


def test_humaid_known_first_tweet_id(root):
    split = load_delimited(root / "humaid_idai19" / "cyclone_idai_2019_train.tsv", **HUMAID)
    assert split.ids[0] == "1107353602434183169"
    assert split.label_counts()["missing_or_found_people"] == 13


@pytest.mark.parametrize(("stem", "size"), [("train", 8544), ("dev", 1101), ("test", 2210)])
def test_sst5_trees(root, stem, size):
    split = load_ptb_trees(root / "sst5" / f"{stem}.txt")
    assert len(split) == size
    assert set(split.labels) == {"0", "1", "2", "3", "4"}
    assert not any("-LRB-" in t or "-RRB-" in t for t in split.texts)


def test_sst5_root_label_and_brackets(root):
    split = load_ptb_trees(root / "sst5" / "train.txt", split_name="train")
    assert split.labels[0] == "3"
    assert split.texts[0].startswith("The Rock is destined to be the 21st Century 's new `` Conan ''")
    assert split.locations[0].endswith("train.txt:1")
    assert split.label_counts() == {"0": 1092, "1": 2218, "2": 1624, "3": 2322, "4": 1288}
    with_paren = [t for t in split.texts if "(" in t]
    assert with_paren and any(t.startswith("( Taymor ) utilizes") for t in with_paren)


@pytest.mark.parametrize(
    ("file", "sentences", "tokens", "mentions"),
    [("Genia4ERtask1.iob2", 18546, 492551, 51301), ("Genia4EReval1.iob2", 3856, 101039, 8662)],
)
def test_bionlp_conll(root, file, sentences, tokens, mentions):
    split = load_conll(root / "bionlp" / file, delimiter="\t")
    assert len(split) == sentences
    assert sum(len(t) for t in split.tokens) == tokens
    assert sum(split.label_counts().values()) == mentions


def test_bionlp_first_sentence(root):
    split = load_conll(root / "bionlp" / "Genia4ERtask1.iob2")  # any-whitespace columns work too
    assert split.tokens[0][:3] == ["IL-2", "gene", "expression"]
    assert split.labels[0][:3] == ["B-DNA", "I-DNA", "O"]
    assert split.locations[1].endswith("Genia4ERtask1.iob2:18")  # line of the first token of sentence 2


@pytest.mark.parametrize(
    ("file", "sentences", "mentions"), [("restauranttrain.bio", 7660, 15363), ("restauranttest.bio", 1521, 3151)]
)
def test_mit_restaurant_tag_first(root, file, sentences, mentions):
    split = load_conll(root / "mit_restaurant" / file, tag_column=0, token_column=1)
    assert len(split) == sentences
    assert sum(split.label_counts().values()) == mentions
    if file == "restauranttrain.bio":
        assert split.tokens[0][:3] == ["2", "start", "restaurants"]
        assert split.labels[0][:3] == ["B-Rating", "I-Rating", "O"]


def test_mit_restaurant_token_first_order_is_rejected(root):
    with pytest.raises(DataError, match=r"restauranttrain\.bio:1: invalid tag '2'.*tag_column"):
        load_conll(root / "mit_restaurant" / "restauranttrain.bio")


@pytest.mark.parametrize(
    ("stem", "size", "mentions"), [("2020.train", 4616, 15620), ("2020.dev", 576, 1914), ("2020.test", 576, 1927)]
)
def test_tweetner7_int_tags_mapped(root, stem, size, mentions):
    folder = root / "tweetner7"
    split = load_jsonl(folder / f"{stem}.json", label_map=folder / "label.json")
    assert split.task == TaskType.NER
    assert len(split) == size
    assert sum(split.label_counts().values()) == mentions
    assert all(isinstance(t, str) for row in split.labels for t in row)
    if stem == "2020.train":
        assert split.ids[0] == "1183344337016381440"
        assert split.tokens[0][10] == "pinkoctober" and split.labels[0][10] == "B-event"
        assert split.labels[0][0] == "O"


def test_tweetner7_label_map_as_dict(root):
    folder = root / "tweetner7"
    mapping = json.loads((folder / "label.json").read_text())
    a = load_jsonl(folder / "2020.dev.json", label_map=mapping)
    b = load_jsonl(folder / "2020.dev.json", label_map=str(folder / "label.json"))
    assert a.labels == b.labels


# ---------------------------------------------------------------------------------------------- delimited


def test_tsv_wrong_field_count_names_line(tmp_path):
    f = write(tmp_path / "x.tsv", "tweet_id\ttweet_text\tclass_label\n1\ta\tp\n2\tb\tq\n3\tonly two\n")
    with pytest.raises(DataError) as err:
        load_delimited(f, text_column="tweet_text", label_column="class_label")
    assert str(err.value) == (
        f"{f}:4: expected 3 tab-separated fields (tweet_id, tweet_text, class_label), found 2"
    )


def test_tsv_is_not_quoted(tmp_path):
    f = write(tmp_path / "x.tsv", 'text\tlabel\n"quoted start\tp\nsays "hi" there\tq\n')
    split = load_delimited(f)
    assert split.texts == ['"quoted start', 'says "hi" there']
    assert split.locations == [f"{f}:2", f"{f}:3"]


def test_csv_quoting_columns_by_index_and_lines(tmp_path):
    f = write(tmp_path / "x.csv", 'id,body,y\n1,"a, b",pos\n2,"multi\nline",neg\n3,c,pos\n')
    split = load_delimited(f, text_column=1, label_column="y", id_column="id")
    assert split.texts == ["a, b", "multi\nline", "c"]
    assert split.ids == ["1", "2", "3"]
    assert split.locations == [f"{f}:2", f"{f}:3", f"{f}:5"]


def test_delimited_errors(tmp_path):
    f = write(tmp_path / "x.tsv", "text\tlabel\nhello\t\n")
    with pytest.raises(DataError, match=r"x\.tsv:2: empty label"):
        load_delimited(f)
    f = write(tmp_path / "y.tsv", "text\tlabel\n\tpos\n")
    with pytest.raises(DataError, match=r"y\.tsv:2: empty text"):
        load_delimited(f)
    f = write(tmp_path / "z.tsv", "tweet_text\tclass_label\nhello\tpos\n")
    with pytest.raises(DataError, match=r"z\.tsv:1: no text column 'text'.*columns found: tweet_text, class_label"):
        load_delimited(f)
    f = write(tmp_path / "w.data", "text\tlabel\nhello\tpos\n")
    with pytest.raises(DataError, match="delimiter"):
        load_delimited(f)
    assert load_delimited(f, delimiter="\t").labels == ["pos"]
    with pytest.raises(DataError, match="file not found"):
        load_delimited(tmp_path / "missing.tsv")


def test_invalid_utf8_names_line(tmp_path):
    f = tmp_path / "x.tsv"
    f.write_bytes(b"text\tlabel\nok\tpos\nbad \xff\tneg\n")
    with pytest.raises(DataError, match=r"x\.tsv:3: expected UTF-8"):
        load_delimited(f)


# ---------------------------------------------------------------------------------------------- jsonl


def test_jsonl_classification_blank_lines_and_no_final_newline(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"text": "a", "label": 3}\n\n{"text": "b", "label": "neg"}')
    split = load_jsonl(f)
    assert split.task == TaskType.CLASSIFICATION
    assert split.labels == ["3", "neg"]
    assert split.locations == [f"{f}:1", f"{f}:3"]
    assert split.ids is None


def test_jsonl_bad_json_names_line(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"text": "a", "label": "p"}\n{"text": "b", "label": \n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: invalid JSON"):
        load_jsonl(f)


def test_jsonl_missing_field_names_line(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["b"]}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: missing field\(s\) 'tags'.*fields found: tokens"):
        load_jsonl(f)


def test_jsonl_int_tag_outside_map(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"tokens": ["a", "b"], "tags": [0, 1]}\n{"tokens": ["c"], "tags": [7]}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: tag 7 is not in the label map \(ids: 0, 1, 2\)"):
        load_jsonl(f, label_map={"O": 0, "B-X": 1, "I-X": 2})
    with pytest.raises(DataError, match=r"x\.jsonl:1: tag 0 is an integer but no label_map"):
        load_jsonl(f)


def test_jsonl_length_mismatch_and_bad_tag(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"tokens": ["a", "b"], "tags": ["O", "O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: 2 tokens but 1 tags"):
        load_jsonl(f)
    f = write(tmp_path / "y.jsonl", '{"tokens": ["a"], "tags": ["X-FOO"]}\n')
    with pytest.raises(DataError, match=r"y\.jsonl:1: invalid tag 'X-FOO'"):
        load_jsonl(f)


def test_jsonl_bad_label_map_file(tmp_path):
    m = write(tmp_path / "label.json", '{"O": 0, "B-X": 0}')
    f = write(tmp_path / "x.jsonl", '{"tokens": ["a"], "tags": [0]}\n')
    with pytest.raises(DataError, match="gives id 0 to both 'O' and 'B-X'"):
        load_jsonl(f, label_map=m)


# ---------------------------------------------------------------------------------------------- conll


def test_conll_sentences_docstart_and_locations(tmp_path):
    f = write(
        tmp_path / "x.conll",
        "-DOCSTART- -X- O\n\nJohn B-PER\nlives O\n \nin O\nNew B-LOC\nYork I-LOC\n\n\n",
    )
    split = load_conll(f)
    assert split.tokens == [["John", "lives"], ["in", "New", "York"]]
    assert split.labels == [["B-PER", "O"], ["O", "B-LOC", "I-LOC"]]
    assert split.locations == [f"{f}:3", f"{f}:6"]
    assert split.label_counts() == {"PER": 1, "LOC": 1}


def test_conll_tab_delimiter_keeps_spaces(tmp_path):
    f = write(tmp_path / "x.bio", "New York\tB-LOC\nx\tO\n")
    assert load_conll(f, delimiter="\t").tokens == [["New York", "x"]]


def test_conll_invalid_tag_names_line(tmp_path):
    f = write(tmp_path / "x.bio", "a\tO\nb\tB-X\n\nc\tX-FOO\n")
    with pytest.raises(DataError, match=r"x\.bio:4: invalid tag 'X-FOO'.*expected 'O' or an IOB2 tag"):
        load_conll(f)


def test_conll_too_few_columns_names_line(tmp_path):
    f = write(tmp_path / "x.bio", "a\tO\nlonely\n")
    with pytest.raises(DataError, match=r"x\.bio:2: expected at least 2 tab-separated columns.*found 1"):
        load_conll(f)
    g = write(tmp_path / "y.bio", "a b O\nc d\n")
    with pytest.raises(DataError, match=r"y\.bio:2: expected at least 3"):
        load_conll(g, token_column=0, tag_column=2)


# ---------------------------------------------------------------------------------------------- ptb


def test_ptb_parse_and_unescape(tmp_path):
    f = write(tmp_path / "t.txt", "(4 (2 -LRB-) (3 (3 good) (2 \\/ film)) (2 -RRB-))\n\n(0 (0 bad))\n")
    split = load_ptb_trees(f, split_name="dev")
    assert split.name == "dev"
    assert split.labels == ["4", "0"]
    assert split.texts == ["( good / film )", "bad"]
    assert split.locations == [f"{f}:1", f"{f}:3"]


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ("(3 (2 a) (2 b)", "unbalanced parentheses: 1 '(' never closed"),
        ("(3 (2 a)) (2 b))", "unexpected text after the end of the tree"),
        ("(3 (2 a)))", "unbalanced parentheses: a ')' closes nothing"),
        ("(pos (2 a))", "expected an integer root label, found 'pos'"),
        ("((2 a))", "expected a node label after '('"),
        ("3 (2 a)", "expected a tree starting with '('"),
    ],
)
def test_ptb_malformed(tmp_path, tree, message):
    f = write(tmp_path / "t.txt", f"(1 (1 fine))\n{tree}\n")
    with pytest.raises(DataError) as err:
        load_ptb_trees(f)
    assert str(err.value).startswith(f"{f}:2: ")
    assert message in str(err.value)


# ---------------------------------------------------------------------------------------------- load_files


def test_load_files_unseen_validation_label_names_split_and_line(tmp_path):
    train = write(tmp_path / "train.tsv", "text\tlabel\na\tx\nb\ty\n")
    dev = write(tmp_path / "dev.tsv", "text\tlabel\nc\tx\nd\tz\n")
    with pytest.raises(DataError, match=r"dev\.tsv:3 \(validation\): label 'z' was never seen in training"):
        load_files("classification", train, validation=dev)


def test_load_files_numeric_labels_sort_as_numbers(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\na,10\nb,2\nc,1\nd,2\n")
    dev = write(tmp_path / "dev.csv", "text,label\ne,10\n")
    bundle = load_files(TaskType.CLASSIFICATION, train, dev, name="nums")
    assert bundle.name == "nums"
    assert bundle.vocab.labels == ["1", "2", "10"]
    assert bundle.validation.name == "validation"


def test_load_files_carves_validation_with_log(tmp_path, caplog):
    lines = "".join(f"t{i}\t{'ab'[i % 2]}\n" for i in range(50))
    train = write(tmp_path / "train.tsv", "text\tlabel\n" + lines)
    with caplog.at_level(logging.WARNING, logger="hamr.data.loaders"):
        bundle = load_files("classification", train, validation_size=0.2, seed=7)
    assert (len(bundle.train), len(bundle.validation)) == (40, 10)
    assert "held out 10 of the 50 training examples at random (seed 7)" in caplog.text
    assert "not an official validation split" in caplog.text
    assert not set(bundle.train.locations) & set(bundle.validation.locations)
    again = load_files("classification", train, validation_size=10, seed=7)
    assert again.validation.locations == bundle.validation.locations


def test_load_files_ner_formats_and_option_checks(tmp_path):
    train = write(tmp_path / "train.bio", "B-X\ta\nO\tb\n\nO\tc\n\nI-X\td\n")
    test = write(tmp_path / "test.bio", "O\te\n")
    bundle = load_files("ner", train, train, test, tag_column=0, token_column=1)
    assert bundle.vocab.labels[0] == "O"
    assert bundle.vocab.labels == ["O", "B-X", "I-X"]
    with pytest.raises(DataError, match="option\\(s\\) text_column do not apply to the format\\(s\\) conll"):
        load_files("ner", train, train, text_column="x")
    with pytest.raises(DataError, match="is ner but the task is classification"):
        load_files("classification", train, train, tag_column=0, token_column=1)
    with pytest.raises(DataError, match="cannot infer the format"):
        load_files("ner", tmp_path / "train.xyz")
    with pytest.raises(DataError, match="unknown format 'yaml'"):
        load_files("ner", train, fmt="yaml")


# ---------------------------------------------------------------------------------------------- hugging face


def test_load_hf_classification_from_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": ["good", "bad", "fine"], "label": [1, 0, 1]}, features=feats),
            "validation": datasets.Dataset.from_dict({"text": ["ok"], "label": [1]}, features=feats),
        }
    )
    dd.save_to_disk(str(tmp_path / "cls"))
    split = load_hf(tmp_path / "cls", split="train")
    assert split.task == TaskType.CLASSIFICATION
    assert split.labels == ["pos", "neg", "pos"]
    assert split.texts == ["good", "bad", "fine"]
    assert split.locations[1] == f"{tmp_path / 'cls'} [train] row 1"
    with pytest.raises(DataError, match="no split 'test'; splits found: train, validation"):
        load_hf(tmp_path / "cls", split="test")
    bundle = load_files("classification", tmp_path / "cls", tmp_path / "cls")  # fmt inferred: hf
    assert (len(bundle.train), len(bundle.validation)) == (3, 1)


def test_load_hf_ner_sequence_classlabel(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-LOC", "I-LOC"])),
        }
    )
    ds = datasets.Dataset.from_dict({"tokens": [["in", "New", "York"]], "ner_tags": [[0, 1, 2]]}, features=feats)
    ds.save_to_disk(str(tmp_path / "ner"))
    split = load_hf(str(tmp_path / "ner"), split="train")
    assert split.task == TaskType.NER
    assert split.tokens == [["in", "New", "York"]]
    assert split.labels == [["O", "B-LOC", "I-LOC"]]


def test_load_hf_hub_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="hub is not reachable.*save_to_disk"):
        load_hf("someone/some-dataset-that-is-not-local", split="train")


# ------------------------------------------------------------------------------ rows changed at load time


def _rows_csv(tmp_path: Path, changes: dict[int, str], n: int = 38, name: str = "data.csv") -> Path:
    rows = [f"text {i},lab{i % 3}" for i in range(n)]
    for i, row in changes.items():
        rows[i] = row
    return write(tmp_path / name, "text,label\n" + "\n".join(rows) + "\n")


def test_unclosed_quote_that_swallows_rows_is_an_error_naming_the_line(tmp_path):
    # row 5 opens a quote that a '"' before the delimiter of row 13 closes: plain csv gives 30 examples of 38 rows
    path = _rows_csv(tmp_path, {5: '"unclosed start,lab2', 13: 'the size was 5",lab1'})
    with pytest.raises(DataError) as err:
        load_delimited(path)
    message = str(err.value)
    assert message.startswith(f"{path}:7: a quoted field opened on this line runs to line 15 and swallows line 8,")
    assert "38 non-blank lines after the header would give 30 examples" in message


def test_unclosed_quote_to_the_end_of_the_file_is_an_error(tmp_path):
    path = _rows_csv(tmp_path, {5: '"unclosed start,lab2'})
    with pytest.raises(DataError, match=r"data.csv:7: malformed comma-separated row"):
        load_delimited(path)


def test_a_real_multiline_quoted_text_is_kept(tmp_path):
    path = write(tmp_path / "ok.csv", 'text,label\n"first line\nsecond, line",lab0\nplain,lab1\n')
    split = load_delimited(path)
    assert split.texts == ["first line\nsecond, line", "plain"] and split.labels == ["lab0", "lab1"]


def test_tsv_written_by_pandas_is_read_with_its_quoting(tmp_path):
    pd = pytest.importorskip("pandas")
    texts = ['he said "hi" to me', "plain text", 'a "quoted" word and a tab\there', "multi\nline"]
    df = pd.DataFrame({"text": texts, "label": ["a", "b", "a", "b"]})
    path = tmp_path / "pandas.tsv"
    df.to_csv(path, sep="\t")  # with pandas' index column and CSV quoting
    split = load_delimited(path)
    assert split.texts == texts and split.labels == ["a", "b", "a", "b"]
    raw = load_delimited(write(tmp_path / "raw.tsv", 'text\tlabel\n"quoted tweet" says\ta\n'))
    assert raw.texts == ['"quoted tweet" says']  # a raw quote (HumAID) stays text
    with pytest.raises(DataError, match="pass quoting='csv'"):  # a tab inside a quoted field, not detected
        load_delimited(write(tmp_path / "tab.tsv", 'text\tlabel\n"a\tb"\ta\n'), quoting="none")
    assert load_delimited(tmp_path / "tab.tsv", quoting="csv").texts == ["a\tb"]


def test_conll_tab_separated_tokens_keep_their_spaces(tmp_path):
    path = write(tmp_path / "t.bio", "New York\tB-loc\nis\tO\n\nSan Jose\tB-loc\n")
    split = load_conll(path)
    assert split.tokens == [["New York", "is"], ["San Jose"]]
    assert split.labels == [["B-loc", "O"], ["B-loc"]]
    spaced = load_conll(write(tmp_path / "s.bio", "New B-loc\nYork I-loc\n"))
    assert spaced.tokens == [["New", "York"]]  # a space-separated file is still split on whitespace
    with pytest.raises(DataError, match=r"m.bio:2: expected at least 2 tab-separated columns"):
        load_conll(write(tmp_path / "m.bio", "New York\tB-loc\nis O\n"))
