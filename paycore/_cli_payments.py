"""``paycore create``, ``query``, ``verify`` and ``sign explain``: one gateway call from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from paycore import errors
from paycore._cli_output import emit, emit_model
from paycore._gateway import Gateway
from paycore.http import NotificationRequest
from paycore.models import Order

__all__ = ["create", "query", "sign_explain", "verify"]


def _gateway(args: argparse.Namespace) -> Any:
    return Gateway.from_config(getattr(args, "account", None), getattr(args, "config", None))


def create(args: argparse.Namespace) -> int:
    fields = {
        "amount": args.amount,
        "channel": args.channel,
        "subject": args.subject,
        "notify_url": args.notify_url,
        "return_url": args.return_url,
    }
    if args.order_id:
        fields["order_id"] = args.order_id
    if args.attach is not None:
        fields["attach"] = args.attach
    order = Order(**fields)
    with _gateway(args) as gateway:
        emit_model(args, gateway.create(order, flow=args.flow))  # None: the account's create_flow
    return 0


def query(args: argparse.Namespace) -> int:
    with _gateway(args) as gateway:
        emit_model(args, gateway.query(args.order_id))
    return 0


def _received(args: argparse.Namespace) -> Any:
    """The message ``verify`` and ``sign explain`` read: method, path, query, headers and body as received."""
    # The command line arrives decoded with surrogateescape: give the bytes as typed.
    if args.body is not None:
        body = os.fsencode(args.body)
    elif args.method == "POST":
        body = sys.stdin.buffer.read()
    else:
        body = b""
    headers = []
    for header in args.header or ():
        name, separator, value = header.partition(":")
        if not separator:
            raise errors.InvalidRequest(f"--header takes NAME:VALUE, not {header!r}")
        headers.append((name.strip(), value.strip()))
    return NotificationRequest(method=args.method, path=args.path, query=args.query, headers=headers, body=body)


def verify(args: argparse.Namespace) -> int:
    request = _received(args)
    with _gateway(args) as gateway:
        emit_model(args, gateway.verify_notification(request))
    return 0


def sign_explain(args: argparse.Namespace) -> int:
    request = _received(args)
    with _gateway(args) as gateway:
        explanation = gateway.explain_signature(request)
        heading = f"account {gateway.account} (provider {gateway.provider_name})"
    data = {**dataclasses.asdict(explanation), "verdict": explanation.verdict()}

    def readable() -> str:
        lines = [heading, f"rule: {explanation.rule}", f"received signature: {explanation.received or '(none)'}"]
        for number, candidate in enumerate(explanation.candidates, start=1):
            lines.append(f"{number}. {candidate.label}: {'MATCHED' if candidate.matched else 'no match'}")
            lines.append(f"   signed:   {candidate.signed_text}")
            lines.append(f"   left out: {', '.join(candidate.dropped) or '(nothing)'}")
            if candidate.key_id is not None:
                verified = "verifies" if candidate.matched else "does not verify"
                lines.append(f"   checked:  with {candidate.key_id}: the received signature {verified}")
            else:
                lines.append(f"   gives:    {candidate.digest}")
        if explanation.problem:
            lines.append(f"problem: {explanation.problem}")
        lines.append(f"verdict: {explanation.verdict()}")
        return "\n".join(lines)

    emit(args, data, readable)
    return 0 if explanation.matched is not None and explanation.problem is None else 3
