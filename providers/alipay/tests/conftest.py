"""Keys, a mock Alipay that signs with the openssl command line, and the plugin's fixtures pointed at alipay.

Nothing here uses paycore_alipay's signing code: the mock platform signs its
envelopes and notifications with ``openssl dgst -sha256 -sign``, so that a shared
bug cannot make both sides agree.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import hypothesis
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Examples are not timed: a deadline fails a test on a busy machine, and tests here are never timed.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")

APP_ID = "2021000000000001"


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        pytest.fail("the openssl command line is needed to cross-check RSA2 signatures (apt-get install openssl)")
    return found


class Keys:
    """Two key pairs as PEM files: the merchant's and Alipay's."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.merchant_private = self._write("merchant_private.pem", self.merchant, private=True)
        self.merchant_public = self._write("merchant_public.pem", self.merchant, private=False)
        self.alipay_private = self._write("alipay_private.pem", self.alipay, private=True)
        self.alipay_public = self._write("alipay_public.pem", self.alipay, private=False)

    def _write(self, name: str, key: rsa.RSAPrivateKey, *, private: bool) -> Path:
        if private:
            data = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        else:
            data = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        path = self.folder / name
        path.write_bytes(data)
        return path

    def openssl_sign(self, data: bytes, key: Path) -> str:
        """SHA256withRSA by the openssl command line, base64."""
        result = subprocess.run(
            [_openssl(), "dgst", "-sha256", "-sign", str(key)], input=data, capture_output=True, check=True
        )
        return base64.b64encode(result.stdout).decode()

    def openssl_verify(self, data: bytes, signature: str, key: Path) -> bool:
        signature_file = self.folder / "signature.bin"
        signature_file.write_bytes(base64.b64decode(signature))
        result = subprocess.run(
            [_openssl(), "dgst", "-sha256", "-verify", str(key), "-signature", str(signature_file)],
            input=data,
            capture_output=True,
            check=False,
        )
        return result.returncode == 0


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("alipay-keys"))


def longhand(fields: dict[str, str], unsigned: tuple[str, ...] = ("sign",)) -> str:
    """The documented signed string, written out here: sorted, non-empty, raw values."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name not in unsigned and fields[name])


class MockAlipay:
    """An Alipay gateway in miniature: checks the merchant's signature with openssl, answers signed envelopes."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.answers: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, str]] = []
        self.sign_with: Path = keys.alipay_private
        self.envelope: Callable[[str, str, str], str] | None = None  # (name, response text, sign) -> body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        self.requests.append(params)
        signed = longhand(params).encode()
        if not self.keys.openssl_verify(signed, params.get("sign", ""), self.keys.merchant_public):
            return self.reply(
                params.get("method", ""),
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-signature",
                    "sub_msg": "验签出错",
                },
            )
        return self.reply(params["method"], self.answers.get(params["method"], {"code": "10000", "msg": "Success"}))

    def reply(self, method: str, response: dict[str, Any], *, signed: bool = True) -> httpx.Response:
        name = method.replace(".", "_") + "_response"
        text = json.dumps(response, ensure_ascii=False)  # with spaces: a re-serialization would not verify
        sign = self.keys.openssl_sign(text.encode(), self.sign_with) if signed else ""
        if self.envelope is not None:
            body = self.envelope(name, text, sign)
        elif signed:
            body = f'{{"{name}": {text}, "sign": "{sign}"}}'
        else:
            body = f'{{"{name}": {text}}}'
        return httpx.Response(200, text=body, headers={"content-type": "text/html;charset=utf-8"})


@pytest.fixture
def mock_alipay(keys: Keys) -> MockAlipay:
    return MockAlipay(keys)


@pytest.fixture
def settings(keys: Keys) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "private_key": str(keys.merchant_private),
        "alipay_public_key": str(keys.alipay_public),
        "gateway": "https://openapi.alipay.com/gateway.do",
    }


@pytest.fixture
def paycore_provider() -> str:
    return "alipay"


@pytest.fixture
def paycore_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings


@pytest.fixture
def paycore_transport(mock_alipay: MockAlipay) -> httpx.MockTransport:
    return httpx.MockTransport(mock_alipay)
