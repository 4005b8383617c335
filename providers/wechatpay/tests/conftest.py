"""Keys, a mock WeChat Pay that signs with the openssl command line, and the plugin's fixtures pointed at wechatpay.

Nothing here uses paycore_wechatpay's crypto: the mock platform checks the
merchant's ``Authorization`` with ``openssl dgst -sha256 -verify``, signs its
answers and notifications with ``openssl dgst -sha256 -sign``, and seals
notification resources with pycryptodome's AES-GCM, so that a shared bug cannot
make both sides agree.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import paycore

# Examples are not timed: a deadline fails a test on a busy machine, and tests here are never timed.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232019112100000000000000001234"
APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"
_AUTHORIZATION = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]*)",nonce_str="(?P<nonce>[^"]*)",'
    r'signature="(?P<signature>[^"]*)",timestamp="(?P<timestamp>[^"]*)",serial_no="(?P<serial>[^"]*)"$'
)


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        pytest.fail("the openssl command line is needed to cross-check the signatures (apt-get install openssl)")
    return found


class Keys:
    """Key pairs as PEM files: the merchant's API key, the platform's key and a stranger's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.merchant_private, self.merchant_public = self._pair("merchant")
        self.platform_private, self.platform_public = self._pair("platform")
        self.stranger_private, self.stranger_public = self._pair("stranger")

    def _pair(self, name: str) -> tuple[Path, Path]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = self.folder / f"{name}_private.pem"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = self.folder / f"{name}_public.pem"
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        return private, public

    def openssl_sign(self, data: bytes, key: Path) -> str:
        """SHA256withRSA by the openssl command line, base64."""
        result = subprocess.run(
            [_openssl(), "dgst", "-sha256", "-sign", str(key)], input=data, capture_output=True, check=True
        )
        return base64.b64encode(result.stdout).decode()

    def openssl_verify(self, data: bytes, signature: str, key: Path) -> bool:
        signature_file = self.folder / f"signature-{secrets.token_hex(4)}.bin"
        try:
            signature_file.write_bytes(base64.b64decode(signature))
        except ValueError:
            return False
        result = subprocess.run(
            [_openssl(), "dgst", "-sha256", "-verify", str(key), "-signature", str(signature_file)],
            input=data,
            capture_output=True,
            check=False,
        )
        signature_file.unlink()
        return result.returncode == 0

    def openssl_certificate(self, key: Path, serial: str) -> bytes:
        """A self-signed certificate (PEM) of the key at ``key`` with that serial, by the openssl command line."""
        out = self.folder / f"cert-{serial}.pem"
        subject = "/C=CN/O=Tenpay.com/CN=Tenpay.com Root CA"
        command = [_openssl(), "req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days", "30"]
        subprocess.run([*command, "-set_serial", f"0x{serial}", "-out", str(out)], check=True, capture_output=True)
        return out.read_bytes()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("wechatpay-keys"))


class Wx:
    """The platform's side of the protocol, written here for the tests (a fixture: ``wx``)."""

    mchid = MCHID
    appid = APPID
    merchant_serial = MERCHANT_SERIAL
    public_key_id = PUBLIC_KEY_ID
    apiv3_key = APIV3_KEY

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    @staticmethod
    def longhand(*lines: str | bytes) -> bytes:
        """The documented signed text, written out here: each line and a newline."""
        return b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)

    @staticmethod
    def seal(plain: bytes, *, key: str = APIV3_KEY, associated_data: str = "transaction") -> dict[str, str]:
        """AEAD_AES_256_GCM with pycryptodome: what the platform puts in a ``resource``."""
        nonce = secrets.token_hex(6)  # 12 characters, used as their ASCII bytes
        cipher = AES.new(key.encode(), AES.MODE_GCM, nonce=nonce.encode())
        cipher.update(associated_data.encode())
        ciphertext, tag = cipher.encrypt_and_digest(plain)
        return {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": associated_data,
            "ciphertext": base64.b64encode(ciphertext + tag).decode(),
        }

    def signed_headers(
        self,
        body: bytes,
        *,
        serial: str = PUBLIC_KEY_ID,
        key: Path | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The Wechatpay-* headers the platform puts on an answer or a notification, signed by openssl."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": self.keys.openssl_sign(
                self.longhand(stamp, nonce, body), key or self.keys.platform_private
            ),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    @staticmethod
    def transaction(order_id: str = "WX20261205001", **changes: Any) -> dict[str, Any]:
        """A paid transaction as the platform describes it (a notification's resource, a query's answer)."""
        resource: dict[str, Any] = {
            "appid": APPID,
            "mchid": MCHID,
            "out_trade_no": order_id,
            "transaction_id": "4200000985202612050000000001",
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": "2026-12-05T10:00:00+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": 990, "payer_total": 990, "currency": "CNY", "payer_currency": "CNY"},
        }
        resource.update(changes)
        return resource

    def envelope(
        self, resource: dict[str, Any], *, event_type: str = "TRANSACTION.SUCCESS", original_type: str = "transaction"
    ) -> dict[str, Any]:
        """A notification's JSON envelope, its resource sealed with the APIv3 key."""
        return {
            "id": "EV-2018022511223320873",
            "create_time": "2026-12-05T10:00:05+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                **self.seal(json.dumps(resource, ensure_ascii=False).encode(), associated_data=original_type),
            },
        }

    def signed(self, body: bytes, **header_options: Any) -> paycore.NotificationRequest:
        """A POSTed notification of ``body``, signed over its headers."""
        headers = {"content-type": "application/json", **self.signed_headers(body, **header_options)}
        return paycore.NotificationRequest(method="POST", path="/notify", headers=headers, body=body)

    def notification(
        self,
        resource: dict[str, Any],
        *,
        event_type: str = "TRANSACTION.SUCCESS",
        original_type: str = "transaction",
        **header_options: Any,
    ) -> paycore.NotificationRequest:
        """A genuine notification: the resource sealed with the APIv3 key, the envelope signed over headers."""
        envelope = self.envelope(resource, event_type=event_type, original_type=original_type)
        return self.signed(json.dumps(envelope, ensure_ascii=False).encode(), **header_options)


@pytest.fixture
def wx(keys: Keys) -> Wx:
    return Wx(keys)


Answer = tuple[int, dict[str, Any] | None]


class MockWechatpay:
    """WeChat Pay in miniature: checks the merchant's Authorization with openssl, answers signed by openssl."""

    def __init__(self, wx: Wx) -> None:
        self.wx = wx
        self.keys = wx.keys
        #: (method, path without query) -> answer; the default is 404 RESOURCE_NOT_EXISTS
        self.answers: dict[tuple[str, str], Answer] = {}
        self.requests: list[httpx.Request] = []
        #: how answers are signed: header options for `signed_headers`, or None to leave them unsigned
        self.signing: dict[str, Any] | None = {}
        #: rewrites a signed answer before it leaves (to replay, cut or change it)
        self.after: Callable[[httpx.Response], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        problem = self.authorization_problem(request)
        if problem is not None:
            return self.reply((401, {"code": "SIGN_ERROR", "message": problem}))
        answer = self.answers.get(
            (request.method, request.url.path), (404, {"code": "RESOURCE_NOT_EXISTS", "message": "无此资源"})
        )
        response = self.reply(answer)
        return response if self.after is None else self.after(response)

    def replay_first_answer(self) -> None:
        """From the second request on, a man in the middle answers with the first answer again, byte for byte."""
        captured: list[httpx.Response] = []

        def replay(response: httpx.Response) -> httpx.Response:
            if not captured:
                captured.append(response)
                return response
            first = captured[0]
            return httpx.Response(first.status_code, content=first.content, headers=first.headers)

        self.after = replay

    def authorization_problem(self, request: httpx.Request) -> str | None:
        found = _AUTHORIZATION.match(request.headers.get("authorization", ""))
        if found is None:
            return "Authorization 格式不正确"
        if (found["mchid"], found["serial"]) != (MCHID, MERCHANT_SERIAL):
            return "商户号或证书序列号不正确"
        signed = self.wx.longhand(
            request.method, request.url.raw_path.decode(), found["timestamp"], found["nonce"], request.content
        )
        if not self.keys.openssl_verify(signed, found["signature"], self.keys.merchant_public):
            return "签名错误"
        return None

    def reply(self, answer: Answer) -> httpx.Response:
        status, data = answer
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        headers = {"Request-ID": secrets.token_hex(8)}
        if self.signing is not None:
            headers.update(self.wx.signed_headers(body, **self.signing))
        if data is not None:
            headers["Content-Type"] = "application/json"
        return httpx.Response(status, content=body, headers=headers)


@pytest.fixture
def mock_wechatpay(wx: Wx) -> MockWechatpay:
    return MockWechatpay(wx)


@pytest.fixture
def settings(keys: Keys) -> dict[str, Any]:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "private_key": str(keys.merchant_private),
        "merchant_serial_no": MERCHANT_SERIAL,
        "apiv3_key": APIV3_KEY,
        "platform_public_key": str(keys.platform_public),
        "platform_public_key_id": PUBLIC_KEY_ID,
        # a base URL of its own per test: the platform keys (and answer nonces) are shared per account
        "base_url": f"https://api-{secrets.token_hex(4)}.mch.weixin.qq.com",
    }


@pytest.fixture
def paycore_provider() -> str:
    return "wechatpay"


@pytest.fixture
def paycore_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings


@pytest.fixture
def paycore_transport(mock_wechatpay: MockWechatpay) -> httpx.MockTransport:
    return httpx.MockTransport(mock_wechatpay)
