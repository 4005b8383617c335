"""juhe: reading HTML answers (redirect target, page text), linear vs the old backtracking patterns.

    python benchmarks/juhe_html.py

The baseline is the regular-expression reading paycore-juhe used before (kept here
verbatim): it backtracks, so its cost grows with the square of a hostile page.
Reported: the cost of a genuine cashier page (ratio to the baseline, target ≤ 2x),
and hostile pages at growing sizes (the baseline only up to 128 KB: past that it
takes minutes; the new reading is shown at 1 MB).
"""

from __future__ import annotations

import html
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import per_call, report  # the benchmarks folder is not a package
from paycore_juhe._html import redirect_targets, visible_text

# The previous implementation, verbatim: the hand-written baseline.
_OLD_REDIRECT_PATTERNS = (
    re.compile(r"""<meta[^>]+http-equiv=["']?refresh["']?[^>]+content=["']?\s*\d+\s*;\s*url=([^"'>\s]+)""", re.I),
    re.compile(r"""(?:window\.|document\.|top\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']""", re.I),
    re.compile(r"""location\.(?:replace|assign)\(\s*["']([^"']+)["']\s*\)""", re.I),
)
_OLD_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.I | re.S)


def old_reading(text: str) -> tuple[list[str], str]:
    targets = [match.group(1) for pattern in _OLD_REDIRECT_PATTERNS for match in pattern.finditer(text)]
    return targets, " ".join(html.unescape(_OLD_TAGS.sub(" ", text)).split())[:160]


def new_reading(text: str) -> tuple[list[str], str]:
    return list(redirect_targets(text)), visible_text(text)


CASHIER = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>收银台</title>"
    "<style>body{font:14px sans-serif}</style>"
    '<meta http-equiv="refresh" content="0;url=/cashier.html?osn=2026112618181812345&amp;t=1">'
    "</head><body><h1>正在跳转到收银台</h1><p>若未跳转请点击<a href='/cashier.html'>这里</a></p>"
    "<script>window.location.href = '/cashier.html?osn=2026112618181812345';</script></body></html>"
)
HOSTILE: dict[str, Callable[[int], str]] = {
    "'<meta ' repeated": lambda size: "<meta " * (size // 6),
    "'<script' repeated": lambda size: "<script" * (size // 7),
}


def once(function: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    function(text)
    return time.perf_counter() - started


def main() -> None:
    assert new_reading(CASHIER)[0][0] == old_reading(CASHIER)[0][0]
    report(
        "read a genuine cashier page (per call)",
        per_call(lambda: old_reading(CASHIER)),
        {"redirect_targets + visible_text": per_call(lambda: new_reading(CASHIER))},
        target=2.0,
    )
    for name, make in HOSTILE.items():
        print(f"hostile page: {name}")
        for size in (32 * 1024, 64 * 1024, 128 * 1024):
            page = make(size)
            old, new = once(old_reading, page), once(new_reading, page)
            print(f"  {size // 1024:5d} KB   before {old * 1000:10.1f} ms   after {new * 1000:7.2f} ms")
        megabyte = make(1024 * 1024)
        print(f"   1024 KB   before (not run: minutes)   after {once(new_reading, megabyte) * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
