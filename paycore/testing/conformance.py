"""The conformance suite a provider's tests subclass: what every paycore provider must do.

::

    # providers/acme/tests/test_conformance.py
    from paycore.testing.conformance import ProviderConformance

    class TestAcmeConformance(ProviderConformance):
        provider = "acme"                       # the entry-point name, or the class

That is all for a provider with a sandbox (the ``make_sandbox`` hook): the suite
starts it on a free port, serves a notification endpoint of its own on another,
and pays through it over real loopback HTTP. A provider without one overrides
`ProviderConformance.world` to say how to reach a gateway (an
``httpx.MockTransport``) and how to get a genuine notification.

Structural checks (hooks against the specs, settings, capabilities, secrets in
``repr``) pass before any protocol code exists; protocol checks (round trip under
`paycore.Gateway` and `paycore.AsyncGateway`, close, flows, required order fields,
tampered and malformed notifications, malformed gateway answers, secrets in errors,
their cause chains and DEBUG logs, no network beyond the configured gateway) fail
with messages saying what to fix. Each test name says what it checks; set
``unsigned_notification_fields`` to the fields your protocol leaves unsigned.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from paycore import web
from paycore._demo import order_fields_for
from paycore._gateway import Gateway
from paycore._plugins import _named_provider_class, _secrets_of
from paycore.errors import (
    ConfigError,
    InvalidRequest,
    MalformedNotification,
    NotSupported,
    PaycoreError,
    ProviderError,
    VerificationError,
)
from paycore.hookspecs import REQUIRED_HOOKS, ProviderSpec
from paycore.http import MAX_NOTIFICATION_BYTES, NotificationRequest
from paycore.models import Channel, CreateFlow, Notification, Order, PaymentStatus, RefundStatus
from paycore.provider import Operation, Provider, ProviderSettings
from paycore.sandbox import SandboxOptions, make_sandbox
from paycore.testing._either import GatewayUnderTest
from paycore.testing._server import LoopbackServer

__all__ = ["ConformanceWorld", "ProviderConformance"]

_WAIT_FOR_NOTIFICATION = 15.0
_SECRET_NAMES = ("key", "secret", "password", "token", "private")
_OTHER_MERCHANT = "2000000000000002"  # digits, 16 of them: a merchant id or app id every platform takes
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


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
        while True:
            try:
                received = self.received.get(timeout=_WAIT_FOR_NOTIFICATION)
            except queue.Empty:
                raise AssertionError(
                    f"no notification about order {order_id!r} reached the merchant within "
                    f"{_WAIT_FOR_NOTIFICATION:.0f} s of the sandbox's pay(): does the sandbox notify notify_url?"
                ) from None
            if order_id in received.body.decode("utf-8", "replace") + received.query:
                return received
            with contextlib.suppress(PaycoreError):
                if self.verifier.verify_notification(received).order_id == order_id:
                    return received


class ProviderConformance:
    """Subclass it in a provider's tests (a ``Test*`` class) and name the provider."""

    #: the provider under test: its entry-point name or its class
    provider: ClassVar[str | type[Provider[Any]]]
    #: notification fields the protocol does not sign (juhe's ``attach``): changing them may not be refused,
    #: but must change nothing that is trusted (order id, status, amounts, transaction)
    unsigned_notification_fields: ClassVar[frozenset[str]] = frozenset()
    #: the amount of every test order
    amount: ClassVar[Decimal] = Decimal("9.90")

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
            sandbox = stack.enter_context(make_sandbox(self.provider, SandboxOptions(profile="fast")))
            settings = dict(sandbox.account_settings())
            verifier = stack.enter_context(Gateway(self.provider, settings, account="conformance"))
            endpoint = _Endpoint(verifier)
            merchant = stack.enter_context(LoopbackServer(endpoint))
            self._notify_base = merchant.url

            def pay(order: Order) -> NotificationRequest:
                sandbox.pay(order.order_id)
                return endpoint.wait_for(order.order_id)

            # A second platform account: another merchant id, with the same key when the protocol has a
            # shared one (keys do get reused), so that only the merchant check can refuse its notifications.
            key = settings.get("secret_key")
            options = SandboxOptions(
                profile="fast", merchant_id=_OTHER_MERCHANT, secret_key=key if isinstance(key, str) else None
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

    def _channel(self) -> Channel:
        channels = self._provider_class().channels
        return Channel.ALIPAY_QR if Channel.ALIPAY_QR in channels else sorted(channels)[0]

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

    def test_hooks_match_the_specs(self) -> None:
        provider_class = self._provider_class()
        specs = {name for name in dir(ProviderSpec) if not name.startswith("_")}
        for name in dir(provider_class):
            attribute = getattr(provider_class, name, None)
            if hasattr(attribute, "paycore_impl") and name not in specs:
                raise AssertionError(f"{name} is marked @paycore.hookimpl but paycore has no such hook: misspelt?")
            if name in specs and callable(attribute) and not hasattr(attribute, "paycore_impl"):
                raise AssertionError(f"{name} is named like a hook but lacks @paycore.hookimpl: paycore ignores it")
        missing = [hook for hook in REQUIRED_HOOKS if not hasattr(getattr(provider_class, hook, None), "paycore_impl")]
        assert not missing, f"required hooks missing: {', '.join(missing)}"

    def test_settings_model_refuses_unknown_settings_and_keeps_secrets_secret(self) -> None:
        model = self._provider_class().settings_model
        assert issubclass(model, ProviderSettings), (
            f"{model.__name__} should subclass paycore.ProviderSettings (frozen, unknown settings refused)"
        )
        for name, info in model.model_fields.items():
            lowered = name.lower()
            if any(word in lowered for word in _SECRET_NAMES) and "url" not in lowered and "public" not in lowered:
                annotation = str(info.annotation)
                assert "Secret" in annotation or "Path" in annotation, (
                    f"setting {name!r} looks secret but is {annotation}: declare it pydantic.SecretStr"
                )

    def test_empty_secrets_are_refused(self, conformance_world: ConformanceWorld) -> None:
        model = self._provider_class().settings_model
        secret_fields = [name for name, info in model.model_fields.items() if "Secret" in str(info.annotation)]
        for name in secret_fields:
            try:
                Gateway(self.provider, {**conformance_world.settings, name: ""}, account="conformance").close()
            except ConfigError as exc:
                refusal = str(exc)
            else:
                pytest.fail(
                    f"{name} = '' was accepted: refuse an empty secret (Annotated[SecretStr, Field(min_length=1)]); "
                    "a signature made with an empty key is one anybody can make"
                )
            assert name in refusal, f"the ConfigError for an empty {name} does not name it: {refusal}"

    def test_capabilities_are_declared(self) -> None:
        provider_class = self._provider_class()
        assert provider_class.channels, f"{provider_class.__name__}.channels is empty: declare the channels it serves"
        assert provider_class.create_flows, f"{provider_class.__name__}.create_flows is empty"
        assert provider_class.capabilities().operations >= {Operation(name) for name in ("create", "query", "verify")}

    def test_repr_holds_no_secret(self, conformance_world: ConformanceWorld) -> None:
        with Gateway(self.provider, conformance_world.settings, account="conformance") as gateway:
            secrets = _secrets_of(gateway.provider.settings)
            for shown in (repr(gateway), repr(gateway.provider), repr(gateway.provider.settings), str(gateway)):
                leaked = [secret for secret in secrets if secret in shown]
                assert not leaked, f"a secret setting shows in {shown[:60]!r}...: declare it pydantic.SecretStr"

    def test_bad_settings_are_config_errors(self, conformance_world: ConformanceWorld) -> None:
        with pytest.raises(ConfigError):
            Gateway(self.provider, {**conformance_world.settings, "no_such_setting": "x"}, account="conformance")
        required = [
            name for name, info in self._provider_class().settings_model.model_fields.items() if info.is_required()
        ]
        for name in required:
            settings = {key: value for key, value in conformance_world.settings.items() if key != name}
            with pytest.raises(ConfigError, match=name):
                Gateway(self.provider, settings, account="conformance")

    # -- protocol checks ----------------------------------------------------------------------------------

    def test_create_pay_verify_query(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        payment = under_test.create(order)
        assert payment.order_id == order.order_id
        assert payment.status is PaymentStatus.PENDING, f"create returned {payment.status}, not pending"
        assert payment.next_action is not None, "create must say what the buyer does next (Payment.next_action)"
        unpaid = under_test.query(order.order_id)
        assert unpaid.status is not PaymentStatus.PAID, "query says paid before the buyer paid"
        received = conformance_world.pay(order)
        notification = under_test.verify_notification(received)
        assert notification.order_id == order.order_id
        assert notification.status is PaymentStatus.PAID
        assert notification.amount == order.amount, f"notified {notification.amount}, ordered {order.amount}"
        assert notification.currency == order.currency, (
            f"notified in {notification.currency}, ordered in {order.currency}: a notification states the currency "
            "the gateway settled in"
        )
        notification.check_against(order, account="conformance")
        assert "ok" not in under_test.failure_reply("bad signature").body.lower()
        queried = under_test.query(order.order_id)
        assert queried.status is PaymentStatus.PAID, f"query after payment says {queried.status}"
        assert queried.currency == order.currency, (
            f"a paid order queried says currency {queried.currency}, ordered in {order.currency}: a handler "
            "applies no paid payment without its currency"
        )

    def test_close_where_declared(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        if Operation.CLOSE not in self._provider_class().operations():
            pytest.skip("the provider declares no close_payment")
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        under_test.create(order)
        assert under_test.close_payment(order.order_id).status is PaymentStatus.CLOSED

    def test_refund_where_declared(self, conformance_world: ConformanceWorld, paycore_gateway_kind: str) -> None:
        operations = self._provider_class().operations()
        if Operation.REFUND not in operations:
            pytest.skip("the provider declares no refund_payment")
        under_test = self._under_test(paycore_gateway_kind, conformance_world)
        order = self.order()
        under_test.create(order)
        under_test.verify_notification(conformance_world.pay(order))
        refund = under_test.refund(order.order_id, refund_id="cf-refund-1", amount=order.amount)
        assert (refund.order_id, refund.refund_id, refund.amount) == (order.order_id, "cf-refund-1", order.amount)
        assert refund.status is not RefundStatus.FAILED, f"the refund {refund.status}"
        again = under_test.refund(order.order_id, refund_id="cf-refund-1", amount=order.amount)
        assert again.refund_id == "cf-refund-1", "asking again with the same refund id must answer that refund"
        if Operation.REFUND_QUERY in operations:
            queried = under_test.query_refund(order.order_id, "cf-refund-1")
            assert (queried.refund_id, queried.amount) == ("cf-refund-1", order.amount)

    @pytest.mark.parametrize("flow", list(CreateFlow))
    def test_each_declared_flow(self, conformance_world: ConformanceWorld, flow: CreateFlow) -> None:
        under_test = self._under_test("sync", conformance_world)
        if flow not in self._provider_class().create_flows:
            with pytest.raises(PaycoreError):
                under_test.create(self.order(), flow=flow)
            return
        payment = under_test.create(self.order(), flow=flow)
        assert payment.next_action is not None, f"create with flow {flow.value} gave no next_action"

    def test_required_order_fields_and_channels_refused_before_sending(
        self, conformance_world: ConformanceWorld
    ) -> None:
        provider_class = self._provider_class()
        sent: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(500)

        under_test = self._under_test("sync", conformance_world, transport=record)
        for channel in sorted(provider_class.channels):
            for flow in sorted(provider_class.create_flows):
                for name in provider_class.order_fields_for(channel, flow):
                    with pytest.raises(InvalidRequest, match=name):
                        under_test.create(self.order(channel, **{name: None}), flow=flow)
        for channel in sorted(set(Channel) - provider_class.channels):
            with pytest.raises(InvalidRequest):
                under_test.create(self.order(channel, **order_fields_for(provider_class, channel)))
        assert not sent, "an order the provider must refuse was sent to the gateway"

    def test_tampered_notifications_are_refused(self, conformance_world: ConformanceWorld) -> None:
        under_test = self._under_test("sync", conformance_world)
        order = self.order()
        under_test.create(order)
        genuine = conformance_world.pay(order)
        verified = under_test.verify_notification(genuine)
        forgeries = itertools.chain(
            _forgeries(genuine), _unsigned_with_trusted(genuine, self.unsigned_notification_fields)
        )
        # Verifying is pure and the same under both gateways: one gateway checks them all.
        with under_test.gateway() as gateway:
            for label, forged in forgeries:
                self._check_forgery(gateway, label, forged, verified)

    def _check_forgery(self, gateway: Gateway, label: str, forged: NotificationRequest, verified: Notification) -> None:
        try:
            notification = gateway.verify_notification(forged)
        except VerificationError:
            return
        except PaycoreError as exc:
            raise AssertionError(f"{label}: refused with {type(exc).__name__}, not a VerificationError") from exc
        # Accepted: harmless only if nothing trusted changed and what did change is declared unsigned.
        raw = {**verified.raw, **notification.raw}
        # (an empty field and an absent one say the same: many protocols sign neither)
        changed = {name for name in raw if (verified.raw.get(name) or "") != (notification.raw.get(name) or "")}
        harmless = _trusted(notification) == _trusted(verified) and changed <= self.unsigned_notification_fields
        assert harmless, (
            f"a tampered notification was accepted ({label}; changed: {sorted(changed)}): every field that is "
            "trusted must be signed, and the verifier must accept exactly one reading of what it received"
        )

    def test_another_merchants_notification_is_refused(self, conformance_world: ConformanceWorld) -> None:
        if conformance_world.other_merchant is None:
            pytest.skip("the world gives no second merchant (ConformanceWorld.other_merchant)")
        other_world = conformance_world.other_merchant
        other = self._under_test("sync", other_world)
        order = self.order()
        other.create(order)
        received = other_world.pay(order)
        assert other.verify_notification(received).order_id == order.order_id  # genuine, for its own merchant
        try:
            self._under_test("sync", conformance_world).verify_notification(received)
        except VerificationError:
            return
        pytest.fail(
            "a genuine notification for another merchant id (signed with the same key) was accepted: compare the "
            "notification's merchant id with the account's settings in verify_notification (MerchantMismatch)"
        )

    def test_malformed_and_oversized_notifications_are_typed_errors(self, conformance_world: ConformanceWorld) -> None:
        under_test = self._under_test("sync", conformance_world)
        bodies: list[NotificationRequest | bytes] = [
            b"",
            b"\xff\xfe\x00garbage",
            b"a=1&a=2",
            b"{}",
            b"sign=" + b"A" * 64,
            NotificationRequest(method="GET", path="/notify", query="sign=x&%ZZ=1"),
        ]
        for body in bodies:
            try:
                under_test.verify_notification(body)
            except VerificationError:
                continue
            except ProviderError as exc:
                raise AssertionError(
                    f"{exc}: refuse such input with a paycore.VerificationError ({body!r:.60})"
                ) from exc
            except PaycoreError as exc:
                raise AssertionError(f"{type(exc).__name__} is no VerificationError ({body!r:.60}): {exc}") from exc
            raise AssertionError(f"a malformed notification was accepted: {body!r:.60}")
        with pytest.raises(MalformedNotification):
            under_test.verify_notification(b"a=" + b"1" * MAX_NOTIFICATION_BYTES)

    @pytest.mark.parametrize(
        ("status", "content", "content_type"),
        [
            (502, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
            (200, b"<html><body>maintenance</body></html>", "text/html"),
            (200, b"", "application/json"),
            (200, b"[]", "application/json"),
            (200, b"{}", "application/json"),
            (200, b"\xff" * 100, "application/json"),
            (200, b"{" * 5000, "application/json"),
            (200, b"x" * 5_000_000, "text/plain"),
        ],
        ids=["error-page", "html", "empty", "json-list", "json-empty", "binary", "deep", "huge"],
    )
    def test_malformed_answers_are_typed_errors(
        self,
        conformance_world: ConformanceWorld,
        paycore_gateway_kind: str,
        status: int,
        content: bytes,
        content_type: str,
    ) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, content=content, headers={"content-type": content_type})

        under_test = self._under_test(paycore_gateway_kind, conformance_world, transport=answer)
        calls: list[Callable[[], object]] = [lambda: under_test.query("A1234567890")]
        if CreateFlow.SERVER in self._provider_class().create_flows:
            calls.append(lambda: under_test.create(self.order(), flow=CreateFlow.SERVER))
        for call in calls:
            try:
                call()
            except ProviderError as exc:
                raise AssertionError(f"an unexpected exception escaped the provider: {exc}") from exc
            except NotSupported as exc:
                raise AssertionError(str(exc)) from exc
            except PaycoreError:
                continue
            raise AssertionError(f"an unusable answer (HTTP {status}, {content[:40]!r}) was accepted")

    def test_secrets_never_reach_errors_or_logs(
        self, conformance_world: ConformanceWorld, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        with Gateway(self.provider, conformance_world.settings, account="conformance") as gateway:
            secrets = _secrets_of(gateway.provider.settings)
        assert secrets, "the settings hold no secret of six characters or more: is the key a SecretStr?"
        seen: list[str] = []

        def refuse(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            raise httpx.ConnectError("refused", request=request)

        errors: list[PaycoreError] = []
        for transport in (conformance_world.transport, refuse, lambda request: httpx.Response(500, text="error")):
            under_test = self._under_test("sync", conformance_world, transport=transport)
            order = self.order()
            calls: list[Callable[[], object]] = [
                functools.partial(under_test.create, order),
                functools.partial(under_test.query, order.order_id),
            ]
            for call in calls:
                try:
                    call()
                except PaycoreError as exc:
                    errors.append(exc)
        leaking = [
            type(exc).__name__
            for exc in errors
            if any(secret in text for secret in secrets for text in _chain_texts(exc))
        ]
        assert not leaking, f"a secret setting appears in the message or cause chain of {leaking}"
        with pytest.raises(VerificationError) as caught:
            self._under_test("sync", conformance_world).verify_notification(b"sign=0&order_id=x")
        assert not any(secret in text for secret in secrets for text in _chain_texts(caught.value))
        logged = "\n".join(record.getMessage() for record in caplog.records)
        leaked = [secret for secret in secrets if secret in logged]
        assert not leaked, "a secret setting reached a log record at DEBUG: list it in secret_parameters or mask it"

    def test_no_network_beyond_the_configured_gateway(
        self, conformance_world: ConformanceWorld, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        allowed = conformance_world.hosts | {urlsplit(str(conformance_world.settings.get("base_url", ""))).hostname}
        real_getaddrinfo = socket.getaddrinfo
        contacted: list[str] = []

        def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            contacted.append(name)
            if name not in allowed:
                raise OSError(f"conformance: {name} is not the configured gateway")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", guarded)
        under_test = self._under_test("sync", conformance_world)
        order = self.order()
        under_test.create(order)
        under_test.query(order.order_id)
        strangers = sorted(set(contacted) - allowed)
        assert not strangers, f"the provider contacted {strangers}: only the configured gateway may be reached"


def _trusted(notification: Any) -> tuple[Any, ...]:
    return (
        notification.order_id,
        notification.status,
        notification.amount,
        notification.paid_amount,
        notification.transaction_id,
        notification.currency,
    )


def _chain_texts(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        current = current.__cause__ or current.__context__


def _forgeries(genuine: NotificationRequest) -> Iterator[tuple[str, NotificationRequest]]:
    """Variants of a genuine notification that must not verify as something else."""
    in_query = bool(genuine.query) and not genuine.body
    text = genuine.query if in_query else genuine.body.decode("utf-8", "replace")
    pairs = parse_qsl(text, keep_blank_values=True) if "=" in text else []

    def variant(new_text: str) -> NotificationRequest:
        if in_query:
            return NotificationRequest(
                method=genuine.method, path=genuine.path, query=new_text, headers=genuine.headers
            )
        return NotificationRequest(
            method=genuine.method,
            path=genuine.path,
            query=genuine.query,
            headers=genuine.headers,
            body=new_text.encode(),
        )

    if not pairs:  # not a form: flip bytes of the body
        body = genuine.body
        for index in (0, len(body) // 2, len(body) - 1):
            if 0 <= index < len(body):
                flipped = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
                yield (
                    f"byte {index} of the body flipped",
                    NotificationRequest(
                        method=genuine.method,
                        path=genuine.path,
                        query=genuine.query,
                        headers=genuine.headers,
                        body=flipped,
                    ),
                )
        return
    for position, (name, value) in enumerate(pairs):
        for label, other in _other_values(value):
            changed = [*pairs]
            changed[position] = (name, other)
            yield f"field {name} {label}", variant(urlencode(changed))
        yield f"field {name} dropped", variant(urlencode(pairs[:position] + pairs[position + 1 :]))
        yield f"field {name} given twice", variant(urlencode([*pairs, (name, value + "9")]))
    # Fold a field into its neighbour ("a=1&b=2" read as a="1&b=2"): neighbours as received, and as sorted
    # (the order a "k=v&k=v" signed string is usually built in).
    orders = [list(range(len(pairs))), sorted(range(len(pairs)), key=lambda index: pairs[index][0])]
    folded_pairs: set[tuple[int, int]] = set()
    for order in orders:
        for left_index, right_index in itertools.pairwise(order):
            if (left_index, right_index) in folded_pairs:
                continue
            folded_pairs.add((left_index, right_index))
            (left, left_value), (right, right_value) = pairs[left_index], pairs[right_index]
            folded = [pair for index, pair in enumerate(pairs) if index != right_index]
            folded[folded.index((left, left_value))] = (left, f"{left_value}&{right}={right_value}")
            yield f"field {right} folded into {left}", variant(urlencode(folded))


def _unsigned_with_trusted(
    genuine: NotificationRequest, unsigned: frozenset[str]
) -> Iterator[tuple[str, NotificationRequest]]:
    """Each unsigned field changed together with each other field: a verifier must not let one excuse the other."""
    in_query = bool(genuine.query) and not genuine.body
    text = genuine.query if in_query else genuine.body.decode("utf-8", "replace")
    pairs = parse_qsl(text, keep_blank_values=True) if "=" in text else []
    for loose in (index for index, (name, _) in enumerate(pairs) if name in unsigned):
        loose_name, loose_value = pairs[loose]
        for target, (name, value) in enumerate(pairs):
            if target == loose or name in unsigned:
                continue
            for label, other in _other_values(value):
                changed = [*pairs]
                changed[loose] = (loose_name, _other_values(loose_value)[0][1])
                changed[target] = (name, other)
                new_text = urlencode(changed)
                yield (
                    f"field {loose_name} and field {name} {label}",
                    NotificationRequest(
                        method=genuine.method,
                        path=genuine.path,
                        query=new_text if in_query else genuine.query,
                        headers=genuine.headers,
                        body=b"" if in_query else new_text.encode(),
                    ),
                )


def _other_values(value: str) -> list[tuple[str, str]]:
    """Other values a forger would try: one character more, and for a number another well-formed number."""
    variants = [("changed", value + "1" if value else "1")]
    number = _NUMBER.fullmatch(value)
    if number:
        places = len(number.group(2) or "")
        bigger = Decimal(value) + 1
        variants.append(("changed to another number", f"{bigger:.{places}f}"))
    return variants
