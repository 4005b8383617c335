"""Answers are read with a size cap, decoded as they arrive; post-send failures keep their meaning."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import httpx
import pytest

import paycore
from paycore import AsyncGateway, ConfigError, Gateway, ProtocolError, TransportError
from paycore.testing import FakeProvider

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 65536


def _endless(counter: list[int]) -> Iterator[bytes]:
    for _ in range(10_000):  # 655 MB if nobody stopped reading
        counter[0] += 1
        yield CHUNK


def test_default_limit_is_a_few_hundred_kilobytes():
    assert 100 * 1024 <= paycore.DEFAULT_MAX_ANSWER_BYTES <= 1024 * 1024


def test_an_oversized_answer_is_protocol_error_and_reading_stops(paycore_order):
    read = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_endless(read))

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(ProtocolError, match="more than 262144 bytes"):
            gateway.create(paycore_order())
    assert read[0] <= paycore.DEFAULT_MAX_ANSWER_BYTES // len(CHUNK) + 1


async def test_an_oversized_answer_is_protocol_error_async(paycore_order):
    read = [0]

    async def chunks():
        for chunk in _endless(read):
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    async with AsyncGateway(FakeProvider, transport=httpx.MockTransport(handler), max_answer_bytes=100_000) as gateway:
        with pytest.raises(ProtocolError, match="more than 100000 bytes"):
            await gateway.create(paycore_order())
    assert read[0] <= 3


def test_a_declared_length_over_the_limit_is_refused_before_reading(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "999999999"}, content=iter([b"{}"]))

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(ProtocolError, match="more than"):
            gateway.create(paycore_order())


def test_a_compression_bomb_is_stopped_at_the_limit_of_decoded_bytes(paycore_order):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MB inflated, ~50 KB on the wire
    assert len(bomb) < paycore.DEFAULT_MAX_ANSWER_BYTES

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=bomb)

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(ProtocolError, match="more than"):
            gateway.create(paycore_order())


def test_a_compressed_answer_within_the_limit_reaches_the_provider_decoded(paycore_fake, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        plain = paycore_fake(request)
        body = zlib.compress(plain.content)
        return httpx.Response(plain.status_code, headers={"content-encoding": "deflate"}, content=body)

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        assert gateway.create(paycore_order()).status is paycore.PaymentStatus.PENDING


def test_an_undecodable_answer_may_have_reached_the_gateway(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"not gzip at all")

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    assert "could not be decoded" in str(excinfo.value)


def test_a_redirect_to_an_invalid_url_is_protocol_error_not_config(paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "javascript:alert(1)"})

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(ProtocolError, match="redirect to an invalid URL"):
            gateway.create(paycore_order())


def test_the_provider_may_lower_the_limit():
    class Small(FakeProvider):
        @property
        def max_answer_bytes(self) -> int | None:
            return 2048

    assert Gateway(Small).max_answer_bytes == 2048
    assert Gateway(Small, max_answer_bytes=1000).max_answer_bytes == 1000
    assert Gateway(FakeProvider, max_answer_bytes=10**7).max_answer_bytes == 10**7


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "100"])
def test_a_bad_limit_is_a_config_error(limit):
    with pytest.raises(ConfigError, match="max_answer_bytes"):
        Gateway(FakeProvider, max_answer_bytes=limit)


def _flood() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
    for _ in range(5000):  # 327 MB
        yield chunk


def _answer(headers: bytes, body: bytes) -> list[bytes]:
    return [b"HTTP/1.1 200 OK\r\n" + headers + b"content-length: %d\r\n\r\n" % len(body), body]


def test_a_flooding_gateway_on_a_real_socket_is_cut_off(paycore_order, one_answer):
    with one_answer(_flood()) as server:
        settings = {"base_url": server.url}
        with Gateway(FakeProvider, settings) as gateway:
            with pytest.raises(ProtocolError, match="more than"):
                gateway.create(paycore_order())
    # what the server managed to push before the client hung up: socket buffers, not 327 MB
    assert server.sent < 32 * 1024 * 1024


def test_a_provider_that_fails_after_sending_says_the_gateway_may_have_it(paycore_order):
    class FailsOnAnswer(FakeProvider):
        @paycore.hookimpl
        def create_payment(self, order, flow):  # type: ignore[no-untyped-def]
            response = yield httpx.Request("POST", f"{self.settings.base_url}/orders")
            return response.json()["missing"]  # a provider bug, after the gateway got the order

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    with Gateway(FailsOnAnswer, transport=httpx.MockTransport(handler)) as gateway:
        with pytest.raises(paycore.ProviderError) as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    assert "may have received it" in str(excinfo.value)


def test_a_provider_that_fails_before_sending_says_nothing_was_sent(paycore_order):
    class FailsEarly(FakeProvider):
        @paycore.hookimpl
        def create_payment(self, order, flow):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError
            yield  # a generator all the same

    with Gateway(FailsEarly) as gateway, pytest.raises(paycore.ProviderError) as excinfo:
        gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway is False


def test_protocol_errors_always_may_have_reached_the_gateway():
    assert ProtocolError("x").may_have_reached_gateway is True


def test_answers_with_non_ascii_header_values_reach_the_provider(paycore_fake, paycore_order):
    def handler(request: httpx.Request) -> httpx.Response:
        plain = paycore_fake(request)
        headers = [(b"content-type", b"application/json"), (b"x-msg", "下单成功".encode()), (b"x-latin", b"caf\xe9")]
        return httpx.Response(plain.status_code, headers=headers, content=plain.content)

    with Gateway(FakeProvider, transport=httpx.MockTransport(handler)) as gateway:
        assert gateway.create(paycore_order()).status is paycore.PaymentStatus.PENDING


@pytest.mark.parametrize("second", ["connect-error", "deadline"])
def test_a_later_request_failing_before_it_left_still_says_the_gateway_has_the_call(paycore_order, second):
    import time

    class TwoSteps(FakeProvider):
        @paycore.hookimpl
        def create_payment(self, order, flow):  # type: ignore[no-untyped-def]
            yield httpx.Request("POST", f"{self.settings.base_url}/create")  # the gateway takes the order
            if second == "deadline":
                time.sleep(0.3)  # past the call's deadline before the second request
            yield httpx.Request("GET", f"{self.settings.base_url}/cashier")
            raise AssertionError("not reached")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cashier":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={})

    with Gateway(TwoSteps, transport=httpx.MockTransport(handler), deadline=0.2) as gateway:
        with pytest.raises(TransportError) as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    assert "earlier request" in str(excinfo.value)


def test_every_error_after_a_request_was_sent_says_so(paycore_order):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": False, "error": "no"})

    with Gateway(FakeProvider, transport=httpx.MockTransport(refuse)) as gateway:
        with pytest.raises(paycore.GatewayError) as excinfo:
            gateway.create(paycore_order())
    assert excinfo.value.may_have_reached_gateway
    assert paycore.InvalidRequest("x").may_have_reached_gateway is False


def test_a_compression_bomb_on_a_real_socket_never_inflates_past_the_limit(paycore_order, one_answer):
    import tracemalloc

    bomb = gzip.compress(b"\0" * (400 * 1024 * 1024))  # 400 MB inflated, ~400 KB on the wire
    with one_answer(_answer(b"content-type: application/json\r\ncontent-encoding: gzip\r\n", bomb)) as server:
        with Gateway(FakeProvider, {"base_url": server.url}, max_answer_bytes=10**7) as gateway:
            tracemalloc.start()
            try:
                with pytest.raises(ProtocolError, match="more than"):
                    gateway.create(paycore_order())
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    # the cap (10 MB) plus a chunk: not the 64 MB a whole inflated 64 KB chunk would be
    assert peak < 30 * 1024 * 1024


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        (b"gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        (b"identity", lambda data: data),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "identity"],
)
def test_genuine_compressed_answers_reach_the_provider_decoded(
    paycore_fake, paycore_order, encoding, compress, one_answer
):
    order = paycore_order()
    answers: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        response = paycore_fake(request)
        answers.append(response.content)
        return response

    with Gateway(FakeProvider, transport=httpx.MockTransport(record)) as gateway:
        expected = gateway.create(order)
    headers = b"content-type: application/json\r\ncontent-encoding: " + encoding + b"\r\n"
    with (
        one_answer(_answer(headers, compress(answers[0]))) as server,
        Gateway(FakeProvider, {"base_url": server.url}) as gateway,
    ):
        payment = gateway.create(order)
    assert payment.pay_url == expected.pay_url
    assert payment.amount == order.amount
