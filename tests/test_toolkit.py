"""paycore.toolkit: the helpers provider authors use."""

from __future__ import annotations

import pytest

from paycore import toolkit


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
