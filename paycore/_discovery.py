"""Listing installed providers from their entry points, without importing any of them.

Kept apart from loading (``_plugins``) so that ``paycore providers`` imports
nothing but ``importlib.metadata``.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass

__all__ = ["PROVIDER_GROUP", "TESTING_ENV", "TESTING_GROUP", "ProviderInfo", "installed_providers", "searched_groups"]

PROVIDER_GROUP = "paycore.providers"
TESTING_GROUP = "paycore.testing.providers"
TESTING_ENV = "PAYCORE_TESTING"


def searched_groups() -> tuple[str, ...]:
    """The entry-point groups searched: the testing group only with ``PAYCORE_TESTING=1``."""
    if os.environ.get(TESTING_ENV) == "1":
        return (PROVIDER_GROUP, TESTING_GROUP)
    return (PROVIDER_GROUP,)


@dataclass(frozen=True)
class ProviderInfo:
    """An installed provider, as its entry point describes it (not imported)."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    group: str


def installed_providers() -> list[ProviderInfo]:
    """List installed providers without importing them, sorted by name."""
    found = []
    for group in searched_groups():
        # importlib.metadata rather than stevedore's cache here: only it keeps the
        # distribution each entry point came from, which a listing must show.
        for entry_point in importlib.metadata.entry_points(group=group):
            dist = entry_point.dist
            found.append(
                ProviderInfo(
                    name=entry_point.name,
                    target=entry_point.value,
                    distribution=dist.name if dist is not None else None,
                    version=dist.version if dist is not None else None,
                    group=group,
                )
            )
    return sorted(found, key=lambda info: (info.name, info.target))
