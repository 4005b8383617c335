"""Notifications applied exactly once: verify, check against the merchant's order, claim, apply, answer.

::

    handler = paycore.NotificationHandler(
        accounts,                                   # paycore.Accounts
        lookup=lambda order_id: db.order(order_id), # the merchant's own record, or None
        on_paid=fulfil,                             # called once per paid order
        store=SQLiteStore("payments.db"),           # where claims and applied payments live
    )
    reply = handler.handle(notification_request)     # a paycore.Reply to send back

For each notification the handler:

1. verifies it with the account it belongs to (the account in its path, else the
   account stored with the order); an unverified notification is never trusted
   (``query_unverified=True`` asks the gateway for the truth instead);
2. checks it against the merchant's order: unknown order, another account,
   another amount or currency → refused, not applied, not acknowledged (logged);
   a paid amount below the order's is refused unless within
   ``underpayment_tolerance`` (the one underpayment policy);
3. claims the payment atomically in the store and calls ``on_paid`` (or
   ``on_failed``) exactly once; acknowledges only after the callback returned; a
   duplicate is acknowledged again without calling it; a callback that raises
   releases the claim and is not acknowledged, so the gateway's resend retries.

Every "not acknowledged" answer is the provider's failure reply, which never holds
the letters "ok". `apply_payment` feeds a queried `paycore.Payment` through the
same checks and claim, and `reconcile` queries pending orders and applies what
it learns.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from paycore._accounts import Accounts, AsyncAccounts
from paycore._gateway import AsyncGateway, Gateway
from paycore._text import clip
from paycore.errors import (
    ConfigError,
    InvalidRequest,
    OrderNotFound,
    PaycoreError,
    VerificationError,
)
from paycore.http import NotificationRequest, Reply, as_notification_request
from paycore.models import Notification, Payment, PaymentStatus
from paycore.stores import DEFAULT_LEASE, Claim, NotificationStore

__all__ = [
    "AppliedPayment",
    "AsyncNotificationHandler",
    "Handled",
    "NotificationHandler",
    "OrderRecord",
    "Outcome",
    "ReconcileResult",
]

logger = logging.getLogger("paycore.handler")

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


class _UnusableRecord(InvalidRequest):
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
            raise _UnusableRecord("the order lookup's currency must be text")
        code = self.currency.strip().upper()
        code = _CURRENCY_ALIASES.get(code, code)
        if not _ISO_CURRENCY.fullmatch(code):
            raise _UnusableRecord(
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
            raise _UnusableRecord("the order lookup must give order_id (str) and amount (a finite Decimal)")
        if currency is None:
            currency = "CNY"
        if not isinstance(currency, str) or (account is not None and not isinstance(account, str)):
            raise _UnusableRecord("the order lookup's currency and account must be text")
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
_SETTLED = frozenset({PaymentStatus.PAID, PaymentStatus.FAILED})

_NO_ACCOUNT = "stores no account and several are configured: store payment.account with each order"

#: What each outcome that is not acknowledged means, for `Handled.reason` (the log line says more).
_UNACKNOWLEDGED = {
    Outcome.UNVERIFIED: "the notification could not be verified",
    Outcome.UNKNOWN_ORDER: "the order lookup knows no such order",
    Outcome.MISMATCH: "another account, amount or currency than the order's",
    Outcome.UNDERPAID: "paid less than the order, beyond the underpayment tolerance",
    Outcome.BUSY: "another delivery is applying it right now",
    Outcome.CALLBACK_FAILED: "the callback failed: the resend retries",
    Outcome.LOOKUP_FAILED: "the order lookup failed: the resend retries",
    Outcome.STORE_FAILED: "the store could not be reached: the resend retries",
}


class _AwaitableResult(TypeError):
    """A synchronous handler's callback returned an awaitable: nothing was done, nothing may be recorded."""


def _called_synchronously(callback: Callable[..., Any], *args: Any) -> None:
    """Call a synchronous handler's callback; an awaitable result is a failure, raised (so rolled back)."""
    result = callback(*args)
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()  # never run, and never warned about as "never awaited"
        raise _AwaitableResult(
            f"the callback returned an awaitable ({type(result).__name__}): NotificationHandler never awaits; "
            "use AsyncNotificationHandler"
        )


def _failure_text(exc: Exception) -> str:
    # The merchant's exception text may hold anything (a customer's data, a password): only its type is
    # logged; paycore's own message about an awaitable says what to fix.
    return str(exc) if isinstance(exc, _AwaitableResult) else type(exc).__name__


class _LookupFailed(Exception):
    """The merchant's lookup raised, or returned something that is not an order record."""

    def __init__(self, order_id: str, cause: Exception) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.cause = cause


def _order_ids(order_ids: Iterable[str]) -> list[str]:
    try:
        listed = list(order_ids)
    except TypeError:
        raise InvalidRequest("reconcile() takes an iterable of order ids") from None
    if not all(isinstance(order_id, str) and order_id for order_id in listed):
        raise InvalidRequest("reconcile() takes order ids as non-empty text")
    return listed


def _key(order_id: str, status: PaymentStatus) -> str:
    # One application per order and per kind of event: paid once, failed once.
    return f"{order_id}:{status.value}"


def _record(event: AppliedPayment) -> str:
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


GatewayT = TypeVar("GatewayT", Gateway, AsyncGateway)
AccountsT = TypeVar("AccountsT", Accounts, AsyncAccounts)


class _Checks(Generic[AccountsT]):
    """The decisions both handlers share; no I/O here."""

    def __init__(
        self,
        accounts: AccountsT,
        *,
        lookup: Callable[[str], object | None],
        on_paid: Callable[..., Any],
        on_failed: Callable[..., Any] | None = None,
        on_refused: Callable[[Handled], Any] | None = None,
        store: NotificationStore | None = None,
        underpayment_tolerance: Decimal = Decimal(0),
        query_unverified: bool = False,
        lease: float = DEFAULT_LEASE,
        transactional: bool = False,
    ) -> None:
        if not isinstance(accounts, Accounts | AsyncAccounts):
            raise ConfigError("a notification handler needs a paycore.Accounts (or AsyncAccounts)")
        optional: list[object] = [callback for callback in (on_failed, on_refused) if callback is not None]
        if not all(callable(callback) for callback in (lookup, on_paid, *optional)):
            raise ConfigError("lookup, on_paid, on_failed and on_refused must be callables")
        if (
            not isinstance(underpayment_tolerance, Decimal)
            or not underpayment_tolerance.is_finite()  # NaN cannot be compared; Infinity would take any sum
            or underpayment_tolerance < 0
        ):
            raise ConfigError("underpayment_tolerance must be a finite Decimal of at least 0")
        if type(lease) not in (int, float) or not 1 <= lease <= 86_400:  # NaN fails too
            raise ConfigError("lease must be a number of seconds from 1 to 86400, longer than any callback")
        if store is None:
            from paycore.stores.sqlite import SQLiteStore

            store = SQLiteStore(DEFAULT_STORE_PATH)
        if not isinstance(store, NotificationStore):
            raise ConfigError(f"{type(store).__name__} is not a paycore notification store")
        if transactional and not callable(getattr(store, "run_once", None)):
            raise ConfigError("transactional=True needs a store with run_once (paycore.stores.postgres)")
        if isinstance(accounts, Accounts) and inspect.iscoroutinefunction(getattr(store, "claim", None)):
            raise ConfigError(f"{type(store).__name__} is asynchronous: use it with AsyncNotificationHandler")
        if transactional and isinstance(accounts, AsyncAccounts):
            raise ConfigError("transactional=True is for the synchronous NotificationHandler")
        if isinstance(accounts, Accounts):
            for name, callback in (("on_paid", on_paid), ("on_failed", on_failed), ("on_refused", on_refused)):
                if callback is not None and inspect.iscoroutinefunction(callback):
                    # Called, it returns a coroutine nobody awaits: the payment would be recorded, never fulfilled.
                    raise ConfigError(
                        f"{name} is a coroutine function: use it with AsyncNotificationHandler (on AsyncAccounts), "
                        "or pass a plain function"
                    )
        self.accounts: AccountsT = accounts
        self.store = store
        self._lookup = lookup
        self._on_paid = on_paid
        self._on_failed = on_failed
        self._on_refused = on_refused
        self._tolerance = underpayment_tolerance
        self._query_unverified = query_unverified
        self._lease = lease
        self._transactional: bool = transactional
        self._queried: dict[str, float] = {}
        self._queried_lock = threading.Lock()

    def _refused(self, request: NotificationRequest, outcome: Outcome, reason: object) -> Handled:
        said = clip(str(reason), 300)
        logger.warning("notification %s: %s", outcome.value, said)
        reply = self.accounts.reply_for(request, reason if isinstance(reason, Exception) else None)
        return Handled(outcome, reply, reason=said)

    def _answer(self, request: NotificationRequest, outcome: Outcome, notification: Notification | None) -> Handled:
        if outcome.acknowledged and notification is not None:
            return Handled(outcome, notification.ack, notification)
        reason = _UNACKNOWLEDGED.get(outcome)
        account = notification.account if notification is not None else None
        if account is None:
            reply = self.accounts.reply_for(request, outcome.value.replace("_", " "))
        else:
            reply = self.accounts.failure_reply(outcome.value.replace("_", " "), account=account)
        return Handled(outcome, reply, notification, reason)

    def _refusal_callback(self, handled: Handled) -> Callable[[Handled], Any] | None:
        """``on_refused`` when ``handled`` was not acknowledged and there is one."""
        return None if handled.outcome.acknowledged else self._on_refused

    def _may_query(self, order_id: str) -> bool:
        """At most one query per order per `QUERY_INTERVAL` for unverified notifications.

        Anyone can send unsigned notifications; each must not cost the merchant a
        gateway query (its quota, a worker for up to the timeout).
        """
        now = time.monotonic()
        with self._queried_lock:
            last = self._queried.get(order_id)
            if last is not None and now - last < QUERY_INTERVAL:
                return False
            if len(self._queried) >= 10_000:  # bounded: forget the oldest half
                for old in sorted(self._queried, key=self._queried.__getitem__)[:5_000]:
                    del self._queried[old]
            self._queried[order_id] = now
            return True

    def _failure_after_payment(self, order_id: str) -> Outcome:
        # A failed attempt reported after the order was paid (a late or replayed notification):
        # never tell the merchant a paid order failed.
        logger.warning("order %s: a failure notified after its payment was applied: ignored", clip(order_id))
        return Outcome.NOTHING_TO_APPLY

    def _store_failed(self, step: str, order_id: str, exc: Exception) -> Outcome:
        if step == "complete":
            logger.error(
                "order %s was applied but the store failed to record it (%s): a resend after the lease may "
                "apply it again",
                clip(order_id),
                type(exc).__name__,
            )
        else:
            logger.error("the store failed to %s order %s (%s)", step, clip(order_id), type(exc).__name__)
        return Outcome.STORE_FAILED

    def _lookup_failed(self, failed: _LookupFailed) -> Outcome:
        # The merchant's exception text may hold anything: its type only. paycore's own words say what to fix.
        cause = failed.cause
        said = str(cause) if isinstance(cause, _UnusableRecord) else type(cause).__name__
        logger.error(
            "the order lookup for %s failed (%s): not acknowledged, the gateway will resend",
            clip(failed.order_id),
            said,
        )
        return Outcome.LOOKUP_FAILED

    def _find(self, order_id: str) -> tuple[object, OrderRecord] | None:
        try:
            found = self._lookup(order_id)
            return None if found is None else (found, OrderRecord.of(found))
        except Exception as exc:  # noqa: BLE001  # the merchant's code: answered as a retryable failure
            raise _LookupFailed(order_id, exc) from None

    def _account_of(self, record: OrderRecord) -> str | None:
        """The account that may speak for ``record``'s order: its own, or the only one configured."""
        if record.account is not None:
            return record.account
        return self.accounts.names[0] if len(self.accounts) == 1 else None

    def _check(self, facts: Notification | Payment, record: OrderRecord) -> tuple[Outcome, str] | None:
        """Why ``facts`` must not be applied to ``record``, or None when they may."""
        if record.order_id != facts.order_id:
            return Outcome.MISMATCH, f"order {clip(facts.order_id)!r} is not the looked-up order"
        if record.account is None and len(self.accounts) > 1:
            # Any configured account's key verifies a notification posted to its own path: only the
            # account stored with the order proves which one may pay it.
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} {_NO_ACCOUNT}"
        if record.account is not None and record.account != facts.account:
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} belongs to account {record.account!r}"
        if facts.currency != record.currency and (facts.currency is not None or facts.status in _SETTLED):
            # The same number in another currency is another amount, and a gateway that does not say which
            # currency a payment settled in has not said how much was paid (a pending one applies nothing).
            said = facts.currency or "a currency the gateway did not state"
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} is in {record.currency}, not {said}"
        if facts.amount is not None and facts.amount != record.amount:
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} is for {record.amount}, not {facts.amount}"
        if facts.status is PaymentStatus.PAID:
            paid = facts.paid_amount if facts.paid_amount is not None else facts.amount
            if paid is None or paid < record.amount - self._tolerance:
                return Outcome.UNDERPAID, f"order {clip(record.order_id)!r} for {record.amount} was paid {paid}"
        return None

    def _event(self, facts: Notification | Payment, found: object, source: str) -> AppliedPayment:
        return AppliedPayment(
            order_id=facts.order_id,
            account=facts.account,
            provider=facts.provider,
            status=facts.status,
            amount=facts.amount if facts.amount is not None else OrderRecord.of(found).amount,
            paid_amount=facts.paid_amount,
            transaction_id=facts.transaction_id,
            paid_at=facts.paid_at,
            source=source,
            order=found,
        )

    def _callback_for(self, status: PaymentStatus) -> Callable[..., Any] | None:
        if status is PaymentStatus.PAID:
            return self._on_paid
        if status is PaymentStatus.FAILED:
            return self._on_failed
        return None


class NotificationHandler(_Checks[Accounts]):
    """The synchronous handler, on `paycore.Accounts`. See the module's documentation."""

    def handle(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Reply:
        """Process one notification; return the reply to send the gateway."""
        return self.process(request).reply

    def _process(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Handled:
        request = as_notification_request(request)
        notification = None
        try:
            try:
                notification = self._verify(request)
            except PaycoreError as exc:
                if self._query_unverified and isinstance(exc, VerificationError):
                    self._query_instead(request)
                return self._refused(request, Outcome.UNVERIFIED, exc)
            outcome = self._apply(notification, "notification")
        except _LookupFailed as failed:
            outcome = self._lookup_failed(failed)
        return self._answer(request, outcome, notification)

    def process(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Handled:
        """Process one notification; return what happened and the reply."""
        handled = self._process(request)
        callback = self._refusal_callback(handled)
        if callback is not None:
            try:
                _called_synchronously(callback, handled)
            except Exception as exc:  # noqa: BLE001  # the merchant's alerting: the reply stands whatever it does
                logger.error("on_refused raised %s", _failure_text(exc))
        return handled

    def _verify(self, request: NotificationRequest) -> Notification:
        segment = request.path.rstrip("/").rpartition("/")[2]
        if segment in self.accounts:
            return self.accounts.verify_notification(request, account=segment)
        # No account in the path: the one stored with the order verifies.
        order_id = self.accounts.notification_order_id(request)
        found = self._find(order_id) if order_id else None
        if found is None or found[1].account is None:
            raise VerificationError("the notification names no account, and its order stores none")
        return self.accounts.verify_notification(request, account=found[1].account)

    def _query_instead(self, request: NotificationRequest) -> None:
        try:
            order_id = self.accounts.notification_order_id(request)
            found = self._find(order_id) if order_id else None
            if found is None:
                return
            account = self._account_of(found[1])
            if account is None or not self._may_query(found[1].order_id):
                return
            if self.store.applied(_key(found[1].order_id, PaymentStatus.PAID)):
                return  # nothing left to learn
            self.apply_payment(self.accounts[account].query(found[1].order_id))
        except Exception as exc:  # noqa: BLE001  # a best-effort look: the notification is refused either way
            logger.warning("query after an unverified notification failed: %s", type(exc).__name__)

    def apply_payment(self, payment: Payment) -> Outcome:
        """Apply a queried payment through the same checks and the same claim as notifications."""
        if not isinstance(payment, Payment):
            raise InvalidRequest(f"apply_payment() takes a paycore.Payment, not {type(payment).__name__}")
        try:
            return self._apply(payment, "query")
        except _LookupFailed as failed:
            return self._lookup_failed(failed)

    def _apply(self, facts: Notification | Payment, source: str) -> Outcome:
        found = self._find(facts.order_id)
        if found is None:
            logger.warning("notification unknown_order: %s", clip(facts.order_id))
            return Outcome.UNKNOWN_ORDER
        merchant_order, record = found
        problem = self._check(facts, record)
        if problem is not None:
            logger.warning("notification %s: %s", problem[0].value, problem[1])
            return problem[0]
        callback = self._callback_for(facts.status)
        if callback is None:
            return Outcome.NOTHING_TO_APPLY
        event = self._event(facts, merchant_order, source)
        key = _key(facts.order_id, facts.status)
        if self._transactional:
            return self._apply_in_transaction(key, event, callback)
        if facts.status is not PaymentStatus.FAILED:
            return self._run_claimed(key, event, callback)
        # A failure is applied only while no payment of the order is: the paid key is held
        # for the time, so a payment arriving meanwhile waits (busy) and comes after it.
        paid_key = _key(facts.order_id, PaymentStatus.PAID)
        try:
            guard = self.store.claim(paid_key, self._lease)
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", facts.order_id, exc)
        if guard.outcome is Claim.APPLIED:
            return self._failure_after_payment(facts.order_id)
        if guard.outcome is Claim.BUSY or guard.token is None:
            return Outcome.BUSY
        try:
            return self._run_claimed(key, event, callback)
        finally:
            try:
                self.store.release(paid_key, guard.token)
            except Exception as exc:  # noqa: BLE001  # the guard stays until its lease runs out
                self._store_failed("release", facts.order_id, exc)

    def _run_claimed(self, key: str, event: AppliedPayment, callback: Callable[..., Any]) -> Outcome:
        try:
            claim = self.store.claim(key, self._lease)
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", event.order_id, exc)
        if claim.outcome is Claim.APPLIED:
            return Outcome.DUPLICATE
        if claim.outcome is Claim.BUSY or claim.token is None:
            return Outcome.BUSY
        try:
            _called_synchronously(callback, event)
        except Exception as exc:  # noqa: BLE001  # any failure of the merchant's code: release, retry later
            try:
                self.store.release(key, claim.token)
            except Exception as store_exc:  # noqa: BLE001  # the claim stays until its lease runs out
                self._store_failed("release", event.order_id, store_exc)
            logger.warning(
                "on_%s for order %s raised %s: not acknowledged",
                event.status.value,
                clip(event.order_id),
                _failure_text(exc),
            )
            return Outcome.CALLBACK_FAILED
        try:
            completed = self.store.complete(key, claim.token, _record(event))
        except Exception as exc:  # noqa: BLE001  # applied, but not recorded: say so loudly, acknowledge
            self._store_failed("complete", event.order_id, exc)
            return Outcome.APPLIED
        if not completed:
            logger.error(
                "the claim on order %s expired while its callback ran: another delivery may have applied it too; "
                "raise the handler's lease",
                clip(event.order_id),
            )
        return Outcome.APPLIED

    def _apply_in_transaction(self, key: str, event: AppliedPayment, callback: Callable[..., Any]) -> Outcome:
        run_once: Callable[..., Claim] = self.store.run_once  # type: ignore[attr-defined]  # checked at construction
        unless = _key(event.order_id, PaymentStatus.PAID) if event.status is PaymentStatus.FAILED else None
        try:
            found = run_once(
                key,
                _record(event),
                lambda connection: _called_synchronously(callback, event, connection),
                lock=event.order_id,  # one event of an order at a time: a failure never overtakes its payment
                unless_applied=unless,
            )
        except Exception as exc:  # noqa: BLE001  # rolled back with the claim: retry later
            logger.warning(
                "on_%s for order %s raised %s: rolled back",
                event.status.value,
                clip(event.order_id),
                _failure_text(exc),
            )
            return Outcome.CALLBACK_FAILED
        if found is Claim.BUSY:
            return Outcome.BUSY
        return Outcome.DUPLICATE if found is Claim.APPLIED else Outcome.APPLIED

    def reconcile(self, order_ids: Iterable[str]) -> list[ReconcileResult]:
        """Query each order's gateway and apply what is learnt (a lost notification, a create of unknown outcome).

        An order the gateway does not know (`paycore.OrderNotFound`) is reported,
        not applied: its create never reached the gateway, and it is safe to create again.
        """
        results = []
        for order_id in _order_ids(order_ids):
            try:
                found = self._find(order_id)
            except _LookupFailed as failed:
                results.append(ReconcileResult(order_id, None, self._lookup_failed(failed), "the order lookup failed"))
                continue
            if found is None:
                results.append(ReconcileResult(order_id, None, Outcome.UNKNOWN_ORDER))
                continue
            account = self._account_of(found[1])
            if account is None:
                results.append(ReconcileResult(order_id, None, Outcome.MISMATCH, _NO_ACCOUNT))
                continue
            try:
                payment = self.accounts[account].query(order_id)
            except OrderNotFound as exc:
                results.append(ReconcileResult(order_id, None, None, f"not found at the gateway: {exc}"))
                continue
            except PaycoreError as exc:
                results.append(ReconcileResult(order_id, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            results.append(ReconcileResult(order_id, payment.status, self.apply_payment(payment)))
        return results


class AsyncNotificationHandler(_Checks[AsyncAccounts]):
    """The asynchronous handler, on `paycore.AsyncAccounts`: the same steps, awaited.

    Store calls run in a worker thread (stores are synchronous); callbacks may be
    plain functions or coroutine functions.
    """

    async def handle(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Reply:
        """Process one notification; return the reply to send the gateway."""
        return (await self.process(request)).reply

    async def process(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Handled:
        """Process one notification; return what happened and the reply."""
        handled = await self._process(request)
        callback = self._refusal_callback(handled)
        if callback is not None:
            try:
                result = callback(handled)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # noqa: BLE001  # the merchant's alerting: the reply stands whatever it does
                logger.error("on_refused raised %s", type(exc).__name__)
        return handled

    async def _process(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Handled:
        request = as_notification_request(request)
        notification = None
        try:
            try:
                notification = await self._verify(request)
            except PaycoreError as exc:
                if self._query_unverified and isinstance(exc, VerificationError):
                    await self._query_instead(request)
                return self._refused(request, Outcome.UNVERIFIED, exc)
            outcome = await self._apply(notification, "notification")
        except _LookupFailed as failed:
            outcome = self._lookup_failed(failed)
        return self._answer(request, outcome, notification)

    async def _store(self, method: Callable[..., Any], *args: Any) -> Any:
        """A store call: awaited if the store is async, direct if it never blocks, else in a worker thread."""
        if inspect.iscoroutinefunction(method):
            return await method(*args)
        if getattr(self.store, "blocking", True) is False:
            return method(*args)
        return await asyncio.to_thread(method, *args)

    async def _find_async(self, order_id: str) -> tuple[object, OrderRecord] | None:
        try:
            found = self._lookup(order_id)
            if inspect.isawaitable(found):
                found = await found
            return None if found is None else (found, OrderRecord.of(found))
        except Exception as exc:  # noqa: BLE001  # the merchant's code: answered as a retryable failure
            raise _LookupFailed(order_id, exc) from None

    async def _verify(self, request: NotificationRequest) -> Notification:
        segment = request.path.rstrip("/").rpartition("/")[2]
        if segment in self.accounts:
            return self.accounts.verify_notification(request, account=segment)
        order_id = self.accounts.notification_order_id(request)
        found = await self._find_async(order_id) if order_id else None
        if found is None or found[1].account is None:
            raise VerificationError("the notification names no account, and its order stores none")
        return self.accounts.verify_notification(request, account=found[1].account)

    async def _query_instead(self, request: NotificationRequest) -> None:
        try:
            order_id = self.accounts.notification_order_id(request)
            found = await self._find_async(order_id) if order_id else None
            if found is None:
                return
            account = self._account_of(found[1])
            if account is None or not self._may_query(found[1].order_id):
                return
            if await self._store(self.store.applied, _key(found[1].order_id, PaymentStatus.PAID)):
                return  # nothing left to learn
            await self.apply_payment(await self.accounts[account].query(found[1].order_id))
        except Exception as exc:  # noqa: BLE001  # a best-effort look: the notification is refused either way
            logger.warning("query after an unverified notification failed: %s", type(exc).__name__)

    async def apply_payment(self, payment: Payment) -> Outcome:
        """Apply a queried payment through the same checks and the same claim as notifications."""
        if not isinstance(payment, Payment):
            raise InvalidRequest(f"apply_payment() takes a paycore.Payment, not {type(payment).__name__}")
        try:
            return await self._apply(payment, "query")
        except _LookupFailed as failed:
            return self._lookup_failed(failed)

    async def _apply(self, facts: Notification | Payment, source: str) -> Outcome:
        found = await self._find_async(facts.order_id)
        if found is None:
            logger.warning("notification unknown_order: %s", clip(facts.order_id))
            return Outcome.UNKNOWN_ORDER
        merchant_order, record = found
        problem = self._check(facts, record)
        if problem is not None:
            logger.warning("notification %s: %s", problem[0].value, problem[1])
            return problem[0]
        callback = self._callback_for(facts.status)
        if callback is None:
            return Outcome.NOTHING_TO_APPLY
        event = self._event(facts, merchant_order, source)
        key = _key(facts.order_id, facts.status)
        if facts.status is not PaymentStatus.FAILED:
            return await self._run_claimed(key, event, callback)
        # A failure is applied only while no payment of the order is (see NotificationHandler).
        paid_key = _key(facts.order_id, PaymentStatus.PAID)
        try:
            guard = await self._store(self.store.claim, paid_key, self._lease)
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", facts.order_id, exc)
        if guard.outcome is Claim.APPLIED:
            return self._failure_after_payment(facts.order_id)
        if guard.outcome is Claim.BUSY or guard.token is None:
            return Outcome.BUSY
        try:
            return await self._run_claimed(key, event, callback)
        finally:
            try:
                await self._store(self.store.release, paid_key, guard.token)
            except Exception as exc:  # noqa: BLE001  # the guard stays until its lease runs out
                self._store_failed("release", facts.order_id, exc)

    async def _run_claimed(self, key: str, event: AppliedPayment, callback: Callable[..., Any]) -> Outcome:
        try:
            claim = await self._store(self.store.claim, key, self._lease)
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", event.order_id, exc)
        if claim.outcome is Claim.APPLIED:
            return Outcome.DUPLICATE
        if claim.outcome is Claim.BUSY or claim.token is None:
            return Outcome.BUSY
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001  # any failure of the merchant's code: release, retry later
            try:
                await self._store(self.store.release, key, claim.token)
            except Exception as store_exc:  # noqa: BLE001  # the claim stays until its lease runs out
                self._store_failed("release", event.order_id, store_exc)
            logger.warning(
                "on_%s for order %s raised %s: not acknowledged",
                event.status.value,
                clip(event.order_id),
                type(exc).__name__,
            )
            return Outcome.CALLBACK_FAILED
        try:
            # Shielded: a cancelled request must not leave an applied payment unrecorded.
            completed = await asyncio.shield(self._store(self.store.complete, key, claim.token, _record(event)))
        except Exception as exc:  # noqa: BLE001  # applied, but not recorded: say so loudly, acknowledge
            self._store_failed("complete", event.order_id, exc)
            return Outcome.APPLIED
        if not completed:
            logger.error(
                "the claim on order %s expired while its callback ran: another delivery may have applied it too; "
                "raise the handler's lease",
                clip(event.order_id),
            )
        return Outcome.APPLIED

    async def reconcile(self, order_ids: Iterable[str]) -> list[ReconcileResult]:
        """Query each order's gateway and apply what is learnt; see `NotificationHandler.reconcile`."""
        results = []
        for order_id in _order_ids(order_ids):
            try:
                found = await self._find_async(order_id)
            except _LookupFailed as failed:
                results.append(ReconcileResult(order_id, None, self._lookup_failed(failed), "the order lookup failed"))
                continue
            if found is None:
                results.append(ReconcileResult(order_id, None, Outcome.UNKNOWN_ORDER))
                continue
            account = self._account_of(found[1])
            if account is None:
                results.append(ReconcileResult(order_id, None, Outcome.MISMATCH, _NO_ACCOUNT))
                continue
            try:
                payment = await self.accounts[account].query(order_id)
            except OrderNotFound as exc:
                results.append(ReconcileResult(order_id, None, None, f"not found at the gateway: {exc}"))
                continue
            except PaycoreError as exc:
                results.append(ReconcileResult(order_id, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            results.append(ReconcileResult(order_id, payment.status, await self.apply_payment(payment)))
        return results
