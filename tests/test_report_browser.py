"""The run report in a real browser: headless Chromium (Debian's ``chromium`` package) driven by playwright.

Checks that the page opens from a file:// URL, its figures render (inline SVGs with a non-zero size), the
hardest-examples table sorts (click a header) and filters (type in the box), and the console shows no error.
Skipped, with the reason, when playwright or the browser is missing (``apt-get install -y chromium``;
playwright's own browser download is never used)."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_fixture import COUNTS, make_classification_run

from hamr.report import RunReportOptions, write_run_report

from hamr.report.browser import CHROMIUM_ARGS as ARGS, chromium_path

CHROMIUM = chromium_path()

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"),
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed (apt-get install -y chromium); "
                                                "the browser tests need the system browser"),
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: errors.append(f"network request: {req.url}")
            if not req.url.startswith(("file:", "data:")) else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


def _column(page, table: str, name: str) -> list[str]:
    return page.evaluate(
        """([id, name]) => {
            const t = document.getElementById(id);
            const col = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent.trim() === name);
            return Array.from(t.tBodies[0].rows).filter(r => r.style.display !== "none")
                        .map(r => r.cells[col].getAttribute("data-value") ?? r.cells[col].textContent.trim());
        }""", [table, name])


def test_run_report_in_chromium(browser, tmp_path):
    run = make_classification_run(tmp_path)
    path = write_run_report(run, options=RunReportOptions(neighbours=0, hardest=30))
    page, errors = _open(browser, path)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # every figure rendered with a size (per class, confusion, epochs, 3 diagnostics series, hardness)
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll("figure.plot svg, img"))
                                    .map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })""")
    assert len(sizes) >= 7
    assert all(w > 100 and h > 100 for w, h in sizes), sizes

    # sort: a click on "hardness m" sorts ascending, a second click descending
    assert page.locator("#hardest tbody tr").count() == 30
    header = page.locator("#hardest thead th", has_text="hardness m")
    header.click()
    asc = [float(v) for v in _column(page, "hardest", "hardness m")]
    assert asc == sorted(asc) and asc[0] < asc[-1]
    header.click()
    desc = [float(v) for v in _column(page, "hardest", "hardness m")]
    assert desc == sorted(asc, reverse=True)
    page.locator("#hardest thead th", has_text="label").click()
    labels = _column(page, "hardest", "label")
    assert labels == sorted(labels)

    # filter: only the gamma rows stay, and the counter says so
    page.locator("input.table-filter[data-table=hardest]").fill("gamma")
    visible = _column(page, "hardest", "label")
    assert visible == ["gamma"] * COUNTS["gamma"]
    assert page.locator("#hardest-count").inner_text() == f"{COUNTS['gamma']} of 30 rows"
    assert page.locator("#hardest tbody tr:visible").count() == COUNTS["gamma"]
    page.locator("input.table-filter[data-table=hardest]").fill("")
    assert page.locator("#hardest tbody tr:visible").count() == 30

    assert errors == []
    page.close()


def test_screenshot_helper(browser, tmp_path):
    from hamr.report.browser import screenshot

    run = make_classification_run(tmp_path)
    path = write_run_report(run, options=RunReportOptions(neighbours=0, hardest=5))
    out = tmp_path / "shot.png"
    assert screenshot(path, out, selector="#confusion figure", browser=browser) == []
    from PIL import Image

    w, h = Image.open(out).size
    assert w > 300 and h > 150


def test_bench_report_in_chromium(browser, tmp_path):
    from test_report import _bench_folder

    from hamr.report import write_bench_html

    path = write_bench_html(_bench_folder(tmp_path))
    page, errors = _open(browser, path)
    box = page.locator("#pareto svg").first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150
    assert page.locator("table.sortable").count() >= 3  # Table 2 (macro, micro), Table 3, the Pareto table
    assert errors == []
    page.close()
