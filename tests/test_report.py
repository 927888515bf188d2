"""The HTML reports (hamr.report): content equals the run's files, texts policy, spans, Pareto, bench page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from report_fixture import CLASSES, COUNTS, make_classification_run, make_ner_run

from hamr.report import RunReportOptions, write_run_report
from hamr.report.bench_report import pareto_front, write_bench_html
from hamr.report.run_report import default_show_texts, per_class_series, read_examples_tsv
from hamr.report.spans import sentence_html, spans_of


class _Tables(HTMLParser):
    """Rows of every table by id, each row as a list of (text, data-value)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._value: str | None = None
        self.stats: dict[str, str] = {}
        self._stat: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._stack.append(a.get("id") or f"_anon{len(self.tables)}")
            self.tables.setdefault(self._stack[-1], [])
        elif tag == "tr" and self._stack:
            self.tables[self._stack[-1]].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell, self._value = [], a.get("data-value")
        elif tag == "b" and "data-stat" in a:
            self._stat = a["data-stat"]

    def handle_endtag(self, tag):
        if tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self.tables[self._stack[-1]][-1].append(("".join(self._cell).strip(), self._value))
            self._cell = None
        elif tag == "b":
            self._stat = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._stat is not None:
            self.stats[self._stat] = data.strip()


def _parse(path: Path) -> _Tables:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_classification_run(tmp_path)


def test_numbers_in_the_page_equal_metrics_json(run_dir):
    path = write_run_report(run_dir, options=RunReportOptions(neighbours=0))
    assert path == run_dir / "report.html"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    page = _parse(path)
    assert page.stats["test macro-F1"] == f"{100 * metrics['test']['macro_f1']:.1f}"
    assert page.stats["test micro-F1"] == f"{100 * metrics['test']['micro_f1']:.1f}"
    assert page.stats["validation macro-F1"] == f"{100 * metrics['validation']['macro_f1']:.1f}"
    rows = page.tables["per-class-table"]
    header = [t for t, _ in rows[0]]
    assert header[:6] == ["class", "training count", "test support", "precision %", "recall %", "F1 %"]
    body = {r[0][0]: r for r in rows[1:]}
    assert set(body) == set(CLASSES)
    for c, s in metrics["test"]["per_class"].items():
        r = body[c]
        assert int(r[1][0]) == COUNTS[c]  # training count from the rebuilt training split
        assert int(r[2][0]) == s["support"]
        assert float(r[3][1]) == pytest.approx(s["precision"]) and r[3][0] == f"{100 * s['precision']:.1f}"
        assert float(r[4][1]) == pytest.approx(s["recall"])
        assert float(r[5][1]) == pytest.approx(s["f1"]) and r[5][0] == f"{100 * s['f1']:.1f}"


def test_page_is_self_contained(run_dir):
    text = write_run_report(run_dir, options=RunReportOptions(neighbours=0)).read_text()
    assert "<svg" in text
    assert not re.search(r'(src|href)="(https?:)?//', text), "the page must not load anything from the network"
    assert "<link" not in text and "<script src" not in text
    assert "@import" not in text
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "element ids must be unique (the table script finds tables by id)"


def test_hardest_table_is_the_top_by_hardness(run_dir):
    ex = read_examples_tsv(run_dir / "hamr_examples.tsv")
    path = write_run_report(run_dir, options=RunReportOptions(neighbours=0, hardest=10))
    rows = _parse(path).tables["hardest"]
    header = [t for t, _ in rows[0]]
    body = rows[1:]
    assert len(body) == 10
    expected = [int(i) for i in np.argsort(-np.asarray(ex["m"]), kind="stable")[:10]]
    got = [int(r[header.index("index")][0]) for r in body]
    assert got == expected
    ms = [float(r[header.index("hardness m")][1]) for r in body]
    assert ms == sorted(ms, reverse=True)
    n = len(ex["m"])
    for r, i in zip(body, got):
        assert r[header.index("label")][0] == ex["label"][i]
        assert float(r[header.index("sampling p")][1]) == pytest.approx(ex["p"][i])
        assert float(r[header.index("p × N")][1]) == pytest.approx(ex["p"][i] * n)
        assert r[header.index("prediction")][0] == "not stored"  # the run saved no model
        # the user's own files: texts shown, and they are the training file's texts at that index
        assert r[header.index("text")][0].startswith(ex["label"][i] + " example number")


def test_texts_hidden_on_request_and_for_tweet_corpora(run_dir, tmp_path):
    text = write_run_report(run_dir, options=RunReportOptions(neighbours=0, texts=False)).read_text()
    assert "example number" not in text
    assert "Texts hidden" in text
    assert default_show_texts("humaid_idai19", from_files=False, out=tmp_path / "r.html") is False
    assert default_show_texts("tweetner7", from_files=False, out=tmp_path / "r.html") is False
    assert default_show_texts("my_data", from_files=True, out=tmp_path / "r.html") is True
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert default_show_texts("sst5", from_files=False, out=repo / "x" / "r.html") is False
    assert default_show_texts("sst5", from_files=False, out=tmp_path / "r.html") is True


def test_mismatched_training_data_shows_no_texts(run_dir):
    tsv = run_dir / "hamr_examples.tsv"
    lines = tsv.read_text().splitlines()
    parts = lines[1].split("\t")
    parts[1] = "gamma" if parts[1] != "gamma" else "alpha"
    lines[1] = "\t".join(parts)
    tsv.write_text("\n".join(lines) + "\n")
    text = write_run_report(run_dir, options=RunReportOptions(neighbours=0)).read_text()
    assert "not the same data" in text
    assert "example number" not in text


def test_bad_examples_file_names_the_line(run_dir):
    tsv = run_dir / "hamr_examples.tsv"
    lines = tsv.read_text().splitlines()
    lines[3] = "7\t" + lines[3].split("\t", 1)[1]
    tsv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"hamr_examples.tsv:4: index 7, expected 2"):
        write_run_report(run_dir, options=RunReportOptions(neighbours=0))


def test_missing_metrics_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        write_run_report(tmp_path)


def test_every_per_class_series_of_the_diagnostics_gets_a_panel(run_dir):
    diag = [json.loads(line) for line in (run_dir / "hamr_diagnostics.jsonl").read_text().splitlines()]
    series = per_class_series(diag)
    assert set(series) == {"weights_per_class", "sampling_mass_per_class", "beta_per_class",
                           "class_params.delta"}  # not "memory"
    assert series["beta_per_class"]["gamma"] == [(e, pytest.approx(0.03 * e)) for e in (1, 2, 3)]
    assert series["class_params.delta"]["beta"] == [(e, pytest.approx(-0.1 * e)) for e in (1, 2, 3)]
    text = write_run_report(run_dir, options=RunReportOptions(neighbours=0)).read_text()
    for key in series:
        assert f"<h3>{key}</h3>" in text
    page = _parse(run_dir / "report.html")
    last = [t for t in page.tables.values() if t and [c for c, _ in t[0]][:2] == ["class", "weights_per_class"]][0]
    row = {r[0][0]: r for r in last[1:]}
    assert float(row["gamma"][1][1]) == pytest.approx(diag[-1]["weights_per_class"]["gamma"]["median"])
    assert float(row["gamma"][3][1]) == pytest.approx(diag[-1]["beta_per_class"]["gamma"])
    assert float(row["gamma"][4][1]) == pytest.approx(diag[-1]["class_params"]["delta"]["gamma"])


def test_neighbours_come_from_the_embeddings(run_dir, monkeypatch):
    import hamr.embeddings

    def fake_embed(texts, model=None, cache_dir=None, **_):
        # two clusters: alpha/beta texts vs gamma texts, so every gamma's neighbours are gamma
        e = np.array([[1.0, 0.0] if "gamma" in t else [0.0, 1.0] for t in texts], dtype=np.float32)
        e += np.random.default_rng(0).normal(scale=0.01, size=e.shape).astype(np.float32)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    monkeypatch.setattr(hamr.embeddings, "embed_texts", fake_embed)
    path = write_run_report(run_dir, options=RunReportOptions(neighbours=2, hardest=40))
    rows = _parse(path).tables["hardest"]
    header = [t for t, _ in rows[0]]
    gamma_rows = [r for r in rows[1:] if r[header.index("label")][0] == "gamma"]
    assert len(gamma_rows) == COUNTS["gamma"]
    for r in gamma_rows:
        cell = r[header.index("nearest neighbours")][0]
        assert cell.count("gamma") == 2, cell


def test_predictions_from_the_saved_model(run_dir, tokenizer):
    from conftest import tiny_bert

    model = tiny_bert(tokenizer, num_labels=3)
    model.config.id2label = dict(enumerate(sorted(CLASSES)))
    model.config.label2id = {c: i for i, c in enumerate(sorted(CLASSES))}
    model.save_pretrained(run_dir / "model")
    tokenizer.save_pretrained(run_dir / "model")
    path = write_run_report(run_dir, options=RunReportOptions(neighbours=0, hardest=30))
    rows = _parse(path).tables["hardest"]
    header = [t for t, _ in rows[0]]
    preds = [r[header.index("prediction")][0] for r in rows[1:]]
    assert len(preds) == 30 and set(preds) <= set(CLASSES)
    assert "Predictions computed now from the run" in path.read_text()


def test_ner_report_highlights_gold_spans(tmp_path):
    run = make_ner_run(tmp_path)
    text = write_run_report(run, options=RunReportOptions(neighbours=0)).read_text()
    assert "Per entity type" in text and "Confusion matrix" not in text
    assert text.count("G:PER") == 3 * 3  # 3 PER mentions in each of the 3 copies
    assert "Carol" in text  # the user's own files: words shown
    hidden = write_run_report(run, options=RunReportOptions(neighbours=0, texts=False)).read_text()
    assert "Carol" not in hidden and "#0" in hidden and hidden.count("G:PER") == 9


def test_spans_are_seqeval_spans_and_highlighted():
    gold = ["B-PER", "I-PER", "O", "B-LOC", "I-ORG"]
    assert spans_of(gold) == [("PER", 0, 1), ("LOC", 3, 3), ("ORG", 4, 4)]
    pred = ["B-PER", "O", "O", "B-LOC", "O"]
    html = sentence_html(["Ann", "Lee", "in", "Oslo", "UN"], gold, pred)
    toks = re.findall(r'<span class="tok ?([a-z]*)">([^<]*)', html)
    assert toks == [("both", "Ann"), ("gold", "Lee"), ("", "in"), ("both", "Oslo"), ("gold", "UN")]
    assert "G:PER" in html and "P:PER" in html and "P:ORG" not in html
    hidden = sentence_html(["Ann", "Lee"], ["B-PER", "I-PER"], None, show_tokens=False)
    assert "Ann" not in hidden and "#0" in hidden and "#1" in hidden


def test_pareto_front():
    pts = [(100.0, 0.50), (200.0, 0.60), (150.0, 0.40), (300.0, 0.60), (50.0, 0.30), (400.0, 0.70)]
    # (150, .40) is beaten by (100, .50); (300, .60) by (200, .60) (same score, faster)
    assert pareto_front(pts) == [4, 0, 1, 5]
    assert pareto_front([(1.0, 1.0)]) == [0]


def _bench_folder(root: Path) -> Path:
    from hamr.bench import write_report

    out = root / "results"
    scores = {("d1", "erm"): (100, [0.50, 0.52]), ("d1", "hamr"): (300, [0.60, 0.64]),
              ("d1", "focal"): (120, [0.45, 0.47]), ("d2", "erm"): (50, [0.70, 0.70]),
              ("d2", "hamr"): (80, [0.65, 0.69])}
    for (ds, m), (secs, f1s) in scores.items():
        for seed, f1 in zip((42, 43), f1s):
            d = out / "runs" / ds / m / f"seed{seed}"
            d.mkdir(parents=True)
            (d / "done.json").write_text(json.dumps({"dataset": ds, "method": m, "base_method": m, "seed": seed}))
            (d / "metrics.json").write_text(json.dumps({
                "method": m, "train_seconds": secs + seed - 42, "test": {"macro_f1": f1, "micro_f1": f1 + 0.1}}))
    write_report(out, consistency=False)
    return out


def test_bench_html_has_the_tables_and_the_pareto_front(tmp_path):
    out = _bench_folder(tmp_path)
    path = write_bench_html(out)
    assert path == out / "report.html"
    text = path.read_text()
    assert "Table 2: macro-F1 and micro-F1" in text and "Table 3: ablations" in text
    assert "62.0 ± 2.8" in text  # d1 hamr: mean 62.0, sd 2.83, as in report.md
    assert "62.0 ± 2.8" in (out / "report.md").read_text()
    rows = _parse(path).tables["pareto-table"]
    header = [t for t, _ in rows[0]]
    front = {(r[0][0], r[1][0]): r[header.index("Pareto front")][0] == "yes" for r in rows[1:]}
    assert front == {("d1", "erm"): True, ("d1", "hamr"): True, ("d1", "focal"): False,
                     ("d2", "erm"): True, ("d2", "hamr"): False}
    assert not re.search(r'(src|href)="(https?:)?//', text)


def test_bench_html_needs_report_md(tmp_path):
    with pytest.raises(FileNotFoundError, match="no report.md"):
        write_bench_html(tmp_path)


def test_cli_report_writes_the_page(run_dir, tmp_path):
    from typer.testing import CliRunner

    from hamr.cli import app

    out = tmp_path / "page.html"
    res = CliRunner().invoke(app, ["report", str(run_dir), "--out", str(out), "--neighbours", "0", "--no-texts"])
    assert res.exit_code == 0, res.output
    assert out.exists() and "example number" not in out.read_text()
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "metrics.json" in " ".join(res.output.split())


def test_a_failed_report_does_not_fail_the_run(tmp_path, caplog):
    from hamr.pipeline import RunConfig
    from hamr.report.hooks import report_after_train

    config = RunConfig(dataset="humaid_idai19", output_dir=str(tmp_path))
    with caplog.at_level("WARNING"):
        assert report_after_train(config, tmp_path) is None  # no metrics.json: logged, not raised
    assert "report of" in caplog.text and "metrics.json" in caplog.text


def test_cli_bench_report_writes_the_html_beside_report_md(tmp_path):
    from typer.testing import CliRunner

    from hamr.cli import app

    out = _bench_folder(tmp_path)
    (out / "report.html").unlink(missing_ok=True)
    res = CliRunner().invoke(app, ["bench", "report", str(out), "--no-consistency"])
    assert res.exit_code == 0, res.output
    assert (out / "report.md").exists() and "Pareto" in (out / "report.html").read_text()
    (out / "report.html").unlink()
    res = CliRunner().invoke(app, ["bench", "report", str(out), "--no-consistency", "--no-html"])
    assert res.exit_code == 0 and not (out / "report.html").exists()


def test_ner_predictions_from_the_saved_model(tmp_path, tokenizer):
    from conftest import tiny_bert

    run = make_ner_run(tmp_path)
    tags = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    model = tiny_bert(tokenizer, num_labels=len(tags), task="ner")
    model.config.id2label = dict(enumerate(tags))
    model.config.label2id = {t: i for i, t in enumerate(tags)}
    model.save_pretrained(run / "model")
    tokenizer.save_pretrained(run / "model")
    path = write_run_report(run, options=RunReportOptions(neighbours=0))
    text = path.read_text()
    assert "Predictions computed now from the run" in text
    rows = _parse(path).tables["hardest"]
    header = [t for t, _ in rows[0]]
    assert len(rows) == 1 + 12
    assert all(r[header.index("prediction")][0] != "not stored" for r in rows[1:])
    # the sentence cells carry the gold spans, and predicted spans wherever the model predicted an entity
    assert text.count("G:PER") == 9
    from hamr.enums import TaskType
    from hamr.report.run_report import _predict, _rebuild_training_split, load_run

    train = _rebuild_training_split(load_run(run), None)
    preds = _predict(run / "model", train.split, list(range(12)), TaskType.NER, 32, 5)
    assert [len(p) for p in preds] == [len(t) for t in train.split.labels]  # word-level, padded with O
    marks = " ".join(re.findall(r'<span class="tag">([^<]*)</span>', text))
    assert marks.count("P:") == sum(len(spans_of(p)) for p in preds)
    assert marks.count("G:") == sum(len(spans_of(t)) for t in train.split.labels)
