"""The layout's floors (README, Layout): every module imports only from its own floor or below, and the package
has no import cycle. Read from the source with ``ast`` (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "hamr"

FLOORS = [
    ["hamr.constants", "hamr.version", "hamr.enums", "hamr.errors", "hamr.progress", "hamr.run_outputs"],
    ["hamr.data", "hamr.options", "hamr.config", "hamr.holdout", "hamr.metaset"],
    ["hamr.metrics", "hamr.tasks", "hamr.losses", "hamr.ddp", "hamr.weighting", "hamr.resampling",
     "hamr.embeddings", "hamr.diagnostics"],
    ["hamr.methods"],
    ["hamr.pipeline", "hamr.evaluation", "hamr.predict", "hamr.modelcard", "hamr.offsets"],
    ["hamr.bench", "hamr.compare", "hamr.report", "hamr.api", "hamr.config_file"],
    ["hamr.cli"],
]


def modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def import_edges() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = m.split(".") if f.name == "__init__.py" else m.split(".")[:-1]
                if node.level:
                    base = base[: len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [stem] + [f"{stem}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m and t.startswith("hamr"):
                    edges[m].add(t)
    return edges


def floor(module: str) -> int:
    best = None
    for i, prefixes in enumerate(FLOORS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    return len(FLOORS) if best is None else best[0]  # the package itself (hamr/__init__.py) is the top


def test_every_module_has_a_floor():
    unplaced = [m for m in modules() if m != "hamr" and floor(m) == len(FLOORS)]
    assert not unplaced, f"modules without a floor (add them to FLOORS and to the README's Layout): {unplaced}"


def test_no_module_imports_from_a_higher_floor():
    up = [f"{m} -> {t}" for m, ts in import_edges().items() for t in sorted(ts) if floor(t) > floor(m)]
    assert not up, up


def test_the_package_has_no_import_cycle():
    edges = import_edges()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, path: list[str]) -> bool:
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycle.extend(path[path.index(t):] + [m, t] if t in path else [m, t])
                return True
            if t not in state and visit(t, path + [m]):
                return True
        state[m] = 2
        return False

    for m in sorted(edges):
        if m not in state and visit(m, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path, monkeypatch):
    """The checks can fail: a copy of the package with one upward import added is caught by both."""
    import shutil

    copy = tmp_path / "src" / "hamr"
    shutil.copytree(ROOT, copy)
    (copy / "enums.py").write_text((copy / "enums.py").read_text() + "\nfrom .cli import app  # noqa\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", copy)
    assert any(t == "hamr.cli" for t in import_edges()["hamr.enums"])
    try:
        test_no_module_imports_from_a_higher_floor()
    except AssertionError as exc:
        assert "hamr.enums -> hamr.cli" in str(exc)
    else:
        raise AssertionError("the upward import was not seen")
    try:
        test_the_package_has_no_import_cycle()
    except AssertionError as exc:
        assert "hamr.enums" in str(exc)
    else:
        raise AssertionError("the cycle was not seen")
