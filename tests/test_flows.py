"""The sans-I/O flows behind both gateways and both handlers, stepped by hand: what each asks for, in order."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Generator
from decimal import Decimal

import httpx
import pytest

import paycore
import paycore.sandbox
from paycore._flows import FlowRun
from paycore._handler_flow import Ask, Step
from paycore.handler import NotificationHandler, OrderRecord, Outcome
from paycore.provider import Operation
from paycore.stores import Claim, ClaimResult
from paycore.testing import FakeGateway, FakeProvider, FakeSettings

SECRET = "flow-test-secret"


# FlowRun: the stepping both kinds of driver share


def _doubler() -> Generator[int, int, list[int]]:
    seen = []
    for asked in (1, 2, 3):
        try:
            seen.append((yield asked))
        except ValueError as exc:
            seen.append(-len(str(exc)))
    return seen


def test_a_flow_run_sends_each_reply_in_and_keeps_the_result():
    run = FlowRun(_doubler())
    for asked in run:
        run.reply(asked * 2)
    assert run.result == [2, 4, 6]


def test_a_failure_is_thrown_into_the_flow_where_it_asked():
    run = FlowRun(_doubler())
    for asked in run:
        if asked == 2:
            run.fail(ValueError("four"))
        else:
            run.reply(asked * 2)
    assert run.result == [2, -4, 6]


def test_a_failure_the_flow_raises_on_is_not_chained_to_the_drivers_handling():
    def raises_another() -> Generator[str, str, None]:
        with contextlib.suppress(OSError):
            yield "send"
        raise KeyError("the flow's own")  # must not point back at the driver's OSError

    run = FlowRun(raises_another())

    def drive() -> None:
        for _ in run:
            try:
                raise OSError("sending failed")
            except OSError as exc:
                run.fail(exc)

    with pytest.raises(KeyError) as raised:
        drive()
    assert raised.value.__context__ is None


# The gateway's call flow


@pytest.fixture
def fake_world():
    fake = FakeGateway(FakeSettings(secret_key=SECRET))
    gateway = paycore.Gateway(FakeProvider, {"secret_key": SECRET}, account="main", transport=httpx.MockTransport(fake))
    yield fake, gateway
    gateway.close()


def _order() -> paycore.Order:
    return paycore.Order(
        amount=Decimal("9.90"),
        channel=paycore.Channel.ALIPAY_QR,
        subject="tea",
        notify_url="https://shop.example/notify/main",
        return_url="https://shop.example/done",
    )


def test_a_gateway_call_yields_each_request_and_returns_the_providers_result(fake_world):
    fake, gateway = fake_world
    order = _order()
    call = gateway._create_call(order, None)
    run = FlowRun(call)
    sent = []
    for request in run:
        sent.append(request.url.path)
        request.read()
        run.reply(fake(request))
    assert sent == ["/orders"]  # the fake gateway's create
    assert isinstance(run.result, paycore.Payment)
    assert run.result.order_id == order.order_id


def test_a_gateway_call_refuses_bad_input_before_it_asks_for_any_io(fake_world):
    _, gateway = fake_world
    call = gateway._order_call(Operation.QUERY, "has spaces")
    with pytest.raises(paycore.InvalidRequest):
        next(call)


def test_a_gateway_call_turns_what_sending_raised_into_a_transport_error(fake_world):
    _, gateway = fake_world
    run = FlowRun(gateway._order_call(Operation.QUERY, "O-1"))

    def drive() -> None:
        for request in run:
            run.fail(httpx.ConnectError("refused", request=request))

    with pytest.raises(paycore.TransportError) as raised:
        drive()
    assert raised.value.may_have_reached_gateway is False
    assert raised.value.__context__ is None


# The handler's flow


class _Store:
    """Never called: the flow is stepped by hand, and each store step answered by the test."""

    def claim(self, key: str, lease: float) -> ClaimResult:
        raise AssertionError("the flow must not call the store itself")

    def complete(self, key: str, token: str, record: str) -> bool:
        raise AssertionError("the flow must not call the store itself")

    def release(self, key: str, token: str) -> None:
        raise AssertionError("the flow must not call the store itself")

    def applied(self, key: str) -> str | None:
        raise AssertionError("the flow must not call the store itself")


@pytest.fixture
def paid_notification(fake_world):
    fake, gateway = fake_world
    order = _order()
    gateway.create(order)
    record = OrderRecord(order.order_id, order.amount, account="main")
    handler = NotificationHandler(
        paycore.Accounts({"main": gateway}), lookup=lambda _: None, on_paid=lambda _: None, store=_Store()
    )
    body = paycore.NotificationRequest(path="/notify/main", body=fake.pay(order.order_id))
    return handler, body, record


def test_a_paid_notification_asks_for_lookup_claim_callback_and_complete_in_that_order(paid_notification):
    handler, request, record = paid_notification
    run = FlowRun(handler._process_flow(request))
    asked: list[tuple[Ask, str]] = []
    for step in run:
        assert isinstance(step, Step)
        asked.append((step.ask, getattr(step.function, "__name__", "")))
        if step.ask is Ask.LOOKUP:
            run.reply(record)
        elif step.function.__name__ == "claim":
            run.reply(ClaimResult(Claim.CLAIMED, "token-1"))
        else:
            run.reply(True)
    assert [ask for ask, _ in asked] == [Ask.LOOKUP, Ask.STORE, Ask.CALLBACK, Ask.STORE_TO_THE_END]
    assert [name for _, name in asked if name in ("claim", "complete")] == ["claim", "complete"]
    assert run.result.outcome is Outcome.APPLIED
    assert run.result.reply.status == 200


def test_a_store_that_fails_to_claim_means_no_callback_and_no_acknowledgement(paid_notification):
    handler, request, record = paid_notification
    run = FlowRun(handler._process_flow(request))
    asked = []
    for step in run:
        asked.append(step.ask)
        if step.ask is Ask.LOOKUP:
            run.reply(record)
        else:
            run.fail(ConnectionError("store down"))
    assert Ask.CALLBACK not in asked
    assert run.result.outcome is Outcome.STORE_FAILED
    assert not run.result.outcome.acknowledged


def test_a_callback_that_fails_releases_the_claim_and_is_not_acknowledged(paid_notification):
    handler, request, record = paid_notification
    run = FlowRun(handler._process_flow(request))
    released = []
    for step in run:
        if step.ask is Ask.LOOKUP:
            run.reply(record)
        elif step.ask is Ask.CALLBACK:
            run.fail(RuntimeError("fulfilment down"))
        elif step.function.__name__ == "claim":
            run.reply(ClaimResult(Claim.CLAIMED, "token-1"))
        else:
            released.append((step.function.__name__, step.args))
            run.reply(None)
    assert released == [("release", (f"{record.order_id}:paid", "token-1"))]
    assert run.result.outcome is Outcome.CALLBACK_FAILED


def test_an_interrupt_between_two_steps_still_lets_the_flow_clean_up():
    performed: list[str] = []

    def guarded() -> Generator[str, object, str]:
        yield "claim"
        try:
            yield "call back"
            return "applied"
        finally:
            yield "release"  # I/O a finally block needs, as the handler's failure guard does

    def perform(asked: str, run: FlowRun[str, str]) -> None:
        performed.append(asked)
        run.reply(None)
        if asked == "call back":
            raise KeyboardInterrupt  # lands in the driver, between two steps, as a signal would

    run = FlowRun(guarded())
    with pytest.raises(KeyboardInterrupt):
        run.drive(perform)
    assert performed == ["claim", "call back", "release"]


def test_a_client_that_cannot_be_made_means_nothing_was_sent(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "bogus://proxy.invalid:1")  # httpx refuses the proxy as it makes the client
    gateway = paycore.Gateway(FakeProvider, {"secret_key": SECRET}, account="main")
    with pytest.raises(paycore.PaycoreError) as raised:
        gateway.query("O-1")
    assert raised.value.may_have_reached_gateway is False
    assert "may have received" not in str(raised.value)
    gateway.close()


@pytest.mark.parametrize(
    ("moved", "public"),
    [
        (paycore.PaymentStatus.PAID, "paycore.models"),
        (paycore.Channel.ALIPAY_QR, "paycore.models"),
        (Outcome.APPLIED, "paycore.handler"),
        (OrderRecord("O-1", Decimal("1.00")), "paycore.handler"),
        (paycore.sandbox.SandboxOptions(port=1), "paycore.sandbox"),
    ],
)
def test_types_defined_in_private_rooms_pickle_under_their_public_module(moved, public):
    assert type(moved).__module__ == public
    pickled = pickle.dumps(moved)
    assert public.encode() in pickled
    assert pickle.loads(pickled) == moved  # noqa: S301  # bytes made just above
