"""``paycore sign explain`` and ``paycore check``: what they say, and that no key is ever in it."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import httpx
import pytest

import paycore
from paycore.cli import main
from paycore.signatures import KEY_PLACEHOLDER
from paycore.testing import FakeProvider, LoopbackServer
from tests.seam_providers import GetPay

EPAY_KEY = "epay-merchant-key-0123456789"
JUHE_KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"


def epay_signed(fields: dict[str, str], key: str = EPAY_KEY) -> dict[str, str]:
    text = "&".join(f"{name}={fields[name]}" for name in sorted(fields) if fields[name])
    return {**fields, "sign": hashlib.md5((text + key).encode()).hexdigest(), "sign_type": "MD5"}


def juhe_signed(fields: dict[str, str], *, sign_attach: bool = False) -> str:
    signed = {name: value for name, value in fields.items() if name != "attach" or sign_attach}
    text = "&".join(f"{name}={signed[name]}" for name in sorted(signed) if signed[name] not in ("", "0"))
    sign = hashlib.md5(f"{text}&key={JUHE_KEY}".encode()).hexdigest().upper()
    unsigned_last = {name: value for name, value in fields.items() if name != "attach"}
    # attach goes last, as the gateway sends it: it runs to the end of the body
    return urlencode({**unsigned_last, "sign": sign, "attach": fields.get("attach", "")})


EPAY_FIELDS = {
    "pid": "1001",
    "trade_no": "T20261128",
    "out_trade_no": "A1",
    "type": "alipay",
    "name": "tea",
    "money": "1.00",
    "trade_status": "TRADE_SUCCESS",
    "param": "",
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "paycore.toml"
    path.write_text(
        f"""
default = "shop"
[accounts.shop]
provider = "epay"
base_url = "https://pay.example.com"
merchant_id = "1001"
secret_key = "{EPAY_KEY}"

[accounts.juhe]
provider = "juhe"
base_url = "https://gateway.example.com"
merchant_id = "10002"
secret_key = "{JUHE_KEY}"
"""
    )
    return str(path)


def explain(capsys, config, *args: str) -> tuple[int, str]:
    code = main(["sign", "explain", "--config", config, *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_genuine_epay_notification_is_explained_as_matching(capsys, config):
    query = urlencode(epay_signed(EPAY_FIELDS))
    code, output = explain(capsys, config, "--method", "GET", "--query", query)
    assert code == 0
    assert "account shop (provider epay)" in output
    signed = "money=1.00&name=tea&out_trade_no=A1&pid=1001&trade_no=T20261128&trade_status=TRADE_SUCCESS&type=alipay"
    assert f"signed:   {signed}{KEY_PLACEHOLDER}" in output
    assert "left out: param, sign, sign_type" in output
    assert "1. epay v1: MATCHED" in output
    assert "verdict: the signature matches the 'epay v1' rule" in output
    assert EPAY_KEY not in output


def test_a_wrong_key_is_explained_and_exits_3(capsys, config):
    query = urlencode(epay_signed(EPAY_FIELDS, key="another-key"))
    code, output = explain(capsys, config, "--method", "GET", "--query", query, "--json")
    assert code == 3
    data = json.loads(output)
    assert data["candidates"][0]["matched"] is False
    assert data["received"] == epay_signed(EPAY_FIELDS, key="another-key")["sign"]
    # A prefix to compare with the gateway's own log, never the signature itself.
    genuine = epay_signed(EPAY_FIELDS)["sign"]
    assert data["candidates"][0]["digest"] == genuine[:6] + "…"
    assert genuine not in output
    assert data["verdict"].startswith("no rule gives the received signature")
    assert EPAY_KEY not in output


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_explaining_a_tampered_message_never_prints_the_signature_that_would_forge_it(capsys, config, as_json):
    # Run on a notification whose amount was raised, the full digest would be a valid signature for it.
    tampered = {**EPAY_FIELDS, "money": "9999.00"}
    query = urlencode({**tampered, "sign": epay_signed(EPAY_FIELDS)["sign"], "sign_type": "MD5"})
    code, output = explain(capsys, config, "--method", "GET", "--query", query, *(["--json"] if as_json else []))
    assert code == 3
    forging = epay_signed(tampered)["sign"]
    assert forging not in output
    assert forging.upper() not in output
    fields = {
        "memberid": "10002",
        "orderid": "E1",
        "transaction_id": "T1",
        "amount": "100.0000",
        "datetime": "20261128120000",
        "returncode": "00",
    }
    genuine_sign = dict(httpx.QueryParams(juhe_signed(fields)))["sign"]
    tampered_juhe = {**fields, "amount": "9999.0000"}
    forging = dict(httpx.QueryParams(juhe_signed(tampered_juhe)))["sign"]
    body = urlencode({**tampered_juhe, "sign": genuine_sign})
    code, output = explain(capsys, config, "--account", "juhe", "--body", body, *(["--json"] if as_json else []))
    assert code == 3
    assert forging not in output
    assert forging.lower() not in output


def test_an_ambiguous_message_is_refused_whatever_its_signature(capsys, config):
    forged = {name: value for name, value in EPAY_FIELDS.items() if name != "out_trade_no"}
    forged["name"] = "tea&out_trade_no=A1"  # signs the same string as the genuine one
    genuine_sign = epay_signed(EPAY_FIELDS)["sign"]
    query = urlencode({**forged, "sign": genuine_sign})
    code, output = explain(capsys, config, "--method", "GET", "--query", query)
    assert code == 3
    assert "1. epay v1: MATCHED" in output
    assert "but the message is refused: field 'name' holds one of '&='" in output


def test_juhe_shows_each_rule_tried_and_which_matched(capsys, config):
    fields = {
        "memberid": "10002",
        "orderid": "E1",
        "transaction_id": "T1",
        "amount": "100.0000",
        "datetime": "20261128120000",
        "returncode": "00",
        "attach": "cart7",
    }
    body = juhe_signed(fields, sign_attach=True)
    code, output = explain(capsys, config, "--account", "juhe", "--body", body)
    assert code == 0
    assert "1. reference: no match" in output
    assert "2. attach signed: MATCHED" in output
    assert f"transaction_id=T1&key={KEY_PLACEHOLDER}" in output
    assert JUHE_KEY not in output
    code, output = explain(capsys, config, "--account", "juhe", "--body", juhe_signed(fields))
    assert code == 0
    assert "1. reference: MATCHED" in output
    assert "left out: attach" in output


def test_the_fake_explains_too():
    fake = paycore.testing.FakeGateway()
    with paycore.Gateway(FakeProvider, transport=httpx.MockTransport(fake)) as gateway:
        order = paycore.Order(
            amount="1.00",
            channel="alipay_qr",
            subject="t",
            notify_url="https://s.example/n",
            return_url="https://s.example/r",
        )
        gateway.create(order)
        explanation = gateway.explain_signature(fake.pay(order.order_id))
    assert explanation.matched is not None
    assert "fake-secret" not in json.dumps(explanation.candidates[0].__dict__)


def test_a_secret_a_provider_leaves_in_is_masked():
    class Careless(FakeProvider):
        @paycore.hookimpl
        def explain_signature(self, request):
            key = self.settings.secret_key.get_secret_value()
            candidate = paycore.SignatureCandidate(label=key, signed_text=f"a=1&key={key}", digest="x", matched=False)
            return paycore.SignatureExplanation(rule=f"uses {key}", received=None, candidates=(candidate,), problem=key)

    with paycore.Gateway(Careless, {"secret_key": "a-long-enough-secret"}) as gateway:
        explanation = gateway.explain_signature(b"a=1")
    assert "a-long-enough-secret" not in repr(explanation)
    assert explanation.candidates[0].signed_text == f"a=1&key={KEY_PLACEHOLDER}"
    assert explanation.verdict() == "no signature was received"


def test_a_provider_that_cannot_explain_says_so(capsys, tmp_path):
    with paycore.Gateway(GetPay, {"base_url": "https://x.example"}) as gateway, pytest.raises(paycore.NotSupported):
        gateway.explain_signature(b"a=1")


# -- paycore check --------------------------------------------------------------------------------------------


def test_check_reports_errors_and_warnings_without_secrets(capsys, tmp_path):
    path = tmp_path / "paycore.toml"
    path.write_text(
        """
[accounts.weak]
provider = "juhe"
base_url = "http://pay.example.com"
merchant_id = "10002"
secret_key = "changeme-please"

[accounts.sandboxed]
provider = "juhe"
base_url = "https://pay.example.com"
merchant_id = "10002"
secret_key = "paycore-sandbox-public-test-key"

[accounts.broken]
provider = "epay"
base_url = "ftp://pay.example.com"
"""
    )
    code = main(["check", "--config", str(path), "--offline", "--notify-url", "http://10.0.0.5/pay/notify"])
    output = capsys.readouterr().out
    assert code == 2
    lines = output.splitlines()
    assert any(line.startswith("broken: error: account 'broken': invalid settings") for line in lines)
    assert "weak: warning: base_url http://pay.example.com is plain http: requests and answers can be read" in lines
    assert "weak: warning: secret secret_key looks like a placeholder" in lines
    assert "sandboxed: warning: secret secret_key is the public sandbox test key" in lines
    assert any("notify URL http://10.0.0.5/pay/notify/weak is not https" in line for line in lines)
    assert any("notify URL http://10.0.0.5/pay/notify/weak is not on a public host" in line for line in lines)
    assert "changeme-please" not in output


def test_check_reaches_the_gateway_and_passes_a_clean_account(capsys, tmp_path):
    with LoopbackServer(lambda request: httpx.Response(404)) as gateway:
        path = tmp_path / "paycore.toml"
        path.write_text(
            f"""
[accounts.main]
provider = "epay"
base_url = "{gateway.url}"
merchant_id = "1001"
secret_key = "kq8FJ2nL0pX7vR3tY6wZ9bC4"
"""
        )
        code = main(["check", "--config", str(path), "--notify-url", "https://shop.example.com/pay/notify", "--json"])
    findings = json.loads(capsys.readouterr().out)
    assert code == 0, findings
    assert [finding["level"] for finding in findings] == ["ok", "ok"]
    assert findings[1]["message"].startswith(f"gateway {gateway.url} answered HTTP 404 in ")


def test_check_warns_about_an_unreachable_gateway(capsys, tmp_path):
    path = tmp_path / "paycore.toml"
    path.write_text(
        """
[accounts.main]
provider = "juhe"
base_url = "http://127.0.0.1:9"
merchant_id = "10002"
secret_key = "kq8FJ2nL0pX7vR3tY6wZ9bC4"
"""
    )
    assert main(["check", "--config", str(path), "--account", "main"]) == 1
    assert "main: warning: gateway http://127.0.0.1:9 unreachable: ConnectError" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("paycore-sandbox-public-test-key", "is the public sandbox test key"),
        ("your_key_here_please", "looks like a placeholder"),
        ("xxxxxxxxxxxxxxxxxxxx", "looks like a placeholder"),
        ("1234567890", "looks like a placeholder"),
        ("short-but-random", None),
        ("s3cr3t", "is shorter than 16 characters"),
        ("kq8FJ2nL0pX7vR3tY6wZ9bC4", None),
    ],
)
def test_placeholder_secrets(secret, reason):
    from paycore._check import secret_placeholder_reason

    assert secret_placeholder_reason(secret) == reason


def test_check_with_nothing_configured(capsys, tmp_path):
    (tmp_path / "empty.toml").write_text("")
    assert main(["check", "--config", str(tmp_path / "empty.toml")]) == 2
    assert "no accounts configured" in capsys.readouterr().err
