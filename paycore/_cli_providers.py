"""``paycore providers``: what is installed, read from entry points without importing any provider."""

from __future__ import annotations

import argparse
from typing import Any

from paycore import errors
from paycore._cli_output import emit
from paycore._discovery import installed_providers

__all__ = ["providers"]


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
        return "\n".join(f"{e['name']:<12} {e['distribution'] or '?'} {e['version'] or ''}".rstrip() for e in listing)

    emit(args, listing, readable)
    return 0
