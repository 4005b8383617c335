"""Timing helpers shared by the benchmarks: best-of-N per-call times."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def per_call(function: Callable[[], object], *, number: int = 2000, repeat: int = 7) -> float:
    """The best per-call time in seconds over ``repeat`` runs of ``number`` calls."""
    function()  # warm caches and lazy imports
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def report(title: str, baseline: float, measured: dict[str, float], target: float | None = None) -> None:
    print(title)
    print(f"  {'baseline (hand-written)':<44} {baseline * 1e6:8.2f} us")
    for name, value in measured.items():
        verdict = ""
        if target is not None:
            verdict = "  within target" if value / baseline <= target else f"  OVER the {target}x target"
        print(f"  {name:<44} {value * 1e6:8.2f} us   {value / baseline:5.2f}x{verdict}")
