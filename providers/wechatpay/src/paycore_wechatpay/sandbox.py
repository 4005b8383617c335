"""A local WeChat Pay (API v3) for the demo and the tests: ``paycore sandbox --provider wechatpay``.

It generates the merchant's API key, the platform's key and an APIv3 key at start
(the account block it prints holds them), checks every request's ``Authorization``
as the platform does (with code of its own, not the provider's; a bad one is
answered 401 ``SIGN_ERROR``), signs every answer over its ``Wechatpay-*`` headers,
serves a cashier page behind ``code_url`` and ``h5_url``, and notifies each paid
order with a signed JSON envelope whose resource is sealed with the APIv3 key,
resending until the merchant answers any 2xx::

    with WechatpaySandbox(SandboxOptions(profile="fast")) as sandbox:
        gateway = paycore.Gateway("wechatpay", sandbox.account_settings())
        gateway.create(order)
        sandbox.pay(order.order_id)
        attempts = sandbox.wait_for_notifications(order.order_id)

Modes: public-key mode (default: the platform signs with a public key named
``PUB_KEY_ID_...``) and certificate mode (``--certificates``: an authority of its
own issues the platform certificate, ``GET /v3/certificates`` serves it sealed;
`WechatpaySandbox.rotate_certificate` issues a new one and signs with it).
Profiles: ``document`` (WeChat Pay's schedule: 15 s, 15 s, 30 s, 3 min, 10 min,
20 min, 30 min three times, 1 h, 3 h three times, 6 h twice after the first try), ``fast`` (0.05 s).
Faults: ``duplicate``, ``wrong_sign``, ``stale_timestamp``, ``unknown_serial``
(answers and notifications), ``bad_ciphertext`` (notifications), ``slow``
(answers after 3 s), ``error_json`` (every API call answers 500
``SYSTEM_ERROR``), ``closed`` (new orders are created closed).
Credentials (``SandboxOptions.credentials``): ``apiv3_key``, ``private_key``.
"""

from __future__ import annotations

import enum
import hashlib
import html
import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import paycore
from paycore.sandbox import LoopbackSandbox, MerchantAnswer, SandboxOptions, admin_response
from paycore_wechatpay._sandbox_keys import (
    Authority,
    checked_authorization,
    generated_keys,
    new_apiv3_key,
    pem_private,
    pem_public,
    seal,
    signature,
)
from paycore_wechatpay._sandbox_trades import Answer, Refund, Trade, TradeBook, now, refusal

__all__ = ["PROFILES", "WechatpayFault", "WechatpaySandbox"]

DEFAULT_MCHID = "1900000109"
DEFAULT_APPID = "wxd678efh567hg6787"
#: the wait before each notification try
PROFILES: Mapping[str, tuple[float, ...]] = {
    "document": (0, 15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600),
    "fast": (0, 0.05, 0.05, 0.05, 0.05),
}
_SLOW_SECONDS = 3.0
_STALE_SECONDS = 600
_CREATE_ENDPOINTS = ("native", "h5", "jsapi", "app")
_ORDER_PREFIX = "/v3/pay/transactions/out-trade-no/"
_REFUNDS = "/v3/refund/domestic/refunds"


class WechatpayFault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on the real platform."""

    DUPLICATE = "duplicate"  # one more notification after the acknowledgement
    WRONG_SIGN = "wrong_sign"  # answers and notifications signed with another key
    STALE_TIMESTAMP = "stale_timestamp"  # answers and notifications signed with a timestamp 10 minutes old
    UNKNOWN_SERIAL = "unknown_serial"  # answers and notifications name a key the merchant does not know
    BAD_CIPHERTEXT = "bad_ciphertext"  # notifications whose sealed resource does not open
    SLOW = "slow"  # API answers after 3 s
    ERROR_JSON = "error_json"  # every API call answers 500 SYSTEM_ERROR
    CLOSED = "closed"  # new orders are created closed


class WechatpaySandbox(LoopbackSandbox[WechatpayFault]):
    """WeChat Pay API v3 on a loopback socket, with generated keys."""

    name = "wechatpay"
    fault_type = WechatpayFault
    profiles = PROFILES
    default_profile = "document"
    unsupported_options = ("state_path", "channels", "strict")
    credential_names = frozenset({"apiv3_key", "private_key"})

    def __init__(self, options: SandboxOptions | None = None, *, certificates: bool = False) -> None:
        if options is not None and options.secret_key is not None:
            raise paycore.InvalidRequest(
                "the wechatpay sandbox has no single secret key: give credentials apiv3_key and private_key"
            )
        # Credentials are read before the socket is bound: a refusal leaves nothing open.
        given = options.credentials if options is not None else {}
        apiv3_key = given.get("apiv3_key") or new_apiv3_key()
        if not apiv3_key.isascii() or len(apiv3_key) != 32:
            raise paycore.InvalidRequest("the wechatpay sandbox's apiv3_key must be 32 ASCII characters")
        given_key = _private_key(given["private_key"]) if "private_key" in given else None
        super().__init__(options, acknowledged=_acknowledged)
        self.mchid = self.options.merchant_id or DEFAULT_MCHID
        merchant_key, self._platform_key, self._wrong_key = generated_keys()
        self._merchant_key = given_key or merchant_key
        self.apiv3_key = apiv3_key
        self.merchant_serial_no = _serial_of(self._merchant_key)
        # Named after the key, not the merchant: sandboxes of one process share the platform key, and a
        # second merchant's notification then fails only on its mchid (as a provider must check).
        self.public_key_id = "PUB_KEY_ID_01" + _serial_of(self._platform_key)[:28]
        self._authority = Authority() if certificates or self.options.certificates else None
        if self._authority is not None:
            self._authority.issue(self._platform_key, self.mchid)
        self._folder = Path(tempfile.mkdtemp(prefix="paycore-wechatpay-sandbox-"))
        (self._folder / "apiclient_key.pem").write_bytes(pem_private(self._merchant_key))
        (self._folder / "apiclient_key.pem").chmod(0o600)
        (self._folder / "pub_key.pem").write_bytes(pem_public(self._platform_key))
        self._book = TradeBook(self.mchid, DEFAULT_APPID)

    def __repr__(self) -> str:
        return f"<WechatpaySandbox {self.url} mchid={self.mchid!r} profile={self.profile!r}>"

    @property
    def keys_folder(self) -> Path:
        """Where the generated keys are (removed when the sandbox stops)."""
        return self._folder

    def account_settings(self) -> dict[str, Any]:
        """Settings of a ``wechatpay`` account on this sandbox (keys as file paths; the APIv3 key as text)."""
        verification = (
            {"platform_public_key": str(self._folder / "pub_key.pem"), "platform_public_key_id": self.public_key_id}
            if self._authority is None
            else {}
        )
        return {
            "mchid": self.mchid,
            "appid": DEFAULT_APPID,
            "private_key": str(self._folder / "apiclient_key.pem"),
            "merchant_serial_no": self.merchant_serial_no,
            "apiv3_key": self.apiv3_key,
            **verification,
            "base_url": self.url,
        }

    def closed(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def rotate_certificate(self) -> str:
        """Certificate mode: issue a new platform certificate and sign with it from now on; its serial."""
        if self._authority is None:
            raise paycore.NotSupported("the wechatpay sandbox rotates certificates in certificate mode only")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._authority.serial(self._authority.issue(key, self.mchid))

    # -- signing ------------------------------------------------------------------------------------------

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        """The Wechatpay-* headers of an answer or a notification, faults applied."""
        if self._authority is not None:
            certificate, key = self._authority.issued[-1]
            serial = self._authority.serial(certificate)
        else:
            key, serial = self._platform_key, self.public_key_id
        if WechatpayFault.WRONG_SIGN in self.faults:
            key = self._wrong_key
        if WechatpayFault.UNKNOWN_SERIAL in self.faults:
            serial = "PUB_KEY_ID_0000000000000000000000000000" if self._authority is None else "7" * 40
        stamp = int(time.time()) - (_STALE_SECONDS if WechatpayFault.STALE_TIMESTAMP in self.faults else 0)
        nonce = secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": str(stamp),
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature((str(stamp), nonce, body), key),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _answer(self, answer: Answer) -> httpx.Response:
        status, data = answer
        body = b"" if data is None else json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Request-ID": secrets.token_hex(16), **self._signed_headers(body)}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return httpx.Response(status, content=body, headers=headers)

    # -- the buyer, and notifications ---------------------------------------------------------------------

    def pay(self, order_id: str) -> None:
        """The buyer pays; WeChat Pay then notifies the merchant (resent until any 2xx)."""
        paid = self._book.pay(order_id)
        if isinstance(paid, str):
            raise paycore.InvalidRequest(paid)
        resource = self._book.transaction(paid)
        self._notify(paid.order_id, paid.notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction", resource)

    def fail(self, order_id: str) -> None:
        """The buyer's payment fails (PAYERROR); WeChat Pay notifies no failure."""
        with self._book.lock:
            trade = self._book.trades.get(order_id)
            if trade is None:
                raise paycore.InvalidRequest(f"the wechatpay sandbox has no order {order_id!r}")
            if trade.state == "NOTPAY":
                trade.state = "PAYERROR"

    def _notify_refund(self, trade: Trade, refund: Refund) -> None:
        resource = {
            "mchid": self.mchid,
            "out_trade_no": trade.order_id,
            "transaction_id": trade.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_no,
            "refund_status": refund.status,
            "success_time": refund.created,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": trade.total,
                "refund": refund.amount,
                "payer_total": trade.total,
                "payer_refund": refund.amount,
            },
        }
        self._notify(trade.order_id, refund.notify_url, f"REFUND.{refund.status}", "退款成功", "refund", resource)

    def _notify(
        self, order_id: str, url: str, event_type: str, summary: str, original_type: str, resource: dict[str, Any]
    ) -> None:
        plain = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = seal(plain, self.apiv3_key, original_type)
        if WechatpayFault.BAD_CIPHERTEXT in self.faults:
            flipped = "A" if sealed["ciphertext"][0] != "A" else "B"
            sealed["ciphertext"] = flipped + sealed["ciphertext"][1:]
        envelope = {
            "id": f"EV-{secrets.token_hex(12)}",
            "create_time": now(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {"original_type": original_type, **sealed},
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

        def send(client: httpx.Client) -> httpx.Response:
            # Signed anew for each try, as the platform does: a resent notification has a fresh timestamp.
            headers = {"Content-Type": "application/json", **self._signed_headers(body)}
            return client.post(url, content=body, headers=headers)

        self.resender.deliver(order_id, url, send, duplicate=WechatpayFault.DUPLICATE in self.faults)

    # -- the platform's HTTP side --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/admin/"):
            return admin_response(request, self)
        if path.startswith("/cashier/"):
            return self._cashier(request)
        if not path.startswith("/v3/"):
            return httpx.Response(404, text="not found")
        if WechatpayFault.SLOW in self.faults:
            time.sleep(_SLOW_SECONDS)
        problem = checked_authorization(
            request.headers.get("authorization", ""),
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            body=request.content,
            mchid=self.mchid,
            serial_no=self.merchant_serial_no,
            key=self._merchant_key.public_key(),
        )
        if problem is not None:
            return self._answer(refusal(401, "SIGN_ERROR", problem))
        if WechatpayFault.ERROR_JSON in self.faults:
            return self._answer(refusal(500, "SYSTEM_ERROR", "系统错误"))
        body: dict[str, Any] = {}
        if request.content:
            try:
                parsed = json.loads(request.content)
            except ValueError:
                return self._answer(refusal(400, "PARAM_ERROR", "请求体不是合法的 JSON"))
            if not isinstance(parsed, dict):
                return self._answer(refusal(400, "PARAM_ERROR", "请求体不是 JSON 对象"))
            body = parsed
        return self._answer(self._route(request.method, path, request.url.params.get("mchid", ""), body))

    def _route(self, method: str, path: str, mchid: str, body: dict[str, Any]) -> Answer:
        if method == "GET" and path == "/v3/certificates":
            return self._certificates()
        if method == "POST" and path.startswith("/v3/pay/transactions/"):
            endpoint = path.removeprefix("/v3/pay/transactions/")
            if endpoint in _CREATE_ENDPOINTS:
                return self._create(endpoint, body)
        if path.startswith(_ORDER_PREFIX):
            order_id, _, action = path.removeprefix(_ORDER_PREFIX).partition("/")
            if method == "GET" and not action:
                return self._book.query(order_id, mchid)
            if method == "POST" and action == "close":
                return self._book.close(order_id, body)
        if method == "POST" and path == _REFUNDS:
            answer, trade, refund = self._book.refund(body)
            if trade is not None and refund is not None and refund.notify_url:
                self._notify_refund(trade, refund)
            return answer
        if method == "GET" and path.startswith(_REFUNDS + "/"):
            return self._book.refund_query(path.removeprefix(_REFUNDS + "/"))
        return refusal(404, "NOT_FOUND", "请求的资源不存在")

    def _create(self, endpoint: str, body: dict[str, Any]) -> Answer:
        trade = self._book.open(endpoint, body, closed=WechatpayFault.CLOSED in self.faults)
        if not isinstance(trade, Trade):
            return trade
        if endpoint == "native":
            return 200, {"code_url": f"{self.url}/cashier/{trade.token}"}
        if endpoint == "h5":
            return 200, {"h5_url": f"{self.url}/cashier/{trade.token}?prepay_id={trade.token}&package=2150917749"}
        return 200, {"prepay_id": trade.token}

    def _certificates(self) -> Answer:
        if self._authority is None:
            return refusal(404, "NOT_FOUND", "商户已切换为微信支付公钥模式, 无可用的平台证书")
        data = []
        for certificate, _ in self._authority.issued:
            pem = certificate.public_bytes(serialization.Encoding.PEM)
            data.append(
                {
                    "serial_no": self._authority.serial(certificate),
                    "effective_time": certificate.not_valid_before_utc.isoformat(timespec="seconds"),
                    "expire_time": certificate.not_valid_after_utc.isoformat(timespec="seconds"),
                    "encrypt_certificate": seal(pem, self.apiv3_key, "certificate"),
                }
            )
        return 200, {"data": data}

    def _cashier(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        with self._book.lock:
            trade = next((trade for trade in self._book.trades.values() if parts[1:2] == [trade.token]), None)
        if trade is None or len(parts) > 3:
            return httpx.Response(404, text="no such trade")
        redirect = parse_qs(request.url.query.decode("ascii", "replace")).get("redirect_url", [""])[0]
        if request.method == "POST" and parts[2:] in (["pay"], ["fail"]):
            try:
                (self.pay if parts[2] == "pay" else self.fail)(trade.order_id)
            except paycore.InvalidRequest as exc:
                return httpx.Response(409, text=str(exc))
            if parts[2] == "pay" and redirect.startswith(("http://", "https://")):
                return httpx.Response(302, headers={"location": redirect})
            result = "paid" if parts[2] == "pay" else "failed"
            return httpx.Response(
                200, text=f"<p id='result'>{result}</p>", headers={"content-type": "text/html; charset=utf-8"}
            )
        back = f"?redirect_url={quote(redirect, safe='')}" if redirect else ""
        yuan = f"{trade.total / 100:.2f}" if trade.total < 10**15 else str(trade.total)
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>WeChat Pay sandbox cashier</title></head><body>'
            f"<h1>{html.escape(trade.description)}</h1><p>¥<span id='amount'>{yuan}</span> · "
            f"{html.escape(trade.order_id)} · <span id='status'>{html.escape(trade.state)}</span></p>"
            f'<form method="post" action="/cashier/{trade.token}/pay{html.escape(back)}">'
            '<button id="pay">Pay</button></form>'
            f'<form method="post" action="/cashier/{trade.token}/fail"><button id="fail">Fail</button></form>'
            "</body></html>"
        )
        return httpx.Response(200, text=page, headers={"content-type": "text/html; charset=utf-8"})


def _private_key(value: str) -> rsa.RSAPrivateKey:
    """The merchant's private key given as a credential: PEM text, or the path of a PEM file."""
    try:
        data = value.encode() if "-----BEGIN" in value else Path(value).expanduser().read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError):
        raise paycore.InvalidRequest("the wechatpay sandbox's private_key credential is no readable PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise paycore.InvalidRequest("the wechatpay sandbox's private_key credential is not an RSA key")
    return key


def _acknowledged(answer: str) -> bool:
    """WeChat Pay takes any 2xx as the merchant's acknowledgement, whatever the body."""
    return isinstance(answer, MerchantAnswer) and 200 <= answer.status_code < 300


def _serial_of(key: rsa.RSAPrivateKey) -> str:
    """A stand-in for the merchant certificate's serial number: 40 hex digits derived from the public key."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
