"""Sending notifications as the reference software does, and resending them.

The body is concatenated without URL-encoding, in the software's order:
``memberid, orderid, transaction_id, amount[, true_amount], datetime, returncode,
sign, attach``; amounts with 4 decimals; ``datetime`` is the sending time written
``date("YmdHis")``, so each resend carries a new sign; ``attach`` is always
appended, unsigned, empty or not.

A notification counts as received, as on the reference software, when the answer
contains ``ok`` in any case (``strstr(strtolower($body), "ok")``); in strict mode
only an answer of exactly ``OK`` does, as the merchant document says.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from paycore_juhe.sandbox._config import Fault, SandboxConfig
from paycore_juhe.sandbox._reference import md5_sign
from paycore_juhe.sandbox._store import Attempt, SandboxOrder, Store

__all__ = ["Notifier", "acknowledges", "notification_fields"]

_CENT = Decimal("0.01")


def notification_fields(order: SandboxOrder, faults: set[Fault], config: SandboxConfig) -> dict[str, str]:
    """The signed fields of a notification (or browser return) about ``order``, sign included."""
    amount = Decimal(order.amount)
    fields = {
        "memberid": order.merchant_id,
        "orderid": order.order_id,
        "transaction_id": order.transaction_id,
        "amount": f"{amount:.4f}",
    }
    if Fault.TRUE_AMOUNT in faults:
        fields["true_amount"] = f"{max(amount - _CENT, _CENT):.4f}"
    fields["datetime"] = datetime.now(ZoneInfo(config.timezone)).strftime(config.notify_datetime_format)
    fields["returncode"] = "00" if order.status == "paid" else "01"
    key = config.secret_key + "-not-the-key" if Fault.WRONG_SIGN in faults else config.secret_key
    fields["sign"] = md5_sign(fields, key)
    return fields


def notification_body(order: SandboxOrder, faults: set[Fault], config: SandboxConfig) -> str:
    body = "&".join(f"{name}={value}" for name, value in notification_fields(order, faults, config).items())
    # unsigned, unencoded, last, and there even when empty: as the software does
    return f"{body}&attach={order.attach or ''}"


def acknowledges(answer: str | None, *, strict: bool) -> bool:
    """Whether the merchant's answer stops the resends."""
    if answer is None:
        return False
    if strict:
        return answer == "OK"  # the document: exactly OK; "ok" or "OK\n" is not an answer
    return "ok" in answer.lower()  # the software: strstr(strtolower($body), "ok")


class Notifier:
    """Delivers notifications on the server's event loop, recording every attempt."""

    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self._store = store
        self._config = config
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[asyncio.Task[None], str] = {}

    def notify(self, order_id: str, faults: set[Fault]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(order_id, faults))
        self._tasks[task] = order_id
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def wait(self, order_id: str, timeout: float) -> bool:
        """Wait until every delivery for ``order_id`` is over (acknowledged or out of tries)."""
        pending = [task for task, owner in self._tasks.items() if owner == order_id]
        if not pending:
            return True
        _, still_running = await asyncio.wait(pending, timeout=timeout)
        return not still_running

    async def _send(self, order: SandboxOrder, faults: set[Fault], attempt: int) -> bool:
        if self._client is None:
            # trust_env=False: the merchant's endpoint is reached directly, never through a proxy from the environment.
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False)
        body = notification_body(order, faults, self._config)
        status_code = response_text = error = None
        try:
            response = await self._client.post(
                order.notify_url, content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
            )
            status_code, response_text = response.status_code, response.text[:200]
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = type(exc).__name__
        acknowledged = acknowledges(response_text, strict=self._config.strict)
        self._store.record(
            Attempt(
                order_id=order.order_id,
                attempt=attempt,
                sent_at=datetime.now(ZoneInfo(self._config.timezone)).isoformat(),
                body=body,
                status_code=status_code,
                response=response_text,
                error=error,
                acknowledged=acknowledged,
            )
        )
        return acknowledged

    async def _deliver(self, order_id: str, faults: set[Fault]) -> None:
        order = self._store.order(order_id)
        if order is None:
            return
        profile = self._config.resend
        for attempt in range(1, profile.tries + 1):
            if await self._send(order, faults, attempt):
                if Fault.DUPLICATE in faults:
                    await self._send(order, faults, attempt + 1)  # the software may resend after an OK
                return
            if attempt < profile.tries:
                await asyncio.sleep(profile.interval)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
