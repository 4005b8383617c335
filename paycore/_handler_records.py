"""What the notification handler decides and hands over: outcomes, the merchant's order as checked, events.

The plain data of `paycore.handler` (re-exported there): no I/O, no decisions
beyond reading the merchant's own order record.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from paycore._text import clip
from paycore.errors import InvalidRequest
from paycore.http import Reply
from paycore.models import Notification, PaymentStatus

__all__ = [
    "DEFAULT_STORE_PATH",
    "NO_ACCOUNT",
    "QUERY_INTERVAL",
    "SETTLED",
    "UNACKNOWLEDGED",
    "AppliedPayment",
    "Handled",
    "LookupFailed",
    "OrderRecord",
    "Outcome",
    "ReconcileResult",
    "UnusableRecord",
    "applied_key",
    "event_record",
    "order_ids_of",
]

#: Seconds between two gateway queries for the same order prompted by unverified notifications.
QUERY_INTERVAL = 30.0
#: Where the handler keeps claims when no store is given: a file in the working directory.
DEFAULT_STORE_PATH = "paycore-notifications.sqlite3"


class Outcome(enum.StrEnum):
    """What the handler did with one notification (or one queried payment)."""

    APPLIED = "applied"  # the callback ran and returned: acknowledged
    DUPLICATE = "duplicate"  # applied before: acknowledged again, callback not called
    NOTHING_TO_APPLY = "nothing_to_apply"  # pending, or failed with no on_failed: acknowledged
    UNVERIFIED = "unverified"  # verification failed: not trusted
    UNKNOWN_ORDER = "unknown_order"  # the merchant has no such order
    MISMATCH = "mismatch"  # another account, amount or currency than the order's
    UNDERPAID = "underpaid"  # paid less than the order, beyond the tolerance
    BUSY = "busy"  # another delivery is applying it right now: retry
    CALLBACK_FAILED = "callback_failed"  # the merchant's callback raised: claim released, retry
    LOOKUP_FAILED = "lookup_failed"  # the merchant's lookup raised or returned no usable record: retry
    STORE_FAILED = "store_failed"  # the store could not be reached to claim: nothing applied, retry

    @property
    def acknowledged(self) -> bool:
        """Whether the gateway is told "received" (it stops resending)."""
        return self in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.NOTHING_TO_APPLY)


class UnusableRecord(InvalidRequest):
    """The lookup's record cannot be checked against: paycore's own words say what to store instead."""


#: Spellings shop databases use for an ISO 4217 code: the yuan is often stored as "RMB".
_CURRENCY_ALIASES = {"RMB": "CNY"}
_ISO_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class OrderRecord:
    """The merchant's own order, as the checks need it: not necessarily a `paycore.Order`.

    ``currency`` is an ISO 4217 code (``CNY`` when not stored); case and surrounding
    spaces do not count, and ``RMB`` is read as ``CNY``. Anything else is refused:
    compared with every notification's currency, it would refuse every payment.
    """

    order_id: str
    amount: Decimal
    currency: str = "CNY"
    #: the account that created it (`paycore.Payment.account`); None: not stored
    account: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str):
            raise UnusableRecord("the order lookup's currency must be text")
        code = self.currency.strip().upper()
        code = _CURRENCY_ALIASES.get(code, code)
        if not _ISO_CURRENCY.fullmatch(code):
            raise UnusableRecord(
                f"the order lookup's currency {clip(self.currency, 20)!r} is not an ISO 4217 code: store e.g. 'CNY'"
            )
        object.__setattr__(self, "currency", code)

    @classmethod
    def of(cls, found: object) -> OrderRecord:
        """Read a lookup's answer: an OrderRecord, a `paycore.Order`, any object or mapping with
        ``order_id`` and ``amount`` (and optionally ``currency``, ``account``)."""
        if isinstance(found, OrderRecord):
            return found

        def get(name: str, default: Any = None) -> Any:
            if isinstance(found, Mapping):
                return found.get(name, default)
            return getattr(found, name, default)

        order_id, amount = get("order_id"), get("amount")
        currency, account = get("currency", "CNY"), get("account")
        if not isinstance(order_id, str) or not isinstance(amount, Decimal) or not amount.is_finite():
            raise UnusableRecord("the order lookup must give order_id (str) and amount (a finite Decimal)")
        if currency is None:
            currency = "CNY"
        if not isinstance(currency, str) or (account is not None and not isinstance(account, str)):
            raise UnusableRecord("the order lookup's currency and account must be text")
        return cls(order_id=order_id, amount=amount, currency=currency, account=account)


@dataclass(frozen=True)
class AppliedPayment:
    """What ``on_paid`` / ``on_failed`` receive: the verified facts, and the merchant's own record."""

    order_id: str
    account: str
    provider: str
    status: PaymentStatus
    amount: Decimal
    paid_amount: Decimal | None
    transaction_id: str | None
    paid_at: datetime | None
    #: ``"notification"`` or ``"query"``: how the handler learnt it
    source: str
    #: what the merchant's lookup returned for this order
    order: Any = field(repr=False)


@dataclass(frozen=True)
class Handled:
    """The handler's decision on one notification: what happened and the reply to send."""

    outcome: Outcome
    reply: Reply
    notification: Notification | None = None
    #: why it was not acknowledged (None when it was): the verification error, or what the outcome means
    reason: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    """What `NotificationHandler.reconcile` learnt about one order."""

    order_id: str
    status: PaymentStatus | None
    outcome: Outcome | None
    error: str | None = None


#: Statuses a handler applies (on_paid, on_failed): a payment in them must state its currency.
SETTLED = frozenset({PaymentStatus.PAID, PaymentStatus.FAILED})

NO_ACCOUNT = "stores no account and several are configured: store payment.account with each order"

#: What each outcome that is not acknowledged means, for `Handled.reason` (the log line says more).
UNACKNOWLEDGED = {
    Outcome.UNVERIFIED: "the notification could not be verified",
    Outcome.UNKNOWN_ORDER: "the order lookup knows no such order",
    Outcome.MISMATCH: "another account, amount or currency than the order's",
    Outcome.UNDERPAID: "paid less than the order, beyond the underpayment tolerance",
    Outcome.BUSY: "another delivery is applying it right now",
    Outcome.CALLBACK_FAILED: "the callback failed: the resend retries",
    Outcome.LOOKUP_FAILED: "the order lookup failed: the resend retries",
    Outcome.STORE_FAILED: "the store could not be reached: the resend retries",
}


class LookupFailed(Exception):
    """The merchant's lookup raised, or returned something that is not an order record."""

    def __init__(self, order_id: str, cause: Exception) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.cause = cause


def order_ids_of(order_ids: Iterable[str]) -> list[str]:
    try:
        listed = list(order_ids)
    except TypeError:
        raise InvalidRequest("reconcile() takes an iterable of order ids") from None
    if not all(isinstance(order_id, str) and order_id for order_id in listed):
        raise InvalidRequest("reconcile() takes order ids as non-empty text")
    return listed


def applied_key(order_id: str, status: PaymentStatus) -> str:
    # One application per order and per kind of event: paid once, failed once.
    return f"{order_id}:{status.value}"


def event_record(event: AppliedPayment) -> str:
    return json.dumps(
        {
            "order_id": event.order_id,
            "account": event.account,
            "provider": event.provider,
            "status": event.status.value,
            "amount": str(event.amount),
            "paid_amount": None if event.paid_amount is None else str(event.paid_amount),
            "transaction_id": event.transaction_id,
            "paid_at": None if event.paid_at is None else event.paid_at.isoformat(),
            "source": event.source,
        }
    )
