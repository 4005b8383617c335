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
import inspect
from collections.abc import Iterable, Mapping
from typing import TypeVar

from paycore._accounts import Accounts, AsyncAccounts
from paycore._flows import FlowRun
from paycore._handler_flow import Ask, Flow, HandlerCore, Step, called_synchronously
from paycore._handler_records import (
    DEFAULT_STORE_PATH,
    QUERY_INTERVAL,
    AppliedPayment,
    Handled,
    OrderRecord,
    Outcome,
    ReconcileResult,
)
from paycore.http import NotificationRequest, Reply
from paycore.models import Payment

# Defined in private rooms; named after this public one, so that pickles and reprs stay as they were.
for _moved in (AppliedPayment, Handled, OrderRecord, Outcome, ReconcileResult):
    _moved.__module__ = __name__

__all__ = [
    "DEFAULT_STORE_PATH",
    "QUERY_INTERVAL",
    "AppliedPayment",
    "AsyncNotificationHandler",
    "Handled",
    "NotificationHandler",
    "OrderRecord",
    "Outcome",
    "ReconcileResult",
]

_T = TypeVar("_T")
_Received = NotificationRequest | bytes | str | Mapping[str, str]


class NotificationHandler(HandlerCore[Accounts]):
    """The synchronous handler, on `paycore.Accounts`. See the module's documentation."""

    def handle(self, request: _Received) -> Reply:
        """Process one notification; return the reply to send the gateway."""
        return self.process(request).reply

    def process(self, request: _Received) -> Handled:
        """Process one notification; return what happened and the reply."""
        return self._run(self._process_flow(request))

    def apply_payment(self, payment: Payment) -> Outcome:
        """Apply a queried payment through the same checks and the same claim as notifications."""
        return self._run(self._apply_payment_flow(payment))

    def reconcile(self, order_ids: Iterable[str]) -> list[ReconcileResult]:
        """Query each order's gateway and apply what is learnt (a lost notification, a create of unknown outcome).

        An order the gateway does not know (`paycore.OrderNotFound`) is reported,
        not applied: its create never reached the gateway, and it is safe to create again.
        """
        return self._run(self._reconcile_flow(order_ids))

    def _run(self, flow: Flow[_T]) -> _T:
        return FlowRun(flow).drive(self._perform)

    def _perform(self, step: Step, run: FlowRun[Step, _T]) -> None:
        try:
            if step.ask is Ask.CALLBACK:
                run.reply(called_synchronously(step.function, *step.args))
            else:
                run.reply(step.function(*step.args))
        except BaseException as exc:  # noqa: BLE001  # the flow decides: it handles it, or raises it on
            run.fail(exc)


class AsyncNotificationHandler(HandlerCore[AsyncAccounts]):
    """The asynchronous handler, on `paycore.AsyncAccounts`: the same steps, awaited.

    Store calls run in a worker thread (stores are synchronous); callbacks may be
    plain functions or coroutine functions.
    """

    async def handle(self, request: _Received) -> Reply:
        """Process one notification; return the reply to send the gateway."""
        return (await self.process(request)).reply

    async def process(self, request: _Received) -> Handled:
        """Process one notification; return what happened and the reply."""
        return await self._run(self._process_flow(request))

    async def apply_payment(self, payment: Payment) -> Outcome:
        """Apply a queried payment through the same checks and the same claim as notifications."""
        return await self._run(self._apply_payment_flow(payment))

    async def reconcile(self, order_ids: Iterable[str]) -> list[ReconcileResult]:
        """Query each order's gateway and apply what is learnt; see `NotificationHandler.reconcile`."""
        return await self._run(self._reconcile_flow(order_ids))

    async def _run(self, flow: Flow[_T]) -> _T:
        run = FlowRun(flow)
        for step in run:
            await self._perform(step, run)
        return run.result

    async def _perform(self, step: Step, run: FlowRun[Step, _T]) -> None:
        try:
            store_call = step.ask in (Ask.STORE, Ask.STORE_TO_THE_END)
            if store_call and self._blocks(step.function):
                result = asyncio.to_thread(step.function, *step.args)
            else:
                result = step.function(*step.args)
            if inspect.isawaitable(result):
                # Shielded: a cancelled request must not leave an applied payment unrecorded.
                result = await (asyncio.shield(result) if step.ask is Ask.STORE_TO_THE_END else result)
            run.reply(result)
        except BaseException as exc:  # noqa: BLE001  # the flow decides: it handles it, or raises it on
            run.fail(exc)

    def _blocks(self, method: object) -> bool:
        """Whether a store method must run in a worker thread: not a coroutine, on a store that may block."""
        return not inspect.iscoroutinefunction(method) and getattr(self.store, "blocking", True) is not False
