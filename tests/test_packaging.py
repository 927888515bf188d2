"""Packaging: compatible ranges in pyproject.toml, exact tested versions in constraints.txt, and CI running the
README's test command as written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_dependencies_are_ranges_and_constraints_pin_each_one():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in ("test", "ray") for r in project["optional-dependencies"][extra]]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pinned[_name(name)] = version
    for req in reqs:
        assert "==" not in req, f"pyproject.toml pins {req!r}: use a compatible range (the pin goes in constraints.txt)"
        assert "<" in req and ">=" in req, f"{req!r}: expected a range with a lower and an upper bound"
        assert _name(req) in pinned, f"{req!r} has no exact version in constraints.txt"
    from packaging.requirements import Requirement

    for req in reqs:  # every tested version lies inside its range
        r = Requirement(req)
        assert r.specifier.contains(pinned[_name(req)]), f"constraints.txt {r.name}=={pinned[_name(req)]} is outside {req!r}"


def test_ci_runs_the_readme_test_command():
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    command = ci[-1].strip()
    assert "-c constraints.txt" in command and "pytest" in command
    assert command in (ROOT / "README.md").read_text(), "the README's test command and .ci/run differ"
