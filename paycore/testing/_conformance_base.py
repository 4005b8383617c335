"""The conformance suite's ground: the world a provider is tested in (gateway, endpoint, sandbox) and test orders."""

from __future__ import annotations

import contextlib
import queue
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
import pydantic
import pytest
from pydantic.fields import FieldInfo

from paycore import web
from paycore._demo import demo_channel, order_fields_for
from paycore._gateway import Gateway
from paycore._plugins import _named_provider_class
from paycore.errors import PaycoreError
from paycore.http import NotificationRequest
from paycore.models import Channel, Order
from paycore.provider import Operation, Provider
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing._either import GatewayUnderTest
from paycore.testing._server import LoopbackServer

__all__ = ["ConformanceBase", "ConformanceWorld"]

_WAIT_FOR_NOTIFICATION = 15.0
_OTHER_MERCHANT = "2000000000000002"  # digits, 16 of them: a merchant id or app id every platform takes


@dataclass
class ConformanceWorld:
    """What the suite needs to reach a gateway: settings, an optional mock transport, a way to pay.

    ``pay(order)`` settles an order that was created through these settings and
    returns the notification the merchant received about it, exactly as received.
    ``transport`` is None when the settings point at a real (loopback) server.
    """

    settings: dict[str, Any]
    pay: Callable[[Order], NotificationRequest]
    transport: httpx.MockTransport | None = None
    #: the hosts a gateway of these settings may contact; anything else is a leak to the network
    hosts: frozenset[str] = field(default_factory=frozenset)
    #: *another* merchant's account signing with the same key: the account under test must refuse
    #: its notifications (None skips the check)
    other_merchant: ConformanceWorld | None = None


class _Endpoint:
    """A merchant's notification endpoint on a loopback socket: keeps every request, answers like a merchant."""

    def __init__(self, verifier: Gateway) -> None:
        self.verifier = verifier
        self.received: queue.Queue[NotificationRequest] = queue.Queue()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            received = web.from_httpx(request)
        except PaycoreError:
            return httpx.Response(400, text="unreadable")
        self.received.put(received)
        try:
            reply = self.verifier.verify_notification(received).ack
        except PaycoreError as exc:
            reply = self.verifier.failure_reply(exc)
        return web.to_httpx(reply)

    def wait_for(self, order_id: str) -> NotificationRequest:
        passed_over = 0
        while True:
            try:
                received = self.received.get(timeout=_WAIT_FOR_NOTIFICATION)
            except queue.Empty:
                raise AssertionError(
                    f"no notification about order {order_id!r} reached the merchant within "
                    f"{_WAIT_FOR_NOTIFICATION:.0f} s of the sandbox's pay(): does the sandbox notify notify_url?"
                    + (
                        f" ({passed_over} did arrive, naming no order this suite could read: an encrypted one "
                        "needs the provider's notification_order_id hook)"
                        if passed_over
                        else ""
                    )
                ) from None
            if self._names(received, order_id):
                return received
            passed_over += 1

    def _names(self, received: NotificationRequest, order_id: str) -> bool:
        """Whether ``received`` is about ``order_id``: in clear text, as it claims (encrypted ones), or verified."""
        if order_id in received.body.decode("utf-8", "replace") + received.query:
            return True
        with contextlib.suppress(PaycoreError):  # NotSupported included: a provider that cannot tell
            if self.verifier.notification_order_id(received) == order_id:
                return True
        with contextlib.suppress(PaycoreError):
            return self.verifier.verify_notification(received).order_id == order_id
        return False


def _is_secret(field_info: FieldInfo | None) -> bool:
    annotation = None if field_info is None else field_info.annotation
    return annotation is not None and pydantic.SecretStr in (annotation, *typing.get_args(annotation))


class ConformanceBase:
    """What every part of the conformance suite stands on: the provider, its world, test orders."""

    #: the provider under test: its entry-point name or its class
    provider: ClassVar[str | type[Provider[Any]]]
    #: notification fields the protocol does not sign (juhe's ``attach``): changing them may not be refused,
    #: but must change nothing that is trusted (order id, status, amounts, transaction)
    unsigned_notification_fields: ClassVar[frozenset[str]] = frozenset()
    #: headers the protocol signs or checks (WeChat Pay's Wechatpay-Signature, -Timestamp, -Nonce, -Serial): each
    #: is changed, dropped and given twice on a genuine notification, and every such notification must be refused
    signed_notification_headers: ClassVar[frozenset[str]] = frozenset()
    #: seconds after which the protocol refuses a notification as a replay (a signed timestamp, as WeChat Pay's
    #: five minutes): the suite verifies a genuine notification with ``time.time`` moved past it, and it must be
    #: refused. None: the protocol signs no time (the check is skipped)
    notification_max_age: ClassVar[float | None] = None
    #: the amount of every test order
    amount: ClassVar[Decimal] = Decimal("9.90")
    #: options of the sandbox the suite starts, beside the fast profile (``{"certificates": True}`` runs the
    #: suite against a sandbox that signs with certificates, where the protocol has both)
    sandbox_options: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    # -- how to reach a gateway (override for a provider without a sandbox) ----------------------------

    @contextlib.contextmanager
    def world(self) -> Iterator[ConformanceWorld]:
        """The provider's sandbox on a free port, and a notification endpoint on another."""
        provider_class = self._provider_class()
        if Operation.SANDBOX not in provider_class.operations():
            raise AssertionError(
                f"{provider_class.__name__} has no make_sandbox hook: override world() in "
                f"{type(self).__name__} to give settings, an httpx.MockTransport and a way to pay"
            )
        with contextlib.ExitStack() as stack:
            sandbox = stack.enter_context(
                make_sandbox(self.provider, SandboxOptions(profile="fast", **self.sandbox_options))
            )
            settings = dict(sandbox.account_settings())
            verifier = stack.enter_context(Gateway(self.provider, settings, account="conformance"))
            endpoint = _Endpoint(verifier)
            merchant = stack.enter_context(LoopbackServer(endpoint))
            self._notify_base = merchant.url

            def pay(order: Order) -> NotificationRequest:
                sandbox.pay(order.order_id)
                return endpoint.wait_for(order.order_id)

            # A second platform account: another merchant id, with the same keys where the sandbox takes them
            # (keys do get reused), so that only the merchant check can refuse its notifications.
            key = settings.get("secret_key")
            options = SandboxOptions(
                profile="fast",
                merchant_id=_OTHER_MERCHANT,
                secret_key=key if isinstance(key, str) else None,
                credentials=self._secret_settings(settings, getattr(sandbox, "credential_names", frozenset())),
                **self.sandbox_options,
            )
            other = stack.enter_context(make_sandbox(self.provider, options))

            def pay_other(order: Order) -> NotificationRequest:
                other.pay(order.order_id)
                return endpoint.wait_for(order.order_id)

            other_merchant = ConformanceWorld(settings=dict(other.account_settings()), pay=pay_other)
            yield ConformanceWorld(
                settings=settings, pay=pay, hosts=frozenset({"127.0.0.1", "localhost"}), other_merchant=other_merchant
            )

    # -- helpers ------------------------------------------------------------------------------------------

    _notify_base = "https://shop.example"

    def _provider_class(self) -> type[Provider[Any]]:
        return _named_provider_class(self.provider)[1]

    def _secret_settings(self, settings: Mapping[str, Any], taken: frozenset[str]) -> dict[str, str]:
        """The account's secret settings (``SecretStr`` fields, but ``secret_key``) that a sandbox takes."""
        fields = self._provider_class().settings_model.model_fields
        return {
            name: value
            for name, value in settings.items()
            if name in taken and name != "secret_key" and isinstance(value, str) and _is_secret(fields.get(name))
        }

    def _channel(self) -> Channel:
        return demo_channel(self._provider_class().channels)

    def order(self, channel: Channel | None = None, **fields: Any) -> Order:
        """A valid order for this provider: its required fields filled, notify_url on the suite's endpoint."""
        chosen = channel or self._channel()
        values: dict[str, Any] = {
            "amount": self.amount,
            "channel": chosen,
            "subject": "conformance",
            "notify_url": f"{self._notify_base}/notify/conformance",
            "return_url": f"{self._notify_base}/return",
            "attach": "conformance",  # a non-empty field more, to fold into its neighbours
            **order_fields_for(self._provider_class(), chosen),
        }
        values.update(fields)
        return Order(**values)

    def _under_test(self, kind: str, world: ConformanceWorld, **options: Any) -> GatewayUnderTest:
        transport = options.pop("transport", world.transport)
        return GatewayUnderTest(
            "async" if kind == "async" else "sync",
            self.provider,
            world.settings,
            account="conformance",
            transport=transport,
            **options,
        )

    @pytest.fixture
    def conformance_world(self) -> Iterator[ConformanceWorld]:
        with self.world() as world:
            yield world

    # -- structural checks --------------------------------------------------------------------------------
