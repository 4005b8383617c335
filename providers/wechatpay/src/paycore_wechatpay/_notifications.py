"""Reading WeChat Pay's notifications: a signed JSON envelope whose ``resource`` is sealed with AES-256-GCM.

The envelope is verified over its headers first, then the resource opened with the
APIv3 key (its ``associated_data`` authenticated with it). ``TRANSACTION.SUCCESS``
is a payment; ``REFUND.SUCCESS``, ``REFUND.ABNORMAL`` and ``REFUND.CLOSED`` are about
a refund and carry it in `paycore.Notification.refund`, never as a payment.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from paycore import (
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    NotificationRequest,
    PaymentStatus,
    RefundStatus,
    crypto,
    toolkit,
)
from paycore_wechatpay._reading import object_at, text

__all__ = ["REFUND_EVENTS", "Event", "check_merchant", "open_event", "payment_status", "read_envelope"]

#: refund events, and where the refund stands after each
REFUND_EVENTS = {
    "REFUND.SUCCESS": RefundStatus.SUCCEEDED,
    "REFUND.ABNORMAL": RefundStatus.FAILED,
    "REFUND.CLOSED": RefundStatus.FAILED,
}
_PAYMENT_EVENT = "TRANSACTION.SUCCESS"
#: the resource's ``original_type`` each kind of event must say
_ORIGINAL_TYPES = {"TRANSACTION": "transaction", "REFUND": "refund"}


class Event(NamedTuple):
    """An opened notification: the envelope's fields and the decrypted resource."""

    envelope: dict[str, Any]
    event_type: str
    resource: dict[str, Any]

    @property
    def is_refund(self) -> bool:
        return self.event_type in REFUND_EVENTS


def read_envelope(request: NotificationRequest) -> dict[str, Any]:
    """The notification's JSON envelope (unverified)."""
    try:
        data = toolkit.load_json(request.body)
    except ValueError as exc:
        raise MalformedNotification(f"the WeChat Pay notification is {exc}") from None
    if not isinstance(data, dict):
        raise MalformedNotification("the WeChat Pay notification is not a JSON object")
    return data


def open_event(envelope: dict[str, Any], apiv3_key: bytes) -> Event:
    """Decrypt the envelope's resource; MalformedNotification when it does not open or says another kind."""
    event_type = text(envelope, "event_type", MissingField)
    kind = event_type.partition(".")[0]
    if event_type != _PAYMENT_EVENT and event_type not in REFUND_EVENTS:
        raise MalformedNotification(f"WeChat Pay event {event_type!r:.40} is neither a payment nor a refund")
    if envelope.get("resource_type") != "encrypt-resource":
        raise MalformedNotification("the WeChat Pay notification's resource is not an encrypt-resource")
    resource = object_at(envelope, "resource", MissingField)
    if text(resource, "algorithm", MissingField) != "AEAD_AES_256_GCM":
        raise MalformedNotification("the WeChat Pay resource is not sealed with AEAD_AES_256_GCM")
    if resource.get("original_type") != _ORIGINAL_TYPES[kind]:
        raise MalformedNotification(f"a {event_type} resource's original_type is not {_ORIGINAL_TYPES[kind]!r}")
    try:
        plain = crypto.aead_aes_256_gcm_decrypt(
            apiv3_key,
            text(resource, "nonce", MissingField),
            text(resource, "associated_data", MissingField, required=False),
            text(resource, "ciphertext", MissingField),
        )
        opened = toolkit.load_json(plain)
    except ValueError as exc:
        raise MalformedNotification(f"the WeChat Pay resource cannot be read: {exc}") from None
    if not isinstance(opened, dict):
        raise MalformedNotification("the WeChat Pay resource is not a JSON object")
    return Event(envelope, event_type, opened)


def check_merchant(resource: dict[str, Any], mchid: str, appid: str | None) -> None:
    """The resource is for this merchant (and app: refund resources name none)."""
    if resource.get("mchid") != mchid:
        raise MerchantMismatch("the WeChat Pay notification is for another mchid")
    if appid is not None and resource.get("appid") != appid:
        raise MerchantMismatch("the WeChat Pay notification is for another appid")


def payment_status(event: Event) -> PaymentStatus:
    """A payment event's status: TRANSACTION.SUCCESS must say trade_state SUCCESS."""
    if text(event.resource, "trade_state", MissingField) != "SUCCESS":
        raise MalformedNotification("a TRANSACTION.SUCCESS notification whose trade_state is not SUCCESS")
    return PaymentStatus.PAID
