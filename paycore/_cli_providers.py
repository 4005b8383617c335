"""``paycore providers``: what is installed, read from entry points without importing any provider."""

from __future__ import annotations

import argparse
import importlib.metadata
from typing import Any

from paycore import errors
from paycore._cli_output import emit
from paycore._compatibility import paycore_requirement
from paycore._discovery import installed_providers
from paycore._version import VERSION

__all__ = ["providers", "versions"]


def _compatibility(distribution: str | None) -> str:
    """`` (built for paycore <range>: refused)`` when the distribution excludes this paycore, else ""."""
    if distribution is None:
        return ""
    try:
        requirement = paycore_requirement(importlib.metadata.distribution(distribution))
    except importlib.metadata.PackageNotFoundError:
        return ""
    if requirement is None or requirement.specifier.contains(VERSION, prereleases=True):
        return ""
    return f" (built for paycore {requirement.specifier}: refused)"


def versions() -> str:
    """``paycore --version``: paycore's version, then each installed provider's distribution and version."""
    lines = [f"paycore {VERSION}"]
    for info in installed_providers():
        shown = f"{info.distribution or '?'} {info.version or '?'}"
        lines.append(f"{shown} (provider {info.name}){_compatibility(info.distribution)}")
    return "\n".join(lines)


def providers(args: argparse.Namespace) -> int:
    listing = []
    for info in installed_providers():
        entry: dict[str, Any] = {
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.target,
        }
        if getattr(args, "json", False):
            # Imported here, for cold start only: a plain listing reads entry points and loads no provider.
            from paycore._plugins import load_provider_class

            try:
                entry["capabilities"] = load_provider_class(info.name).capabilities().model_dump(mode="json")
                for key, values in entry["capabilities"].items():
                    # Sets as sorted lists, for output that diffs well; by-channel tables as sorted tables.
                    entry["capabilities"][key] = (
                        {name: sorted(fields) for name, fields in sorted(values.items())}
                        if isinstance(values, dict)
                        else sorted(values)
                    )
            except errors.PaycoreError as exc:
                entry["error"] = str(exc)
        listing.append(entry)

    def readable() -> str:
        if not listing:
            return "no payment providers installed"
        return "\n".join(
            f"{e['name']:<12} {e['distribution'] or '?'} {e['version'] or ''}".rstrip()
            + _compatibility(e["distribution"])
            for e in listing
        )

    emit(args, listing, readable)
    return 0
