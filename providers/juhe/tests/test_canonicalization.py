"""Canonicalization forgeries: a signed string with more than one reading is refused.

The juhe signed string joins ``k=v`` with ``&`` over decoded values and drops
PHP-empty ones, so without care a value holding ``&``/``=`` moves a field boundary
without changing the string, and a present ``""``/``"0"`` field goes unsigned. These
tests take genuine messages signed by the independent signer in conftest and re-cut
them every way the string allows, in every encoding a merchant can hand over.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycore_juhe import parse_browser_return

from paycore import (
    Gateway,
    MalformedAmount,
    MissingField,
    PaymentStatus,
    ProtocolError,
    SignatureError,
    VerificationError,
)

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
GENUINE = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "100.0000",
    "true_amount": "99.9900",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}
SIGNED_ORDER = sorted(GENUINE)
ADJACENT = list(itertools.pairwise(SIGNED_ORDER))


def _raw(fields: dict[str, str]) -> bytes:
    # The reference gateway concatenates; a value holding & or = must then travel
    # percent-encoded, which the verifier decodes.
    return "&".join(f"{quote(name, safe='')}={quote(value, safe=' :')}" for name, value in fields.items()).encode()


ENCODINGS = {
    "raw": _raw,
    "form": lambda fields: urlencode(fields).encode(),
    "mapping": dict,
}


def _folded(helpers, left: str, right: str, leftover: str | None) -> dict[str, str]:
    """The genuine notification with ``right`` folded into ``left``'s value: same signed string."""
    fields = dict(GENUINE)
    fields["sign"] = helpers.sign(GENUINE, KEY)
    fields[left] = f"{GENUINE[left]}&{right}={GENUINE[right]}"
    if leftover is None:
        del fields[right]
    else:
        fields[right] = leftover
    # The forged message still signs to the same digest: the ambiguity is real.
    assert helpers.sign({k: v for k, v in fields.items() if k != "sign"}, KEY) == fields["sign"]
    return fields


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("leftover", [None, "", "0"], ids=["dropped", "empty", "zero"])
@pytest.mark.parametrize(("left", "right"), ADJACENT, ids=[f"{a}+{b}" for a, b in ADJACENT])
def test_folding_a_field_into_its_neighbour_is_refused(paycore_any_gateway, helpers, left, right, leftover, encoding):
    forged = ENCODINGS[encoding](_folded(helpers, left, right, leftover))
    with pytest.raises(VerificationError):
        paycore_any_gateway(None).verify_notification(forged)


def test_the_reported_forgery_is_refused(paycore_any_gateway, helpers):
    # transaction_id swallows true_amount: the underpayment would read as a full payment.
    fields = _folded(helpers, "transaction_id", "true_amount", None)
    order = ["memberid", "orderid", "transaction_id", "amount", "datetime", "returncode", "sign"]
    body = "&".join(f"{name}={quote(fields[name], safe=' ')}" for name in order)
    assert "transaction_id=20261126182000000001%26true_amount%3D99.9900" in body
    with pytest.raises(SignatureError, match="transaction_id"):
        paycore_any_gateway(None).verify_notification(body.encode())


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_name_holding_a_separator_is_refused(paycore_any_gateway, helpers, encoding):
    # "amount=100.0000&datetime" as a name with the datetime's value re-cuts the same string.
    fields = {name: value for name, value in GENUINE.items() if name != "datetime"}
    fields = {**fields, "amount=100.0000&datetime": GENUINE["datetime"]}
    del fields["amount"]
    fields["sign"] = helpers.sign(GENUINE, KEY)
    with pytest.raises(VerificationError):
        paycore_any_gateway(None).verify_notification(ENCODINGS[encoding](fields))


def test_a_present_empty_field_changes_nothing(paycore_any_gateway, helpers):
    # Unsigned under the reference rule: present or not, the outcome is the genuine one.
    genuine = {name: v for name, v in GENUINE.items() if name != "true_amount"}
    body = helpers.notification_body(genuine) + b"&true_amount="
    notification = paycore_any_gateway(None).verify_notification(body)
    assert notification.paid_amount == Decimal("100")
    assert notification.status is PaymentStatus.PAID


def test_a_zero_true_amount_is_refused_whether_signed_or_not(paycore_any_gateway, helpers):
    # "0" drops out of the reference string, but no positive amount is "0": refused regardless.
    genuine = {name: v for name, v in GENUINE.items() if name != "true_amount"}
    with pytest.raises(MalformedAmount, match="true_amount"):
        paycore_any_gateway(None).verify_notification(helpers.notification_body(genuine) + b"&true_amount=0")


def test_an_unsigned_zero_never_stands_for_a_required_field(paycore_any_gateway, helpers):
    # returncode "0" is dropped from the reference string: it is not signed, so not read.
    genuine = {name: v for name, v in GENUINE.items() if name != "returncode"}
    body = helpers.notification_body(genuine) + b"&returncode=0"
    with pytest.raises(MissingField, match="returncode"):
        paycore_any_gateway(None).verify_notification(body)


@pytest.mark.parametrize("duplicate", ["amount=1.0000", "true_amount=1.0000", "returncode=01"])
def test_a_repeated_field_is_refused(paycore_any_gateway, helpers, duplicate):
    # First-wins and last-wins parsers would read it differently: no reading is chosen.
    with pytest.raises(VerificationError, match="more than once"):
        paycore_any_gateway(None).verify_notification(helpers.notification_body(GENUINE) + b"&" + duplicate.encode())


_VALUE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="&=%+\x00", exclude_categories=("Cs", "Cc", "Zs")),
    min_size=1,
    max_size=12,
).filter(lambda value: value != "0")


# The fixtures used are stateless: reusing them across examples is sound.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    transaction_id=_VALUE,
    pair=st.sampled_from(ADJACENT),
    leftover=st.sampled_from([None, "", "0"]),
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_no_refolding_of_any_genuine_notification_verifies(
    settings_juhe, helpers, transaction_id, pair, leftover, encoding
):
    genuine = {**GENUINE, "transaction_id": transaction_id}
    left, right = pair
    fields = {**genuine, "sign": helpers.sign(genuine, KEY)}
    fields[left] = f"{genuine[left]}&{right}={genuine[right]}"
    if leftover is None:
        del fields[right]
    else:
        fields[right] = leftover
    with Gateway("juhe", settings_juhe) as gateway, pytest.raises(VerificationError):
        gateway.verify_notification(ENCODINGS[encoding](fields))


# The fixtures used are stateless: reusing them across examples is sound.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transaction_id=_VALUE, encoding=st.sampled_from(sorted(ENCODINGS)))
def test_every_genuine_notification_verifies_as_sent(settings_juhe, helpers, transaction_id, encoding):
    genuine = {**GENUINE, "transaction_id": transaction_id}
    fields = {**genuine, "sign": helpers.sign(genuine, KEY)}
    with Gateway("juhe", settings_juhe) as gateway:
        notification = gateway.verify_notification(ENCODINGS[encoding](fields))
    assert notification.transaction_id == transaction_id
    assert notification.paid_amount == Decimal("99.99")


# The query answer: the same string rule over JSON fields.

QUERY = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "amount": "100.0000",
    "true_amount": "99.9900",
    "time_end": "2026-11-26 18:20:00",
    "transaction_id": "20261126182000000001",
    "returncode": "00",
    "trade_state": "SUCCESS",
}
QUERY_ADJACENT = list(itertools.pairwise(sorted(QUERY)))


def _answer(payload: dict[str, str]):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=json.dumps(payload))

    return handler


@pytest.mark.parametrize("leftover", [None, "", "0"], ids=["dropped", "empty", "zero"])
@pytest.mark.parametrize(("left", "right"), QUERY_ADJACENT, ids=[f"{a}+{b}" for a, b in QUERY_ADJACENT])
def test_query_answer_refolding_is_refused(paycore_any_gateway, helpers, left, right, leftover):
    answer = {**QUERY, "sign": helpers.sign(QUERY, KEY)}
    answer[left] = f"{QUERY[left]}&{right}={QUERY[right]}"
    if leftover is None:
        del answer[right]
    else:
        answer[right] = leftover
    # Without its orderid the answer has no known shape at all: refused as ProtocolError.
    with pytest.raises((VerificationError, ProtocolError)):
        paycore_any_gateway(_answer(answer)).query(QUERY["orderid"])


def test_query_answer_with_an_unsigned_zero_true_amount_reads_as_signed(paycore_any_gateway, helpers):
    genuine = {name: value for name, value in QUERY.items() if name != "true_amount"}
    answer = {**genuine, "sign": helpers.sign(genuine, KEY), "true_amount": "0"}
    payment = paycore_any_gateway(_answer(answer)).query(QUERY["orderid"])
    assert payment.paid_amount == Decimal("100")


# The browser return: same rule when a sign is present.


@pytest.mark.parametrize(("left", "right"), ADJACENT, ids=[f"{a}+{b}" for a, b in ADJACENT])
def test_browser_return_refolding_is_refused(settings_juhe, helpers, left, right):
    with Gateway("juhe", settings_juhe) as gateway, pytest.raises(VerificationError):
        parse_browser_return(_folded(helpers, left, right, "0"), gateway=gateway)


@pytest.fixture
def settings_juhe(settings):
    return settings
