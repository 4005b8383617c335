"""The notification handler's steps, written once as sans-I/O flows.

Verify, route to the account, look the order up, check, claim, call back,
complete, reply; apply a queried payment; reconcile. Each is a generator that
decides everything and yields a `Step` for each piece of I/O it needs: the
merchant's lookup, a store call, a merchant callback, a gateway query. The
outcome is sent back in (or the exception thrown in, where the flow handles it
as before). `paycore.NotificationHandler` performs the steps directly,
`paycore.AsyncNotificationHandler` awaits them; neither decides anything.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from paycore._accounts import Accounts, AsyncAccounts
from paycore._handler_records import (
    DEFAULT_STORE_PATH,
    NO_ACCOUNT,
    QUERY_INTERVAL,
    SETTLED,
    UNACKNOWLEDGED,
    AppliedPayment,
    Handled,
    LookupFailed,
    OrderRecord,
    Outcome,
    ReconcileResult,
    UnusableRecord,
    applied_key,
    event_record,
    order_ids_of,
)
from paycore._text import clip
from paycore.errors import ConfigError, InvalidRequest, OrderNotFound, PaycoreError, VerificationError
from paycore.http import NotificationRequest, as_notification_request
from paycore.models import Notification, Payment, PaymentStatus
from paycore.stores import DEFAULT_LEASE, Claim, NotificationStore
from paycore.stores.sqlite import SQLiteStore

__all__ = ["Ask", "Flow", "HandlerCore", "Step", "called_synchronously", "failure_text"]

logger = logging.getLogger("paycore.handler")

AccountsT = TypeVar("AccountsT", Accounts, AsyncAccounts)
_T = TypeVar("_T")


class Ask(enum.Enum):
    """What kind of I/O a step is: it says how a driver performs it."""

    LOOKUP = "lookup"  # the merchant's order lookup
    STORE = "store"  # a call of the notification store
    STORE_TO_THE_END = "store_to_the_end"  # a store call a cancelled request must not interrupt
    CALLBACK = "callback"  # the merchant's on_paid, on_failed or on_refused
    GATEWAY = "gateway"  # a gateway query


@dataclass(frozen=True, slots=True)
class Step:
    """One piece of I/O a flow needs: call ``function(*args)`` and send its result back in."""

    ask: Ask
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


#: A handler flow: it yields steps, receives their results, returns its decision.
Flow = Generator[Step, Any, _T]


class _AwaitableResult(TypeError):
    """A synchronous handler's callback returned an awaitable: nothing was done, nothing may be recorded."""


def called_synchronously(callback: Callable[..., Any], *args: Any) -> Any:
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
    return result


def failure_text(exc: BaseException) -> str:
    """How a merchant callback's failure is logged."""
    # The merchant's exception text may hold anything (a customer's data, a password): only its type is
    # logged; paycore's own message about an awaitable says what to fix.
    return str(exc) if isinstance(exc, _AwaitableResult) else type(exc).__name__


class HandlerCore(Generic[AccountsT]):
    """The decisions and flows both handlers share; no I/O here."""

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

    # -- the flows -------------------------------------------------------------------------------

    def _process_flow(self, received: object) -> Flow[Handled]:
        """One notification: decided, answered, and ``on_refused`` told when it was not acknowledged."""
        handled = yield from self._decide(as_notification_request(received))
        if not handled.outcome.acknowledged and self._on_refused is not None:
            try:
                yield Step(Ask.CALLBACK, self._on_refused, (handled,))
            except Exception as exc:  # noqa: BLE001  # the merchant's alerting: the reply stands whatever it does
                logger.error("on_refused raised %s", failure_text(exc))
        return handled

    def _decide(self, request: NotificationRequest) -> Flow[Handled]:
        notification = None
        try:
            try:
                notification = yield from self._verified(request)
            except PaycoreError as exc:
                if self._query_unverified and isinstance(exc, VerificationError):
                    yield from self._query_instead(request)
                return self._refused(request, Outcome.UNVERIFIED, exc)
            outcome = yield from self._apply(notification, "notification")
        except LookupFailed as failed:
            outcome = self._lookup_failed(failed)
        return self._answer(request, outcome, notification)

    def _verified(self, request: NotificationRequest) -> Flow[Notification]:
        segment = request.path.rstrip("/").rpartition("/")[2]
        if segment in self.accounts:
            return self.accounts.verify_notification(request, account=segment)
        # No account in the path: the one stored with the order verifies.
        order_id = self.accounts.notification_order_id(request)
        found = (yield from self._find(order_id)) if order_id else None
        if found is None or found[1].account is None:
            raise VerificationError("the notification names no account, and its order stores none")
        return self.accounts.verify_notification(request, account=found[1].account)

    def _query_instead(self, request: NotificationRequest) -> Flow[None]:
        try:
            order_id = self.accounts.notification_order_id(request)
            found = (yield from self._find(order_id)) if order_id else None
            if found is None:
                return
            account = self._account_of(found[1])
            if account is None or not self._may_query(found[1].order_id):
                return
            if (yield Step(Ask.STORE, self.store.applied, (applied_key(found[1].order_id, PaymentStatus.PAID),))):
                return  # nothing left to learn
            payment = yield Step(Ask.GATEWAY, self.accounts[account].query, (found[1].order_id,))
            yield from self._apply_payment_flow(payment)
        except Exception as exc:  # noqa: BLE001  # a best-effort look: the notification is refused either way
            logger.warning("query after an unverified notification failed: %s", type(exc).__name__)

    def _apply_payment_flow(self, payment: Payment) -> Flow[Outcome]:
        """A queried payment, through the same checks and the same claim as notifications."""
        if not isinstance(payment, Payment):
            raise InvalidRequest(f"apply_payment() takes a paycore.Payment, not {type(payment).__name__}")
        try:
            return (yield from self._apply(payment, "query"))
        except LookupFailed as failed:
            return self._lookup_failed(failed)

    def _apply(self, facts: Notification | Payment, source: str) -> Flow[Outcome]:
        found = yield from self._find(facts.order_id)
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
        key = applied_key(facts.order_id, facts.status)
        if self._transactional:
            return (yield from self._apply_in_transaction(key, event, callback))
        if facts.status is not PaymentStatus.FAILED:
            return (yield from self._run_claimed(key, event, callback))
        # A failure is applied only while no payment of the order is: the paid key is held
        # for the time, so a payment arriving meanwhile waits (busy) and comes after it.
        paid_key = applied_key(facts.order_id, PaymentStatus.PAID)
        try:
            guard = yield Step(Ask.STORE, self.store.claim, (paid_key, self._lease))
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", facts.order_id, exc)
        if guard.outcome is Claim.APPLIED:
            return self._failure_after_payment(facts.order_id)
        if guard.outcome is Claim.BUSY or guard.token is None:
            return Outcome.BUSY
        try:
            return (yield from self._run_claimed(key, event, callback))
        finally:
            try:
                yield Step(Ask.STORE, self.store.release, (paid_key, guard.token))
            except Exception as exc:  # noqa: BLE001  # the guard stays until its lease runs out
                self._store_failed("release", facts.order_id, exc)

    def _run_claimed(self, key: str, event: AppliedPayment, callback: Callable[..., Any]) -> Flow[Outcome]:
        try:
            claim = yield Step(Ask.STORE, self.store.claim, (key, self._lease))
        except Exception as exc:  # noqa: BLE001  # a store that is down: nothing applied, the gateway resends
            return self._store_failed("claim", event.order_id, exc)
        if claim.outcome is Claim.APPLIED:
            return Outcome.DUPLICATE
        if claim.outcome is Claim.BUSY or claim.token is None:
            return Outcome.BUSY
        try:
            yield Step(Ask.CALLBACK, callback, (event,))
        except Exception as exc:  # noqa: BLE001  # any failure of the merchant's code: release, retry later
            try:
                yield Step(Ask.STORE, self.store.release, (key, claim.token))
            except Exception as store_exc:  # noqa: BLE001  # the claim stays until its lease runs out
                self._store_failed("release", event.order_id, store_exc)
            logger.warning(
                "on_%s for order %s raised %s: not acknowledged",
                event.status.value,
                clip(event.order_id),
                failure_text(exc),
            )
            return Outcome.CALLBACK_FAILED
        try:
            # To the end: a cancelled request must not leave an applied payment unrecorded.
            completed = yield Step(Ask.STORE_TO_THE_END, self.store.complete, (key, claim.token, event_record(event)))
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

    def _apply_in_transaction(self, key: str, event: AppliedPayment, callback: Callable[..., Any]) -> Flow[Outcome]:
        run_once: Callable[..., Claim] = self.store.run_once  # type: ignore[attr-defined]  # checked at construction
        unless = applied_key(event.order_id, PaymentStatus.PAID) if event.status is PaymentStatus.FAILED else None
        transaction = functools.partial(
            run_once,
            key,
            event_record(event),
            lambda connection: called_synchronously(callback, event, connection),
            lock=event.order_id,  # one event of an order at a time: a failure never overtakes its payment
            unless_applied=unless,
        )
        try:
            found = yield Step(Ask.STORE, transaction)
        except Exception as exc:  # noqa: BLE001  # rolled back with the claim: retry later
            logger.warning(
                "on_%s for order %s raised %s: rolled back",
                event.status.value,
                clip(event.order_id),
                failure_text(exc),
            )
            return Outcome.CALLBACK_FAILED
        if found is Claim.BUSY:
            return Outcome.BUSY
        return Outcome.DUPLICATE if found is Claim.APPLIED else Outcome.APPLIED

    def _reconcile_flow(self, order_ids: Iterable[str]) -> Flow[list[ReconcileResult]]:
        results = []
        for order_id in order_ids_of(order_ids):
            try:
                found = yield from self._find(order_id)
            except LookupFailed as failed:
                results.append(ReconcileResult(order_id, None, self._lookup_failed(failed), "the order lookup failed"))
                continue
            if found is None:
                results.append(ReconcileResult(order_id, None, Outcome.UNKNOWN_ORDER))
                continue
            account = self._account_of(found[1])
            if account is None:
                results.append(ReconcileResult(order_id, None, Outcome.MISMATCH, NO_ACCOUNT))
                continue
            try:
                payment = yield Step(Ask.GATEWAY, self.accounts[account].query, (order_id,))
            except OrderNotFound as exc:
                results.append(ReconcileResult(order_id, None, None, f"not found at the gateway: {exc}"))
                continue
            except PaycoreError as exc:
                results.append(ReconcileResult(order_id, None, None, f"{type(exc).__name__}: {exc}"))
                continue
            outcome = yield from self._apply_payment_flow(payment)
            results.append(ReconcileResult(order_id, payment.status, outcome))
        return results

    def _find(self, order_id: str) -> Flow[tuple[object, OrderRecord] | None]:
        try:
            found = yield Step(Ask.LOOKUP, self._lookup, (order_id,))
            return None if found is None else (found, OrderRecord.of(found))
        except Exception as exc:  # noqa: BLE001  # the merchant's code: answered as a retryable failure
            raise LookupFailed(order_id, exc) from None

    # -- the decisions ---------------------------------------------------------------------------

    def _refused(self, request: NotificationRequest, outcome: Outcome, reason: object) -> Handled:
        said = clip(str(reason), 300)
        logger.warning("notification %s: %s", outcome.value, said)
        reply = self.accounts.reply_for(request, reason if isinstance(reason, Exception) else None)
        return Handled(outcome, reply, reason=said)

    def _answer(self, request: NotificationRequest, outcome: Outcome, notification: Notification | None) -> Handled:
        if outcome.acknowledged and notification is not None:
            return Handled(outcome, notification.ack, notification)
        reason = UNACKNOWLEDGED.get(outcome)
        account = notification.account if notification is not None else None
        if account is None:
            reply = self.accounts.reply_for(request, outcome.value.replace("_", " "))
        else:
            reply = self.accounts.failure_reply(outcome.value.replace("_", " "), account=account)
        return Handled(outcome, reply, notification, reason)

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

    def _lookup_failed(self, failed: LookupFailed) -> Outcome:
        # The merchant's exception text may hold anything: its type only. paycore's own words say what to fix.
        cause = failed.cause
        said = str(cause) if isinstance(cause, UnusableRecord) else type(cause).__name__
        logger.error(
            "the order lookup for %s failed (%s): not acknowledged, the gateway will resend",
            clip(failed.order_id),
            said,
        )
        return Outcome.LOOKUP_FAILED

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
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} {NO_ACCOUNT}"
        if record.account is not None and record.account != facts.account:
            return Outcome.MISMATCH, f"order {clip(record.order_id)!r} belongs to account {record.account!r}"
        if facts.currency != record.currency and (facts.currency is not None or facts.status in SETTLED):
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
