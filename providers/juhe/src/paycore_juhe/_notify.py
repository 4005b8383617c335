"""Verifying a payment notification, and reading the buyer's browser return."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import NoReturn

from paycore import (
    BrowserReturn,
    MalformedAmount,
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    Notification,
    PaymentStatus,
    Reply,
    SignatureError,
)
from paycore.toolkit import clip, decode_attach
from paycore_juhe._messages import gateway_time, parse_amount, parse_form_body, signed_fields
from paycore_juhe.settings import SETTLEMENT_CURRENCY, STORED_ORDER_ID_LENGTH, JuheSettings

__all__ = ["REQUIRED_FIELDS", "read_browser_return", "verify_notification_body"]

REQUIRED_FIELDS = ("memberid", "orderid", "amount", "transaction_id", "datetime", "returncode", "sign")
_SIGNED_REQUIRED = frozenset(REQUIRED_FIELDS) - {"sign"}
_SUCCESS = "00"


def _refuse_missing(received: Mapping[str, str], signed: Mapping[str, str] | None = None) -> NoReturn:
    missing = [name for name in REQUIRED_FIELDS if not received.get(name)]
    if missing:
        raise MissingField(f"notification lacks {', '.join(missing)}")
    unsigned = sorted(_SIGNED_REQUIRED.difference(signed or {}))
    raise MissingField(f"notification's {', '.join(unsigned)} is '0', which its signature does not cover")


def verify_notification_body(
    body: bytes | Mapping[str, str], settings: JuheSettings, *, provider: str, account: str, ack: Reply
) -> Notification:
    received = parse_form_body(body)
    if not received.get("sign") or not received.get("orderid"):
        _refuse_missing(received)
    # Only what the signature covers is read: a present field the matching rule
    # dropped (a PHP-empty "0") is as good as absent.
    fields = signed_fields(received, settings.secret_key.get_secret_value())
    if fields is None:
        raise SignatureError(f"notification for order {clip(received['orderid'])!r} has a bad signature")
    if not _SIGNED_REQUIRED.issubset(fields):
        _refuse_missing(received, fields)
    if fields["memberid"] != settings.merchant_id:
        raise MerchantMismatch(f"notification for order {clip(fields['orderid'])!r} is for another merchant id")
    if len(fields["orderid"]) > STORED_ORDER_ID_LENGTH:
        raise MalformedNotification(
            f"order id is longer than the {STORED_ORDER_ID_LENGTH} characters a platform stores"
        )
    try:
        sent_at = gateway_time(fields["datetime"], settings.zone)
    except ValueError:
        raise MalformedNotification(
            f"datetime {clip(fields['datetime'])!r} is neither YYYYmmddHHMMSS nor YYYY-mm-dd HH:MM:SS"
        ) from None
    if received.get("true_amount") == "0":
        # Dropped from the reference signing string, but "not a positive amount is
        # refused regardless": a platform sending it is broken or the body forged.
        raise MalformedAmount("true_amount '0' is not a positive amount")
    amount = parse_amount(fields, "amount")
    # true_amount, when present, is what the buyer paid (some channels lower it by fen).
    paid_amount: Decimal | None = parse_amount(fields, "true_amount") if "true_amount" in fields else amount
    paid = fields["returncode"] == _SUCCESS
    return Notification(
        order_id=fields["orderid"],
        status=PaymentStatus.PAID if paid else PaymentStatus.FAILED,
        amount=amount,
        currency=SETTLEMENT_CURRENCY,
        paid_amount=paid_amount if paid else None,
        transaction_id=fields["transaction_id"],
        paid_at=sent_at if paid else None,
        attach=decode_attach(received.get("attach")),
        provider=provider,
        account=account,
        raw=received,
        ack=ack,
    )


def read_browser_return(
    body: bytes | Mapping[str, str], settings: JuheSettings, *, provider: str, account: str
) -> BrowserReturn:
    """The buyer's browser return, for display; a present but wrong sign is SignatureError."""
    received = parse_form_body(body)
    if not received.get("orderid"):
        raise MissingField("browser return lacks orderid")
    checked = bool(received.get("sign"))
    fields = received
    if checked:
        # Only what the signature covers is read (see signed_fields).
        covered = signed_fields(received, settings.secret_key.get_secret_value())
        if covered is None or not covered.get("orderid"):
            raise SignatureError(f"browser return for order {clip(received['orderid'])!r} has a bad signature")
        fields = covered
    # The notifications' strict reading: a plain positive decimal, else MalformedAmount.
    amount = parse_amount(fields, "amount") if fields.get("amount") else None
    returncode = fields.get("returncode")
    claimed = {None: PaymentStatus.UNKNOWN, _SUCCESS: PaymentStatus.PAID}.get(returncode, PaymentStatus.FAILED)
    return BrowserReturn(
        order_id=fields["orderid"],
        claimed_status=claimed,
        amount=amount,
        attach=decode_attach(received.get("attach")),
        signature_checked=checked,
        provider=provider,
        account=account,
        raw=received,
    )
