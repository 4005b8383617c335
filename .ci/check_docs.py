"""Check the built docs site in headless chromium: pages load, the Mermaid diagram renders.

    python .ci/check_docs.py SITE_DIR [SCREENSHOT_DIR]

Serves SITE_DIR on 127.0.0.1 and opens each page that holds a diagram; fails
unless every diagram became an SVG, without reaching any CDN.
"""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES_WITH_DIAGRAMS = ["sandbox/"]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # http.server's signature
        pass


def main(site: Path, screenshot_dir: Path | None = None) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page()
        outside: list[str] = []
        page.on("request", lambda request: None if request.url.startswith(base) else outside.append(request.url))
        for path in PAGES_WITH_DIAGRAMS:
            page.goto(base + path)
            try:
                # The theme swaps each <pre class="mermaid"> source for a <div class="mermaid">
                # whose closed shadow root holds the SVG: check the swap and the drawn size.
                page.wait_for_selector("div.mermaid", timeout=15_000)
                box = page.locator("div.mermaid").first.bounding_box()
                if box is None or box["height"] < 200:
                    raise AssertionError(f"the diagram is {box} in size")
                if page.locator("pre.mermaid").count():
                    raise AssertionError("a diagram was left as source text")
                print(f"{path}: diagram rendered, {box['width']:.0f}x{box['height']:.0f} px")
                if screenshot_dir is not None:
                    page.screenshot(path=str(screenshot_dir / (path.strip("/") + ".png")), full_page=False)
            except Exception as exc:  # noqa: BLE001  # report every page, then fail once
                failures.append(f"{path}: no diagram rendered ({type(exc).__name__}: {exc})")
        browser.close()
    server.shutdown()
    if outside:
        failures.append(f"the site reached outside the loopback: {sorted(set(outside))}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None))
