"""The epay signature, checked against the openssl command line on strings built longhand here."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycore_epay._signing import sign, signed_string
from paycore_epay.sandbox import _sign as sandbox_sign

KEY = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"
FIELDS = {
    "pid": "1001",
    "type": "alipay",
    "out_trade_no": "20160806151343349",
    "notify_url": "http://www.pay.com/notify_url.php",
    "return_url": "http://www.pay.com/return_url.php",
    "name": "VIP会员",
    "money": "1.00",
    "sitename": "",
    "sign_type": "MD5",
}
# Sorted by name, the empty sitename and sign_type left out, the key appended with no separator:
LONGHAND = (
    "money=1.00&name=VIP会员&notify_url=http://www.pay.com/notify_url.php&out_trade_no=20160806151343349"
    "&pid=1001&return_url=http://www.pay.com/return_url.php&type=alipay"
)


def openssl_md5(text: str) -> str:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command line is needed to cross-check the signature (apt-get install openssl)")
    result = subprocess.run([openssl, "dgst", "-md5", "-r"], input=text.encode(), capture_output=True, check=True)
    return result.stdout.split()[0].decode()


def test_the_signed_string_is_the_documented_one():
    assert signed_string(FIELDS) == LONGHAND


def test_the_signature_is_openssls_md5_of_string_and_key():
    expected = openssl_md5(LONGHAND + KEY)
    assert sign(FIELDS, KEY) == expected
    assert sign({**FIELDS, "sign": "anything"}, KEY) == expected  # sign itself is never signed
    assert expected == expected.lower()
    assert len(expected) == 32


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="&="), max_size=20)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(names, values, max_size=8), st.text(min_size=1, max_size=40).filter(lambda key: "\x00" not in key)
)
def test_any_fields_sign_as_openssl_says(fields, key):
    text = "&".join(
        f"{name}={fields[name]}" for name in sorted(fields) if fields[name] and name not in ("sign", "sign_type")
    )
    assert sign(fields, key) == openssl_md5(text + key) == sandbox_sign(fields, key)
