"""The sandbox's own pieces, without a server: its independent signer, escaping, bodies, config."""

from __future__ import annotations

import re

import pytest
from paycore_juhe.sandbox import Fault, SandboxConfig, SandboxOrder, parse_faults
from paycore_juhe.sandbox._notifier import acknowledges, notification_body
from paycore_juhe.sandbox._reference import escape_like_php, md5_sign
from paycore_juhe.sandbox._store import Store

from paycore import ConfigError

SPEC_CREATE = {
    "pay_amount": "0.01",
    "pay_applydate": "2016-12-26 18:18:18",
    "pay_bankcode": "903",
    "pay_callbackurl": "http://www.yourdomain.com/demo/page.php",
    "pay_memberid": "10002",
    "pay_notifyurl": "http://www.yourdomain.com/demo/server.php",
    "pay_orderid": "E20161226181818123456",
}


def test_the_sandbox_signer_gives_the_spec_vector():
    assert md5_sign(SPEC_CREATE, "t4ig5acnpx4fet4zapshjacjd9o4bhbi") == "F47CE633CBE2B3CF2F9ECCD6D6167425"


def test_the_sandbox_signer_drops_php_empty_values():
    assert md5_sign({"a": "1", "b": "0", "c": ""}, "k") == md5_sign({"a": "1"}, "k")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("http://x/y?a=1&b=2", "http://x/y?a=1&amp;b=2"),
        ("<b>tea</b>", "tea"),
        ("it's", "it&#039;s"),
        ('say "hi"', "say &quot;hi&quot;"),
        ("plain-value_1.0", "plain-value_1.0"),
    ],
)
def test_inputs_are_escaped_as_the_php_software_does(raw, escaped):
    assert escape_like_php(raw) == escaped


def _order(**overrides: str | None) -> SandboxOrder:
    fields = {
        "order_id": "A1",
        "merchant_id": "10002",
        "amount": "300",
        "bankcode": "903",
        "notify_url": "http://127.0.0.1:9/n",
        "callback_url": "http://127.0.0.1:9/r",
        "attach": "x%26y",
        "subject": "tea",
        "applydate": "2026-11-26 18:18:18",
        "status": "paid",
        "transaction_id": "T1",
    }
    fields.update(overrides)
    return SandboxOrder(**fields)


def test_notification_body_is_concatenated_in_the_software_order():
    body = notification_body(_order(), {Fault.TRUE_AMOUNT}, SandboxConfig())
    names = [part.split("=", 1)[0] for part in body.split("&")]
    assert names == [
        "memberid",
        "orderid",
        "transaction_id",
        "amount",
        "true_amount",
        "datetime",
        "returncode",
        "sign",
        "attach",
    ]
    assert "amount=300.0000&true_amount=299.9900&" in body
    assert re.search(r"&datetime=[0-9]{14}&", body)  # date("YmdHis"), as the reference software writes it
    assert body.endswith("&attach=x%26y")


def test_the_document_time_format_on_request():
    body = notification_body(_order(), set(), SandboxConfig(notify_datetime_format="%Y-%m-%d %H:%M:%S"))
    assert re.search(r"&datetime=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d&", body)  # unencoded: a raw space


def test_an_empty_attach_is_appended_all_the_same():
    body = notification_body(_order(attach=None), set(), SandboxConfig())
    assert body.endswith("&sign=" + body.split("&sign=")[1].split("&")[0] + "&attach=")


@pytest.mark.parametrize(
    ("answer", "reference", "strict"),
    [
        ("OK", True, True),
        ("ok", True, False),
        ("OK\n", True, False),
        ("\ufeffOK", True, False),
        ("token invalid", True, False),
        ("success", False, False),
        ("fail", False, False),
        ("", False, False),
        (None, False, False),
    ],
)
def test_acknowledgement_rules(answer, reference, strict):
    assert acknowledges(answer, strict=False) is reference
    assert acknowledges(answer, strict=True) is strict


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0, 301.0, True, "5"])
def test_slow_seconds_out_of_range_is_a_config_error(seconds):
    with pytest.raises(ConfigError, match="slow_seconds"):
        SandboxConfig(slow_seconds=seconds)


@pytest.mark.parametrize("interval", [float("nan"), float("inf"), -0.5, 4000.0])
def test_notify_interval_out_of_range_is_a_config_error(interval):
    with pytest.raises(ConfigError, match="notify_interval"):
        SandboxConfig(notify_interval=interval)


def test_state_file_is_created_private(tmp_path):
    path = tmp_path / "state.db"
    Store(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", [b"this is not sqlite at all, just text" * 100, b"SQLite format 3\0garbage"])
def test_a_state_file_that_is_not_sqlite_is_a_config_error(tmp_path, content):
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="state"):
        Store(str(path))


def test_a_sqlite_file_of_another_application_is_a_config_error(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE orders (id INTEGER, total REAL)")
    other.close()
    with pytest.raises(ConfigError, match="another application"):
        Store(str(path))


def test_failed_order_has_a_failure_returncode():
    assert "&returncode=01&" in notification_body(_order(status="failed"), set(), SandboxConfig())


def test_unknown_profile_and_fault_are_config_errors():
    with pytest.raises(ConfigError, match="document, realistic, fast"):
        SandboxConfig(profile="slowest")
    with pytest.raises(ConfigError, match="duplicate"):
        parse_faults(["meteor"])
    assert parse_faults(["slow", "html"]) == {Fault.SLOW, Fault.HTML}


def test_config_repr_hides_the_key():
    assert "sekrit" not in repr(SandboxConfig(secret_key="sekrit"))
