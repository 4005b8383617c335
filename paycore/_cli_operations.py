"""``paycore check`` and ``paycore reconcile``: the configured accounts checked, pending orders settled."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from typing import Any

from paycore import errors
from paycore._check import check_account
from paycore._cli_output import emit
from paycore.config import load_config
from paycore.handler import NotificationHandler

__all__ = ["check", "reconcile"]


def check(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    account = getattr(args, "account", None)
    names = [account] if account else config.account_names()
    if not names:
        raise errors.ConfigError("no accounts configured: nothing to check")
    findings = [
        finding
        for name in names
        for finding in check_account(config, name, notify_base=args.notify_url, reach=not args.offline)
    ]

    def readable() -> str:
        return "\n".join(f"{finding.account}: {finding.level}: {finding.message}" for finding in findings)

    emit(args, [dataclasses.asdict(finding) for finding in findings], readable)
    levels = {finding.level for finding in findings}
    return 2 if "error" in levels else 1 if "warning" in levels else 0


def _load_handler(target: str) -> Any:
    """The application's NotificationHandler named ``module:attribute`` (a callable returning one works too)."""
    module_name, separator, attribute = target.partition(":")
    if not separator or not module_name or not attribute:
        raise errors.ConfigError(f"--handler takes MODULE:ATTRIBUTE, not {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the application's own modules, as `python -m` would find them
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise errors.ConfigError(f"cannot load the handler {target!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(found, NotificationHandler) and callable(found):
        found = found()
    if not isinstance(found, NotificationHandler):
        raise errors.ConfigError(f"{target!r} is not a paycore.NotificationHandler")
    return found


def reconcile(args: argparse.Namespace) -> int:
    handler = _load_handler(args.handler)
    order_ids = list(args.order_ids)
    if args.orders_file:
        with open(args.orders_file, encoding="utf-8") as listing:
            order_ids += [line.strip() for line in listing if line.strip()]
    if not order_ids:
        raise errors.InvalidRequest("name the orders to reconcile (ORDER_ID ... or --orders-file)")
    results = handler.reconcile(order_ids)
    data = [
        {
            "order_id": result.order_id,
            "status": result.status.value if result.status else None,
            "outcome": result.outcome.value if result.outcome else None,
            "error": result.error,
        }
        for result in results
    ]

    def readable() -> str:
        return "\n".join(
            f"{entry['order_id']}: {entry['status'] or '?'}"
            + (f", {entry['outcome']}" if entry["outcome"] else "")
            + (f" ({entry['error']})" if entry["error"] else "")
            for entry in data
        )

    emit(args, data, readable)
    # Reconciled: queried, and applied, found applied before, or nothing to apply. Anything else (an unknown
    # order, a mismatch, a failure) needs a person.
    settled = all(
        result.error is None and result.outcome is not None and result.outcome.acknowledged for result in results
    )
    return 0 if settled else 1
