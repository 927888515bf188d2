"""The README's generated results table equals what ``benchmarks/runs/readme_tables.py`` makes from the committed
runs (a result committed without regenerating the table, or a figure typed by hand, fails here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "runs" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_offsets_table_is_the_generated_one(tmp_path):
    rt = _readme_tables()
    copy = tmp_path / "README.md"
    copy.write_text((ROOT / "README.md").read_text())
    assert len(rt.grid_table("macro_f1", rt.OFFSETS_ROOT)) == 2 + len(rt.METHODS)
    assert rt.write_readme(copy) is False, \
        "README.md's table is stale: run python benchmarks/runs/readme_tables.py --write-readme"


def test_write_readme_replaces_only_the_block(tmp_path):
    rt = _readme_tables()
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{rt.README_START}\n| old | table |\n{rt.README_END}\nafter\n")
    assert rt.write_readme(readme) is True
    lines = readme.read_text().splitlines()
    assert lines[0] == "before" and lines[-1] == "after"
    assert lines[2:-2] == rt.grid_table("macro_f1", rt.OFFSETS_ROOT)
    assert rt.write_readme(readme) is False  # a second write changes nothing
    readme.write_text(f"{rt.README_START}\nno end marker\n")
    with pytest.raises(SystemExit, match="once each"):
        rt.write_readme(readme)
