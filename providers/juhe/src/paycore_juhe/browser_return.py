"""The buyer's browser return to ``pay_callbackurl``: for display, never proof of payment.

The gateway sends the buyer back with a POST of the notification's fields. Anyone
can forge that POST, so it may only choose what page to show ("thank you, we are
confirming your payment"); an order is paid when a verified notification or a
query says so::

    shown = parse_browser_return(await request.body(), gateway=gateway)
    return render("thanks.html", order_id=shown.order_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pydantic

from paycore import (
    AsyncGateway,
    Gateway,
    InvalidRequest,
    MalformedNotification,
    MissingField,
    PaymentStatus,
    SignatureError,
)
from paycore.toolkit import clip, utf8
from paycore_juhe._attach import decode_attach
from paycore_juhe._messages import parse_amount, parse_form_body, signed_fields
from paycore_juhe.provider import JuheProvider

__all__ = ["BrowserReturn", "parse_browser_return"]


class BrowserReturn(pydantic.BaseModel):
    """What the browser return claims. ``status`` is a claim, not a fact."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", defer_build=True)

    order_id: str
    claimed_status: PaymentStatus
    amount: Decimal | None
    attach: str | None
    #: True when a sign was present and matched; False when there was none.
    signature_checked: bool
    raw: dict[str, str]


def parse_browser_return(body: bytes | str | Mapping[str, str], *, gateway: Gateway | AsyncGateway) -> BrowserReturn:
    """Parse the browser return for display; a present but wrong sign is SignatureError."""
    provider: Any = gateway.provider
    if not isinstance(provider, JuheProvider):
        raise InvalidRequest("parse_browser_return needs the gateway of a juhe account")
    if isinstance(body, str):
        encoded = utf8(body)
        if encoded is None:
            raise MalformedNotification("the browser return is not valid Unicode text")
        body = encoded
    elif isinstance(body, bytearray | memoryview):
        body = bytes(body)
    elif not isinstance(body, bytes | Mapping):
        raise InvalidRequest(f"a browser return body is bytes, str or a mapping, not {type(body).__name__}")
    received = parse_form_body(body)
    if not received.get("orderid"):
        raise MissingField("browser return lacks orderid")
    checked = bool(received.get("sign"))
    fields = received
    if checked:
        # Only what the signature covers is read (see signed_fields).
        covered = signed_fields(received, provider.settings.secret_key.get_secret_value())
        if covered is None or not covered.get("orderid"):
            raise SignatureError(f"browser return for order {clip(received['orderid'])!r} has a bad signature")
        fields = covered
    # The notifications' strict reading: a plain positive decimal, else MalformedAmount.
    amount = parse_amount(fields, "amount") if fields.get("amount") else None
    returncode = fields.get("returncode")
    claimed = {None: PaymentStatus.UNKNOWN, "00": PaymentStatus.PAID}.get(returncode, PaymentStatus.FAILED)
    return BrowserReturn(
        order_id=fields["orderid"],
        claimed_status=claimed,
        amount=amount,
        attach=decode_attach(received.get("attach")),
        signature_checked=checked,
        raw=received,
    )
