"""Regenerate ``reports/example.png``, the README's picture: the first screen of the demo report,
rendered by headless Debian Chromium (``.venv/bin/python -m tests.update_example``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from audit.demo.run import run_demo
from tests.test_render_browser import ARGS, CHROMIUM

EXAMPLE = Path(__file__).resolve().parents[1] / "reports" / "example.png"
VIEWPORT = {"width": 1400, "height": 1000}


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="b2b-preflight-example-") as tmp:
        _, out = run_demo(out=Path(tmp) / "demo")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport=VIEWPORT, color_scheme="light")
            page.goto((out / "report.html").as_uri())
            page.wait_for_selector("html[data-ready=true]")
            page.screenshot(path=str(EXAMPLE))
            browser.close()
    print(f"wrote {EXAMPLE}")


if __name__ == "__main__":
    main()
