"""paycore.toolkit: the helpers provider authors use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paycore import GatewayError, MalformedNotification, toolkit


@pytest.mark.parametrize(
    "url",
    ["https://pay.example.com", "http://127.0.0.1:8080/base", "https://[::1]:443/x", "https://支付.example/api"],
)
def test_good_base_urls(url):
    assert toolkit.is_http_url(url, allow_query=False) is None
    assert toolkit.base_url(url + "/") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://pay.example.com", "http"),
        ("pay.example.com", "http"),
        ("https://", "http"),
        ("https://u:p@pay.example.com", "credentials"),
        ("https://u@pay.example.com", "credentials"),
        ("https://pay.example.com:0", "port"),
        ("https://pay.example.com:70000", "port"),
        ("https://pay.example.com:x", "port"),
        ("https://pay.example.com/a b", "whitespace"),
        ("https://pay.example.com/\r\nX: y", "whitespace"),
        ("https://pay.example.com/\x7f", "control"),
        ("https://pay.example.com/\udc80", "Unicode"),
        ("https://pay.example.com/?a=1", "query"),
        ("https://pay.example.com/#top", "query"),
        ('https://x"onmouseover=alert(1)/', "quotes"),
        ("https://pay.example.com/<script>", "angle brackets"),
        ("https://pay.example.com\\@evil.example/", "backslashes"),
        ("https://pay.example.com/{x}", "unencoded"),
    ],
)
def test_bad_base_urls_say_why_without_the_value(url, reason):
    with pytest.raises(ValueError, match=reason) as excinfo:
        toolkit.base_url(url)
    assert "u:p" not in str(excinfo.value)


def test_queries_allowed_where_asked():
    assert toolkit.is_http_url("https://shop.example/notify?order=1") is None


@pytest.mark.parametrize(("currency", "places"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("XYZ", 2)])
def test_minor_units(currency, places):
    assert toolkit.minor_units(currency) == places


# Amounts: checked against Python's own decimal formatting and arithmetic, which we did not write.


@given(st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2, allow_nan=False, allow_infinity=False))
def test_format_amount_agrees_with_python_formatting(amount):
    assert toolkit.format_amount(amount) == format(amount, ".2f")
    assert toolkit.plain_amount(toolkit.format_amount(amount)) == amount
    assert toolkit.to_minor_units(amount, "CNY") == int(amount * 100)
    assert toolkit.from_minor_units(int(amount * 100), "CNY") == amount


@pytest.mark.parametrize(
    ("amount", "places", "written"),
    [(Decimal("9.9"), 2, "9.90"), (Decimal(12), 2, "12.00"), (Decimal("1E+2"), 2, "100.00"), (Decimal(5), 0, "5")],
)
def test_format_amount_pads(amount, places, written):
    assert toolkit.format_amount(amount, places) == written


@pytest.mark.parametrize(
    "amount", [Decimal("9.999"), Decimal("-1.00"), Decimal("NaN"), Decimal("Infinity"), 9.99, 10, "9.90"]
)
def test_format_amount_never_rounds_or_guesses(amount):
    with pytest.raises(ValueError, match="amount"):
        toolkit.format_amount(amount)


def test_minor_units_follow_the_currency():
    assert toolkit.to_minor_units(Decimal(500), "JPY") == 500
    assert toolkit.to_minor_units(Decimal("1.234"), "KWD") == 1234
    assert toolkit.from_minor_units(1234, "KWD") == Decimal("1.234")
    with pytest.raises(ValueError, match="decimal places"):
        toolkit.to_minor_units(Decimal("9.995"), "CNY")
    for bad in (-1, True, 1.5, "990"):
        with pytest.raises(ValueError, match="whole number"):
            toolkit.from_minor_units(bad, "CNY")


@pytest.mark.parametrize("raw", ["300.0000", "0.01", "12", "0.00", "123456789012345.12345678"])
def test_plain_amounts_are_read_exactly(raw):
    assert toolkit.plain_amount(raw) == Decimal(raw)
    assert str(toolkit.plain_amount(raw)) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1e3",
        "-1.00",
        "+1.00",
        " 1.00",
        "1.00 ",
        "1,000.00",
        "NaN",
        "Infinity",
        ".5",
        "5.",
        "\uff11\uff12",
        "1234567890123456",
        "1.123456789",
    ],
)
def test_plain_amounts_refuse_what_no_gateway_writes(raw):
    assert toolkit.plain_amount(raw) is None


def test_plain_amount_places():
    assert toolkit.plain_amount("1.005", places=2) is None
    assert toolkit.plain_amount("1.00", places=2) == Decimal("1.00")


# JSON: Decimal-exact, checked against the standard library's parser.


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.decimals(allow_nan=False, allow_infinity=False, places=4),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
        max_leaves=20,
    )
)
def test_load_json_reads_what_the_standard_library_reads(value):
    text = json.dumps(value, default=str)  # Decimals become strings: compare structures
    assert toolkit.load_json(text) == json.loads(text)
    assert toolkit.load_json(text.encode()) == json.loads(text)


def test_load_json_keeps_amounts_as_written():
    data = toolkit.load_json(b'\xef\xbb\xbf{"amount": 100.10, "n": 3, "big": 1e2}')
    assert data == {"amount": Decimal("100.10"), "n": 3, "big": Decimal("1E+2")}
    assert str(data["amount"]) == "100.10"
    assert type(data["n"]) is int


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "not JSON"),
        (b"\xff{}", "UTF-8"),
        ('{"a": NaN}', "NaN"),
        ('{"a": -Infinity}', "Infinity"),
        ("[" * 100_000 + "]" * 100_000, "too deeply"),
        ('{"a": 1, "a": 2}', "key twice"),
        ('{"ok": {"code": "10000", "code": "40004"}}', "key twice"),
    ],
)
def test_load_json_refuses_with_a_value_error(data, reason):
    with pytest.raises(ValueError, match=reason) as excinfo:
        toolkit.load_json(data)
    assert excinfo.value.__cause__ is None


# Gateway times: checked against datetime.strptime.


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)).map(
        lambda t: t.replace(microsecond=0)
    )
)
def test_gateway_time_agrees_with_strptime(moment):
    zone = ZoneInfo("Asia/Shanghai")
    for form in ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"):
        raw = moment.strftime(form)
        assert toolkit.gateway_time(raw, zone) == datetime.strptime(raw, form).replace(tzinfo=zone)
    iso = moment.replace(tzinfo=timezone(timedelta(hours=8))).isoformat()
    assert toolkit.gateway_time(iso, UTC) == datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S%z")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "2026-11-28",
        "20261328000000",
        "2026-02-30 10:00:00",
        "2026-11-28T10:00:00",
        "\uff12" * 14,
        "2026/11/28 10:00:00",
        "1764324000",
    ],
)
def test_gateway_time_refuses_unknown_forms(raw):
    with pytest.raises(ValueError):  # noqa: PT011  # the message is the rule, checked above
        toolkit.gateway_time(raw, UTC)


# Signatures.


def test_first_match_finds_the_matching_rule_and_computes_no_more():
    computed = []

    def candidates():
        for digest in ("aa", "bb", "cc"):
            computed.append(digest)
            yield digest

    assert toolkit.first_match("bb", candidates()) == 1
    assert computed == ["aa", "bb"]
    assert toolkit.first_match(b"zz", [b"aa", "bb"]) is None
    assert toolkit.first_match("签", ["签"]) == 0  # not ASCII: compared as UTF-8, never raised


@given(st.text(max_size=8), st.lists(st.text(max_size=8), max_size=5))
def test_first_match_agrees_with_list_index(received, candidates):
    expected = candidates.index(received) if received in candidates else None
    assert toolkit.first_match(received, candidates) == expected
    assert toolkit.signature_matches(received, received)


def test_utf8():
    assert toolkit.utf8("支付") == "支付".encode()
    assert toolkit.utf8("\udc80") is None


def test_gateway_refusal_keeps_the_gateways_words_bounded():
    error = toolkit.gateway_refusal("create request", {"why": "余额不足"}, code=40004)
    assert isinstance(error, GatewayError)
    assert error.gateway_message == '{"why": "余额不足"}'
    assert error.gateway_code == "40004"
    assert "code 40004" in str(error)
    long = toolkit.gateway_refusal("query", "x" * 10_000)
    assert len(str(long)) < 300
    assert error.may_have_reached_gateway is False
    assert toolkit.gateway_refusal("query", None).gateway_message == "no reason given"


def test_unambiguous_pairs_refuses_what_could_be_cut_another_way():
    toolkit.unambiguous_pairs({"status": "paid", "trade_no": "T1", "name": "Green tea 绿茶"})
    for fields in ({"status": "paid&trade_no=T1"}, {"a=b": "1"}, {"x": "1=2"}, {"sign&x": "1"}):
        with pytest.raises(MalformedNotification, match="two readings"):
            toolkit.unambiguous_pairs(fields)
    toolkit.unambiguous_pairs({"note": "a=b"}, separators="&")  # a protocol that only joins with "&"


@pytest.mark.parametrize(
    "text", ['{"trade_no": "T\\ud800"}', '["\\udfff"]', '{"\\ud83d": 1}', '{"a": {"b": ["x\\ud800y"]}}']
)
def test_load_json_refuses_lone_surrogates(text):
    """JSON can escape half a character; such text cannot be printed, stored or signed: a ValueError, not a Payment."""
    assert "\\ud" in text
    assert json.loads(text) is not None
    with pytest.raises(ValueError, match="surrogate"):
        toolkit.load_json(text)
    assert toolkit.load_json('{"name": "\\u7eff\\u8336 \\ud83c\\udf75"}') == {"name": "绿茶 🍵"}


@pytest.mark.parametrize("url", ["https://xn--a.example", "https://\u2488.com"])
def test_base_url_refuses_hosts_that_cannot_be_sent_to(url):
    """Refused when the account loads (a ConfigError), not at the first payment (a ProviderError)."""
    with pytest.raises(ValueError, match="IDNA"):
        toolkit.base_url(url)


def test_unambiguous_pairs_refuses_what_is_not_text():
    for fields in ({"a": None}, {"a": 1}, {1: "a"}):
        with pytest.raises(MalformedNotification, match="not text"):
            toolkit.unambiguous_pairs(fields)
    with pytest.raises(ValueError, match="separators"):
        toolkit.unambiguous_pairs({"a": "b"}, separators="")


# -- form_pairs: parse_qsl's reading, cheaper --------------------------------------------------------------------

_FORM_ALPHABET = st.sampled_from([*"ab=&+%2Ff0-_.~ é绿", "%E7%BB%BF", "%D5", "%C2%A0", "%", "%%", "%2", "=="])


def _parse_qsl_reading(text: str, encoding: str, strict: bool):
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=strict, encoding=encoding, errors="strict")
    except ValueError as exc:  # UnicodeDecodeError included
        return type(exc) if isinstance(exc, UnicodeDecodeError) else ValueError


def _form_pairs_reading(text: str, encoding: str, strict: bool):
    try:
        return toolkit.form_pairs(text, encoding=encoding, strict=strict)
    except ValueError as exc:
        return type(exc) if isinstance(exc, UnicodeDecodeError) else ValueError


@hypothesis_settings(max_examples=600, deadline=None)
@given(
    st.lists(_FORM_ALPHABET, max_size=24).map("".join),
    st.sampled_from(["utf-8", "gbk"]),
    st.booleans(),
)
def test_form_pairs_reads_exactly_as_parse_qsl(text, encoding, strict):
    # The standard library is the independent reading: any difference is a parser differential.
    assert _form_pairs_reading(text, encoding, strict) == _parse_qsl_reading(text, encoding, strict)


@pytest.mark.parametrize(
    "text",
    ["a=1&b=2", "a=&b", "&&a=1&", "a=b=c", "a+b=c+d", "a%3Db=c%26d", "%E7%BB%BF=%E8%8C%B6", "=x", "a=%zz", "a=%"],
)
def test_form_pairs_on_the_usual_and_the_odd(text):
    for strict in (False, True):
        assert _form_pairs_reading(text, "utf-8", strict) == _parse_qsl_reading(text, "utf-8", strict)
    with pytest.raises(UnicodeDecodeError):
        toolkit.form_pairs("a=%D5", encoding="utf-8")
    assert toolkit.form_pairs("a=%C2%CC", encoding="gbk") == [("a", "绿")]


def test_in_currency_places_ignores_the_callers_decimal_traps():
    import decimal

    with decimal.localcontext() as strict:
        strict.traps[decimal.Rounded] = True
        strict.traps[decimal.Inexact] = True
        assert str(toolkit.in_currency_places(Decimal("9.9000"), "CNY")) == "9.90"
        assert str(toolkit.in_currency_places(Decimal("9.9050"), "CNY")) == "9.9050"
        assert str(toolkit.in_currency_places(Decimal("100"), "JPY")) == "100"
        assert str(toolkit.in_currency_places(Decimal("1E+80"), "CNY")) == "1E+80"


def test_url_whitespace_and_control_characters_are_exactly_those_str_isspace_and_c0_name():
    # is_http_url reads them with one regular expression: the same set as the per-character check it replaced.
    import sys

    from paycore.toolkit import _URL_SPACE_OR_CONTROL

    differ = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (chr(code).isspace() or code < 0x20 or code == 0x7F) != bool(_URL_SPACE_OR_CONTROL.search(chr(code)))
    ]
    assert differ == []


def test_a_remembered_url_verdict_is_the_same_verdict():
    for _ in range(2):  # the second time from the cache
        assert toolkit.is_http_url("https://shop.example/notify") is None
        assert toolkit.is_http_url("https://shop.example/a b") == "must not contain whitespace or control characters"
        assert toolkit.is_http_url("https://xn--a.example/") == "must have a host name that can be looked up (IDNA)"
        assert toolkit.is_http_url("https://shop.example/?a=1", allow_query=False) == "must have no query or fragment"
        assert toolkit.is_http_url("https://shop.example/?a=1") is None


@hypothesis.given(
    raw=hypothesis.strategies.from_regex(r"[0-9]{1,16}(\.[0-9]{0,9})?", fullmatch=True)
    | hypothesis.strategies.text(max_size=12),
    currency=hypothesis.strategies.sampled_from(["CNY", "JPY", "KWD", "USD"]),
)
def test_plain_amount_in_reads_as_plain_amount_then_in_currency_places(raw, currency):
    # The one-pass reading of the hot path against the two readings it stands for.
    plain = toolkit.plain_amount(raw)
    expected = None if plain is None else toolkit.in_currency_places(plain, currency)
    found = toolkit.plain_amount_in(raw, currency)
    assert (None if found is None else str(found)) == (None if expected is None else str(expected))
