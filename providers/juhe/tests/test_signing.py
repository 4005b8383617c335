"""Known vectors, each cross-checked by the independent signer of conftest.py.

The hard-coded signs were computed with ``printf '%s' '…&key=…' | md5sum``,
a third implementation that shares no code with either.
"""

from __future__ import annotations

import pytest
from paycore_juhe import sign
from paycore_juhe._signing import signing_string

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"

SPEC_CREATE = {
    "pay_amount": "0.01",
    "pay_applydate": "2016-12-26 18:18:18",
    "pay_bankcode": "903",
    "pay_callbackurl": "http://www.yourdomain.com/demo/page.php",
    "pay_memberid": "10002",
    "pay_notifyurl": "http://www.yourdomain.com/demo/server.php",
    "pay_orderid": "E20161226181818123456",
}
QUERY_REQUEST = {"pay_memberid": "10002", "pay_orderid": "E2026112618181812345"}
NOTIFICATION = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "100.0000",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}
NOTIFICATION_TRUE_AMOUNT = {**NOTIFICATION, "true_amount": "99.9900"}
QUERY_ANSWER = {
    "memberid": "10002",
    "orderid": "E2026112618181812345",
    "amount": "100.00",
    "time_end": "2026-11-26 18:20:00",
    "transaction_id": "20261126182000000001",
    "returncode": "00",
    "trade_state": "SUCCESS",
}

VECTORS = [
    pytest.param(SPEC_CREATE, "F47CE633CBE2B3CF2F9ECCD6D6167425", id="spec-create"),
    pytest.param(QUERY_REQUEST, "EAA4FF2F7CC3A4EBEDE05613E0B3214B", id="query-request"),
    pytest.param(NOTIFICATION, "FF7ADF5F4D70DCCE0322931D4E343441", id="notification"),
    pytest.param(NOTIFICATION_TRUE_AMOUNT, "074023EF8D5BDD8A7B2B0DC8551E42F8", id="notification-true-amount"),
    pytest.param(QUERY_ANSWER, "BA8B8FFF81CC5A60110164B8C283F04A", id="query-answer"),
]


@pytest.mark.parametrize(("fields", "expected"), VECTORS)
def test_known_vectors(fields, expected, helpers):
    assert sign(fields, KEY) == expected
    assert helpers.sign(fields, KEY) == expected


def test_signing_string_sorts_and_drops_empty_values():
    assert signing_string({"b": "2", "a": "1", "c": "", "d": "0"}) == "a=1&b=2"
    assert signing_string({"b": "2", "a": "1", "d": "0"}, keep_zero=True) == "a=1&b=2&d=0"


def test_sign_is_upper_case_hex():
    value = sign(QUERY_REQUEST, KEY)
    assert value == value.upper()
    assert len(value) == 32


def test_key_changes_the_sign():
    assert sign(QUERY_REQUEST, KEY) != sign(QUERY_REQUEST, KEY + "x")
