"""The hooks a payment provider implements: the contract for provider authors.

A provider is a class (see `paycore.Provider`) whose methods carry the
``@paycore.hookimpl`` marker and are named after the hooks below. paycore checks
them against these specs when the provider is loaded: a misspelt hook or
argument fails then, not at the first payment.

``create_payment``, ``query_payment`` and ``close_payment`` are *flows*:
generators that yield `httpx.Request` objects and receive the
`httpx.Response` for each, then ``return`` the result. A provider never
performs I/O itself, so one implementation serves `paycore.Gateway` and
`paycore.AsyncGateway` alike, and a test can drive a flow by hand::

    flow = provider.query_payment(order_id="A1")
    request = next(flow)
    try:
        flow.send(httpx.Response(200, json={...}, request=request))
    except StopIteration as done:
        payment = done.value

A flow that needs no I/O (a signed browser form) returns without yielding.
Refuse bad input before the first ``yield`` with `paycore.InvalidRequest`.
Raise paycore errors only: `paycore.GatewayError` when the gateway says
no, `paycore.ProtocolError` when its answer cannot be understood,
`paycore.SignatureError` when its answer is badly signed. Anything else
escaping a hook is reported to the caller as `paycore.ProviderError`.

``verify_notification`` and the other hooks that read what the gateway or the
buyer's browser sent get a `paycore.NotificationRequest`: method, path, query
string, headers and body as received, so a protocol that notifies by GET, or
signs over headers and a JSON body, fits as well as a POSTed form.

Required hooks: ``create_payment``, ``query_payment``, ``verify_notification``.
Optional: ``close_payment``, ``failure_reply``, ``parse_return``,
``notification_order_id``, ``explain_signature``, ``refund_payment``,
``query_refund``, and ``make_sandbox`` (a classmethod); asking a
provider for an operation it lacks raises `paycore.NotSupported` before any
I/O (``failure_reply`` has a default instead).
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import TypeAlias, TypeVar

import httpx
import pluggy

from paycore._sandbox_protocol import Sandbox, SandboxOptions
from paycore.http import NotificationRequest, Reply
from paycore.models import BrowserReturn, CreateFlow, Notification, Order, Payment, Refund
from paycore.signatures import SignatureExplanation

__all__ = [
    "PROJECT_NAME",
    "REQUIRED_HOOKS",
    "Flow",
    "ProviderSpec",
    "hookimpl",
    "hookspec",
]

_T = TypeVar("_T")

PROJECT_NAME = "paycore"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: A sans-I/O flow: yields requests, receives responses, returns a result.
Flow: TypeAlias = Generator[httpx.Request, httpx.Response, _T]

REQUIRED_HOOKS = ("create_payment", "query_payment", "verify_notification")


class ProviderSpec:
    """Hook specifications; every hook returns one value (``firstresult``)."""

    @hookspec(firstresult=True)
    def create_payment(self, order: Order, flow: CreateFlow) -> Flow[Payment]:  # type: ignore[empty-body]  # a spec has no body
        """Create a payment for ``order`` through ``flow``; return a pending Payment.

        ``flow`` is always one the provider declared in its capabilities. Set
        ``next_action`` to what the buyer must do: a `paycore.Redirect` (or
        ``pay_url``), a signed `paycore.PaymentForm` (or ``form``; the usual
        answer to ``CreateFlow.FORM``), a `paycore.QrCode`, a `paycore.AppLink`
        or `paycore.SdkParameters`.
        Refuse an order the gateway would refuse (unknown channel, order id too
        long, a value the gateway mangles) with InvalidRequest before yielding.
        """

    @hookspec(firstresult=True)
    def query_payment(self, order_id: str) -> Flow[Payment]:  # type: ignore[empty-body]  # a spec has no body
        """Ask the gateway where the payment of ``order_id`` stands; return it."""

    @hookspec(firstresult=True)
    def verify_notification(self, request: NotificationRequest) -> Notification:  # type: ignore[empty-body]  # a spec has no body
        """Verify a notification exactly as received; return it or raise.

        ``request`` holds the method, path, raw query string, headers and raw body
        (or ``request.form`` when the application passed fields it had parsed).
        Read what your protocol signs: `NotificationRequest.form_fields`,
        `NotificationRequest.query_fields`, ``request.header(...)`` and
        ``request.body``. Pure: no I/O. Raise a VerificationError subclass for
        anything that cannot be trusted, and never return a half-parsed
        Notification. Set ``ack`` to the `paycore.Reply` your gateway wants
        for "received".
        """

    @hookspec(firstresult=True)
    def failure_reply(self, reason: str) -> Reply:  # type: ignore[empty-body]  # a spec has no body
        """The answer that tells the gateway a notification was *not* accepted (it resends).

        ``reason`` is a short phrase from paycore (``"bad signature"``, ...) for
        protocols that carry one (a JSON ``message``). The body must not contain
        the letters "ok" in any case: some gateways count any answer holding them
        as received. Without this hook: HTTP 400, ``text/plain``, ``fail``.
        """

    @hookspec(firstresult=True)
    def parse_return(self, request: NotificationRequest) -> BrowserReturn:  # type: ignore[empty-body]  # a spec has no body
        """Read the buyer's browser return (to ``return_url``) for display.

        Verify its signature when the protocol signs it and set
        ``signature_checked``; a present but wrong signature is SignatureError.
        Pure: no I/O.
        """

    @hookspec(firstresult=True)
    def notification_order_id(self, request: NotificationRequest) -> str | None:
        """The order id a notification *claims*, before any verification, or None.

        Only for routing: it lets an application that stored each order's
        account find the account (and so the key) that must verify the
        notification. Never trusted otherwise. Pure, cheap, and no raising for
        bodies of another protocol: return None.
        """

    @hookspec(firstresult=True)
    def explain_signature(self, request: NotificationRequest) -> SignatureExplanation:  # type: ignore[empty-body]  # a spec has no body
        """Explain the signature of a received message, for ``paycore sign explain``; never verify with it.

        For each signing rule ``verify_notification`` would try: the exact text
        signed (the key written as `paycore.signatures.KEY_PLACEHOLDER`), the
        fields left out, the signature it gives, and whether the received one
        equals it (constant time). Pure; raise MalformedNotification only for a
        message that cannot be read at all.
        """

    @hookspec(firstresult=True)
    def close_payment(self, order_id: str) -> Flow[Payment]:  # type: ignore[empty-body]  # a spec has no body
        """Close the unpaid payment of ``order_id`` so it can no longer be paid."""

    @hookspec(firstresult=True)
    def refund_payment(  # type: ignore[empty-body]  # a spec has no body
        self, order_id: str, refund_id: str, amount: Decimal, reason: str | None, order_amount: Decimal | None
    ) -> Flow[Refund]:
        """Refund ``amount`` of the paid order ``order_id``, as the merchant's refund ``refund_id``.

        Send ``refund_id`` as the gateway's idempotency key (Alipay's
        ``out_request_no``, WeChat Pay's ``out_refund_no``): the merchant asks again
        with the same id after any failure, and the gateway must refund once. A
        gateway that answers "already refunded" for the same id is a success, not an
        error. ``amount`` is a positive Decimal the core has checked.

        ``order_amount`` is the order's total as the merchant gave it
        (``Gateway.refund(..., order_amount=...)``; the core has checked that it is a
        positive Decimal of at least ``amount``), or None. Declare the parameter only
        if the gateway wants the total with each refund (WeChat Pay's
        ``amount.total``): such a provider refuses None with `paycore.InvalidRequest`
        before its first ``yield``, rather than query the order first. An
        implementation without the parameter is called without it.
        """

    @hookspec(firstresult=True)
    def query_refund(self, order_id: str, refund_id: str) -> Flow[Refund]:  # type: ignore[empty-body]  # a spec has no body
        """Ask the gateway where the refund ``refund_id`` of ``order_id`` stands."""

    @hookspec(firstresult=True)
    def make_sandbox(self, options: SandboxOptions) -> Sandbox:  # type: ignore[empty-body]  # a spec has no body
        """Build, without starting, a local gateway that speaks this provider's protocol.

        Implement it as a ``classmethod``: a sandbox belongs to no account. Use
        ``options.merchant_id`` / ``options.secret_key`` when given, else the
        provider's sandbox defaults (a public test key, see
        `paycore.sandbox.PUBLIC_SANDBOX_KEY`).
        """
