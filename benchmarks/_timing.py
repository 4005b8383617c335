"""Timing helpers shared by the benchmarks: best-of-N per-call times, and the ratios `run.py` tabulates.

Each benchmark reports its own figures, and records each ratio against its target
with `record`: `run.py` (``python3 .ci/dev.py bench``) prints them all in one table.
A benchmark never fails on a ratio: it measures.
"""

from __future__ import annotations

import json
import os
import timeit
from collections.abc import Callable

#: The file (JSON lines) `run.py` collects the ratios in; unset, `record` only prints nothing more.
RESULTS_ENV = "PAYCORE_BENCH_RESULTS"


def per_call(function: Callable[[], object], *, number: int = 2000, repeat: int = 7) -> float:
    """The best per-call time in seconds over ``repeat`` runs of ``number`` calls."""
    function()  # warm caches and lazy imports
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def record(measure: str, ratio: float, target: float | None, baseline: str = "", floor: float | None = None) -> None:
    """Note ``measure``'s ratio to its hand-written baseline (its target, its floor) for the summary table."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as results:
            line = {"measure": measure, "ratio": ratio, "target": target, "baseline": baseline, "floor": floor}
            results.write(json.dumps(line) + "\n")


def report(
    title: str,
    baseline: float,
    measured: dict[str, float],
    target: float | None = None,
    *,
    checked: float | None = None,
) -> None:
    """Print each measured time against ``baseline``; ``checked`` is the floor, when the benchmark has one.

    ``checked`` times a hand-written version that makes every check paycore makes
    and returns the same model: what no implementation keeping those checks can
    beat. Its ratio to the bare baseline is the floor of the ratio measured.
    """
    print(title)
    print(f"  {'baseline (hand-written)':<44} {baseline * 1e6:8.2f} us")
    floor = None if checked is None else checked / baseline
    if checked is not None:
        print(f"  {'hand-written, every check paycore makes':<44} {checked * 1e6:8.2f} us   {floor:5.2f}x  (the floor)")
    for name, value in measured.items():
        verdict = ""
        if target is not None:
            verdict = "  within target" if value / baseline <= target else f"  OVER the {target}x target"
        print(f"  {name:<44} {value * 1e6:8.2f} us   {value / baseline:5.2f}x{verdict}")
        record(f"{title}: {name}", value / baseline, target, f"{baseline * 1e6:.2f} us", floor)
