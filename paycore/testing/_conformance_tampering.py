"""Conformance, tampering: forged, foreign, malformed and oversized notifications are refused with typed errors."""

from __future__ import annotations

import itertools
import json
import re
import time
import unittest.mock
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from paycore._gateway import Gateway
from paycore.errors import (
    MalformedNotification,
    PaycoreError,
    ProviderError,
    VerificationError,
)
from paycore.http import MAX_NOTIFICATION_BYTES, NotificationRequest
from paycore.models import Notification
from paycore.testing._conformance_base import ConformanceBase, ConformanceWorld

__all__ = ["TamperingChecks"]

_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


class TamperingChecks(ConformanceBase):
    """Forged, foreign, malformed and oversized notifications are refused with typed errors."""

    def test_tampered_notifications_are_refused(self, conformance_world: ConformanceWorld) -> None:
        under_test = self._under_test("sync", conformance_world)
        order = self.order()
        under_test.create(order)
        genuine = conformance_world.pay(order)
        verified = under_test.verify_notification(genuine)
        forgeries = itertools.chain(
            _forgeries(genuine), _unsigned_with_trusted(genuine, self.unsigned_notification_fields)
        )
        # Verifying is pure and the same under both gateways: one gateway checks them all.
        with under_test.gateway() as gateway:
            for label, forged in forgeries:
                self._check_forgery(gateway, label, forged, verified)
            for label, forged in _header_forgeries(genuine, self.signed_notification_headers):
                # The body is the genuine one: accepted, it would read the same, so only a refusal is right.
                try:
                    gateway.verify_notification(forged)
                except VerificationError:
                    continue
                except PaycoreError as exc:
                    raise AssertionError(
                        f"{label}: refused with {type(exc).__name__}, not a VerificationError"
                    ) from exc
                raise AssertionError(
                    f"a notification whose signed header was tampered with was accepted ({label}): verify every "
                    "header the protocol signs or checks (signature, timestamp, nonce, key serial)"
                )

    def _check_forgery(self, gateway: Gateway, label: str, forged: NotificationRequest, verified: Notification) -> None:
        try:
            notification = gateway.verify_notification(forged)
        except VerificationError:
            return
        except PaycoreError as exc:
            raise AssertionError(f"{label}: refused with {type(exc).__name__}, not a VerificationError") from exc
        # Accepted: harmless only if nothing trusted changed and what did change is declared unsigned.
        raw = {**verified.raw, **notification.raw}
        # (an empty field and an absent one say the same: many protocols sign neither)
        changed = {name for name in raw if (verified.raw.get(name) or "") != (notification.raw.get(name) or "")}
        harmless = _trusted(notification) == _trusted(verified) and changed <= self.unsigned_notification_fields
        assert harmless, (
            f"a tampered notification was accepted ({label}; changed: {sorted(changed)}): every field that is "
            "trusted must be signed, and the verifier must accept exactly one reading of what it received"
        )

    def test_a_replayed_notification_is_refused_once_stale(self, conformance_world: ConformanceWorld) -> None:
        if self.notification_max_age is None:
            pytest.skip("the protocol declares no notification_max_age")
        under_test = self._under_test("sync", conformance_world)
        order = self.order()
        under_test.create(order)
        genuine = conformance_world.pay(order)
        under_test.verify_notification(genuine)  # genuine, and fresh
        later = time.time() + self.notification_max_age + 60
        with under_test.gateway() as gateway, unittest.mock.patch("time.time", return_value=later):
            try:
                gateway.verify_notification(genuine)
            except VerificationError:
                return
        pytest.fail(
            f"a genuine notification replayed {self.notification_max_age + 60:.0f} s later was accepted: refuse a "
            "signed timestamp older than notification_max_age (paycore.crypto.is_fresh; read the clock with time.time)"
        )

    def test_another_merchants_notification_is_refused(self, conformance_world: ConformanceWorld) -> None:
        if conformance_world.other_merchant is None:
            pytest.skip("the world gives no second merchant (ConformanceWorld.other_merchant)")
        other_world = conformance_world.other_merchant
        other = self._under_test("sync", other_world)
        order = self.order()
        other.create(order)
        received = other_world.pay(order)
        assert other.verify_notification(received).order_id == order.order_id  # genuine, for its own merchant
        try:
            self._under_test("sync", conformance_world).verify_notification(received)
        except VerificationError:
            return
        pytest.fail(
            "a genuine notification for another merchant id (signed with the same key) was accepted: compare the "
            "notification's merchant id with the account's settings in verify_notification (MerchantMismatch)"
        )

    def test_malformed_and_oversized_notifications_are_typed_errors(self, conformance_world: ConformanceWorld) -> None:
        under_test = self._under_test("sync", conformance_world)
        bodies: list[NotificationRequest | bytes] = [
            b"",
            b"\xff\xfe\x00garbage",
            b"a=1&a=2",
            b"{}",
            b"sign=" + b"A" * 64,
            NotificationRequest(method="GET", path="/notify", query="sign=x&%ZZ=1"),
        ]
        for body in bodies:
            try:
                under_test.verify_notification(body)
            except VerificationError:
                continue
            except ProviderError as exc:
                raise AssertionError(
                    f"{exc}: refuse such input with a paycore.VerificationError ({body!r:.60})"
                ) from exc
            except PaycoreError as exc:
                raise AssertionError(f"{type(exc).__name__} is no VerificationError ({body!r:.60}): {exc}") from exc
            raise AssertionError(f"a malformed notification was accepted: {body!r:.60}")
        with pytest.raises(MalformedNotification):
            under_test.verify_notification(b"a=" + b"1" * MAX_NOTIFICATION_BYTES)


def _trusted(notification: Any) -> tuple[Any, ...]:
    return (
        notification.order_id,
        notification.status,
        notification.amount,
        notification.paid_amount,
        notification.transaction_id,
        notification.currency,
    )


def _header_forgeries(
    genuine: NotificationRequest, signed: frozenset[str]
) -> Iterator[tuple[str, NotificationRequest]]:
    """Each declared signed header of ``genuine`` changed, dropped, and given twice."""
    headers = dict(genuine.headers)
    for name in sorted(header.lower() for header in signed):
        value = headers.get(name)
        if value is None:
            raise AssertionError(
                f"the genuine notification has no {name!r} header, which signed_notification_headers declares"
            )
        changed = value[:-1] + ("1" if value[-1:] != "1" else "2")
        variants = {
            "changed": {**headers, name: changed},
            "dropped": {key: item for key, item in headers.items() if key != name},
            "given twice": {**headers, name: f"{value}, {changed}"},
        }
        for label, forged_headers in variants.items():
            yield (
                f"header {name} {label}",
                NotificationRequest(
                    method=genuine.method,
                    path=genuine.path,
                    query=genuine.query,
                    headers=forged_headers,
                    body=genuine.body,
                ),
            )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _json_forgeries(genuine: NotificationRequest, fields: dict[str, Any]) -> Iterator[tuple[str, NotificationRequest]]:
    """Each top-level member of a JSON body changed and dropped (a form's '=' checks do not apply to JSON)."""

    def variant(changed: dict[str, Any]) -> NotificationRequest:
        body = json.dumps(changed, ensure_ascii=False, separators=(",", ":")).encode()
        return NotificationRequest(
            method=genuine.method, path=genuine.path, query=genuine.query, headers=genuine.headers, body=body
        )

    for name, value in fields.items():
        others: list[tuple[str, object]] = []
        if isinstance(value, str):
            others = [*_other_values(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            others = [("changed to another number", value + 1)]
        for label, other in others:
            yield f"member {name} {label}", variant({**fields, name: other})
        yield f"member {name} dropped", variant({key: item for key, item in fields.items() if key != name})


def _forgeries(genuine: NotificationRequest) -> Iterator[tuple[str, NotificationRequest]]:
    """Variants of a genuine notification that must not verify as something else."""
    in_query = bool(genuine.query) and not genuine.body
    text = genuine.query if in_query else genuine.body.decode("utf-8", "replace")
    document = None if in_query else _json_object(genuine.body)
    if document is not None:
        yield from _json_forgeries(genuine, document)
    # A JSON body holding '=' (base64 padding) is not a form.
    pairs = parse_qsl(text, keep_blank_values=True) if "=" in text and document is None else []

    def variant(new_text: str) -> NotificationRequest:
        if in_query:
            return NotificationRequest(
                method=genuine.method, path=genuine.path, query=new_text, headers=genuine.headers
            )
        return NotificationRequest(
            method=genuine.method,
            path=genuine.path,
            query=genuine.query,
            headers=genuine.headers,
            body=new_text.encode(),
        )

    if not pairs:  # not a form: flip bytes of the body
        body = genuine.body
        for index in (0, len(body) // 2, len(body) - 1):
            if 0 <= index < len(body):
                flipped = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
                yield (
                    f"byte {index} of the body flipped",
                    NotificationRequest(
                        method=genuine.method,
                        path=genuine.path,
                        query=genuine.query,
                        headers=genuine.headers,
                        body=flipped,
                    ),
                )
        return
    for position, (name, value) in enumerate(pairs):
        for label, other in _other_values(value):
            changed = [*pairs]
            changed[position] = (name, other)
            yield f"field {name} {label}", variant(urlencode(changed))
        yield f"field {name} dropped", variant(urlencode(pairs[:position] + pairs[position + 1 :]))
        yield f"field {name} given twice", variant(urlencode([*pairs, (name, value + "9")]))
    # Fold a field into its neighbour ("a=1&b=2" read as a="1&b=2"): neighbours as received, and as sorted
    # (the order a "k=v&k=v" signed string is usually built in).
    orders = [list(range(len(pairs))), sorted(range(len(pairs)), key=lambda index: pairs[index][0])]
    folded_pairs: set[tuple[int, int]] = set()
    for order in orders:
        for left_index, right_index in itertools.pairwise(order):
            if (left_index, right_index) in folded_pairs:
                continue
            folded_pairs.add((left_index, right_index))
            (left, left_value), (right, right_value) = pairs[left_index], pairs[right_index]
            folded = [pair for index, pair in enumerate(pairs) if index != right_index]
            folded[folded.index((left, left_value))] = (left, f"{left_value}&{right}={right_value}")
            yield f"field {right} folded into {left}", variant(urlencode(folded))


def _unsigned_with_trusted(
    genuine: NotificationRequest, unsigned: frozenset[str]
) -> Iterator[tuple[str, NotificationRequest]]:
    """Each unsigned field changed together with each other field: a verifier must not let one excuse the other."""
    in_query = bool(genuine.query) and not genuine.body
    text = genuine.query if in_query else genuine.body.decode("utf-8", "replace")
    pairs = parse_qsl(text, keep_blank_values=True) if "=" in text else []
    for loose in (index for index, (name, _) in enumerate(pairs) if name in unsigned):
        loose_name, loose_value = pairs[loose]
        for target, (name, value) in enumerate(pairs):
            if target == loose or name in unsigned:
                continue
            for label, other in _other_values(value):
                changed = [*pairs]
                changed[loose] = (loose_name, _other_values(loose_value)[0][1])
                changed[target] = (name, other)
                new_text = urlencode(changed)
                yield (
                    f"field {loose_name} and field {name} {label}",
                    NotificationRequest(
                        method=genuine.method,
                        path=genuine.path,
                        query=new_text if in_query else genuine.query,
                        headers=genuine.headers,
                        body=b"" if in_query else new_text.encode(),
                    ),
                )


def _other_values(value: str) -> list[tuple[str, str]]:
    """Other values a forger would try: one character more, and for a number another well-formed number."""
    variants = [("changed", value + "1" if value else "1")]
    number = _NUMBER.fullmatch(value)
    if number:
        places = len(number.group(2) or "")
        bigger = Decimal(value) + 1
        variants.append(("changed to another number", f"{bigger:.{places}f}"))
    return variants
