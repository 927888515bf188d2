"""Screenshots of a report page in the system's headless Chromium (playwright, never its browser download).

``python -m hamr.report.browser PAGE.html OUT.png [--selector CSS] [--scale 1.5] [--height 2400] [--colors 64]``
writes a screenshot of the whole page, or of the first element matching ``--selector`` (either cut at
``--height`` CSS pixels) (optionally quantised to fewer colours, for a small file), and prints any console error. This is how the screenshots under ``docs/`` were made. Needs ``playwright``
(the test extra) and Debian's ``chromium`` (``apt-get install -y chromium``), or ``HAMR_CHROMIUM`` naming
another Chromium binary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "chromium_path", "screenshot"]

#: Headless, no sandbox (containers), and nothing that would reach the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The Chromium binary: ``$HAMR_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    return os.environ.get("HAMR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page_path: str | Path, out: str | Path, *, selector: str | None = None, scale: float = 1.0,
               width: int = 1280, max_height: int | None = None, browser=None) -> list[str]:
    """Write a PNG of ``page_path`` (opened from a file:// URL); return the console errors seen.
    ``browser``: a launched playwright browser to use (default: launch the system's Chromium for this shot)."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        exe = chromium_path()
        if exe is None:
            raise RuntimeError("no Chromium found: apt-get install -y chromium (or set HAMR_CHROMIUM)")
        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                return screenshot(page_path, out, selector=selector, scale=scale, width=width,
                                  max_height=max_height, browser=launched)
            finally:
                launched.close()
    errors: list[str] = []
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=scale)
    try:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(page_path).resolve().as_uri())
        page.wait_for_load_state("load")
        if selector and max_height:  # the element's top part
            box = page.locator(selector).first.bounding_box()
            clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": min(box["height"], max_height)}
            page.screenshot(path=str(out), full_page=True, clip=clip)
        elif selector:
            page.locator(selector).first.screenshot(path=str(out))
        else:
            height = page.evaluate("document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": width, "height": min(height, max_height or height)}
            page.screenshot(path=str(out), full_page=True, clip=clip)
    finally:
        page.close()
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--selector")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=None, help="cut a full-page shot at this many CSS pixels")
    ap.add_argument("--colors", type=int, default=None, help="quantise the PNG to this many colours (smaller file)")
    a = ap.parse_args(argv)
    errors = screenshot(a.page, a.out, selector=a.selector, scale=a.scale, width=a.width, max_height=a.height)
    if a.colors:
        from PIL import Image  # matplotlib's own dependency

        with Image.open(a.out) as im:
            small = im.convert("RGB").quantize(colors=a.colors, method=Image.Quantize.MEDIANCUT)
        small.save(a.out, optimize=True)
    for e in errors:
        print(f"console error: {e}", file=sys.stderr)
    print(a.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
