"""A local Alipay open platform for the demo and the tests: ``paycore sandbox --provider alipay``.

It generates two RSA key pairs, the merchant's and its own (once per process), and
writes them as PEM files in a temporary folder: the account block it prints names them.
It checks every request's RSA2 signature as Alipay does (with code of its own,
not the provider's), answers with signed envelopes, serves a cashier page (Pay /
Fail; precreate's QR content links to it), and notifies each paid order by POST,
resending until the answer is exactly ``success``::

    with AlipaySandbox(SandboxOptions(profile="fast")) as sandbox:
        gateway = paycore.Gateway("alipay", sandbox.account_settings())
        gateway.create(order)
        sandbox.pay(order.order_id)
        attempts = sandbox.wait_for_notifications(order.order_id)

Profiles: ``document`` (Alipay's schedule: 4 min, 10 min, 10 min, 1 h, 2 h, 6 h,
15 h after the first try), ``fast`` (0.05 s). Faults: ``duplicate``,
``wrong_sign``, ``slow`` (answers after 3 s), ``error_envelope`` (every API call
answers a signed ``20000`` refusal), ``closed`` (new orders are created closed).
Admin API: ``POST /admin/orders/{order_id}/pay`` and ``/fail``,
``GET /admin/orders/{order_id}/notifications``, ``PUT /admin/faults``.
"""

from __future__ import annotations

import base64
import enum
import html
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import paycore
from paycore.sandbox import LoopbackSandbox, SandboxOptions, admin_response
from paycore_alipay._sandbox_keys import SELLER_ID, CertificateAuthority, generated_keys, rsa2_sign, signed_content
from paycore_alipay._sandbox_trades import Trade, TradeBook, biz_of, now

__all__ = ["PROFILES", "AlipayFault", "AlipaySandbox"]

DEFAULT_APP_ID = "2021000000000001"
#: the wait before each notification try
PROFILES: Mapping[str, tuple[float, ...]] = {
    "document": (0, 240, 600, 600, 3600, 7200, 21600, 54000),
    "fast": (0, 0.05, 0.05, 0.05, 0.05),
}
_SLOW_SECONDS = 3.0
#: what an API method's name looks like (alipay.trade.query)
_METHOD_NAME = re.compile(r"[a-z]+(\.[a-z]+)+")


class AlipayFault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on the real platform."""

    DUPLICATE = "duplicate"  # one more notification after "success"
    WRONG_SIGN = "wrong_sign"  # notifications and answers signed with another key
    SLOW = "slow"  # API answers after 3 s
    ERROR_ENVELOPE = "error_envelope"  # every API call answers a signed 20000 refusal
    CLOSED = "closed"  # new orders are created closed


class AlipaySandbox(LoopbackSandbox[AlipayFault]):
    """Alipay's open platform on a loopback socket, with generated keys."""

    name = "alipay"
    fault_type = AlipayFault
    profiles = PROFILES
    default_profile = "document"
    unsupported_options = ("state_path", "channels", "strict")

    def __init__(self, options: SandboxOptions | None = None, *, certificates: bool = False) -> None:
        if options is not None and options.secret_key is not None:
            raise paycore.InvalidRequest("the alipay sandbox generates its RSA keys: it takes no --secret-key")
        super().__init__(options, acknowledged=lambda answer: answer.strip() == "success")
        self.app_id = self.options.merchant_id or DEFAULT_APP_ID
        # Two key pairs: the merchant's (the sandbox checks requests with its public half) and Alipay's own,
        # and a third to sign wrongly with.
        self._merchant_key, self._alipay_key, self._wrong_key = generated_keys()
        self._folder = Path(tempfile.mkdtemp(prefix="paycore-alipay-sandbox-"))
        self._write_keys()
        #: certificate mode: requests must carry the app's and the root's SNs; answers name Alipay's certificate
        self._authority = (
            CertificateAuthority(self._alipay_key, self._merchant_key, self.app_id)
            if certificates or self.options.certificates
            else None
        )
        if self._authority is not None:
            self._write_certificates(self._authority)
        self._book = TradeBook()
        #: the trades by order id, and the lock over them (the book's own)
        self._trades = self._book.trades
        self._lock = self._book.lock

    def __repr__(self) -> str:
        return f"<AlipaySandbox {self.url} app_id={self.app_id!r} profile={self.profile!r}>"

    def _write_keys(self) -> None:
        private = self._merchant_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = self._alipay_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self._folder / "app_private_key.pem").write_bytes(private)
        (self._folder / "app_private_key.pem").chmod(0o600)
        (self._folder / "alipay_public_key.pem").write_bytes(public)

    @property
    def keys_folder(self) -> Path:
        """Where the generated keys are (removed when the sandbox stops)."""
        return self._folder

    def _write_certificates(self, authority: CertificateAuthority) -> None:
        def pem(*certificates: x509.Certificate) -> bytes:
            return b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates)

        (self._folder / f"appCertPublicKey_{self.app_id}.crt").write_bytes(pem(authority.app))
        (self._folder / "alipayCertPublicKey_RSA2.crt").write_bytes(pem(authority.alipay, authority.intermediate))
        (self._folder / "alipayRootCert.crt").write_bytes(pem(authority.root))

    def account_settings(self) -> dict[str, Any]:
        """Settings of an ``alipay`` account on this sandbox: the keys (or certificates) as file paths."""
        verification = (
            {"alipay_public_key": str(self._folder / "alipay_public_key.pem")}
            if self._authority is None
            else {
                "app_cert": str(self._folder / f"appCertPublicKey_{self.app_id}.crt"),
                "alipay_cert": str(self._folder / "alipayCertPublicKey_RSA2.crt"),
                "alipay_root_cert": str(self._folder / "alipayRootCert.crt"),
            }
        )
        return {
            "app_id": self.app_id,
            "private_key": str(self._folder / "app_private_key.pem"),
            **verification,
            "gateway": f"{self.url}/gateway.do",
        }

    def closed(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    # -- the buyer, faults and what happened --------------------------------------------------------------

    def _trade(self, order_id: str) -> Trade:
        trade = self._trades.get(order_id)
        if trade is None:
            raise paycore.InvalidRequest(f"the alipay sandbox has no order {order_id!r}")
        return trade

    def pay(self, order_id: str) -> None:
        """The buyer pays at the cashier; Alipay then notifies the merchant (POST, resent until ``success``)."""
        with self._lock:
            trade = self._trade(order_id)
            if trade.status != "WAIT_BUYER_PAY":
                raise paycore.InvalidRequest(f"order {order_id!r} is {trade.status}: it cannot be paid")
            trade.status = "TRADE_SUCCESS"
            trade.paid_at = now()
        self._notify(trade)

    def fail(self, order_id: str) -> None:
        """The buyer gives up and the trade closes; Alipay sends no notification for an unpaid close."""
        with self._lock:
            trade = self._trade(order_id)
            if trade.status == "WAIT_BUYER_PAY":
                trade.status = "TRADE_CLOSED"

    def _signing_key(self) -> rsa.RSAPrivateKey:
        return self._wrong_key if AlipayFault.WRONG_SIGN in self.faults else self._alipay_key

    def _signed_fields(self, fields: dict[str, str]) -> dict[str, str]:
        content = signed_content(fields, ("sign", "sign_type"))
        return {**fields, "sign_type": "RSA2", "sign": rsa2_sign(content.encode(), self._signing_key())}

    def _notify(self, trade: Trade) -> None:
        fields = {
            "notify_time": now(),
            "notify_type": "trade_status_sync",
            "notify_id": f"N{trade.trade_no}",
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "trade_status": trade.status,
            "total_amount": trade.total_amount,
            "receipt_amount": trade.total_amount,
            "buyer_pay_amount": trade.total_amount,
            "seller_id": SELLER_ID,
            "gmt_create": trade.created,
            "gmt_payment": trade.paid_at,
            "subject": trade.subject,
            "passback_params": trade.passback_params,
        }
        body = urlencode(self._signed_fields({name: value for name, value in fields.items() if value}))
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
        duplicate = AlipayFault.DUPLICATE in self.faults
        self.resender.deliver(
            trade.order_id,
            trade.notify_url,
            lambda client: client.post(trade.notify_url, content=body, headers=headers),
            duplicate=duplicate,
        )

    # -- the platform's HTTP side --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/admin/"):
            return admin_response(request, self)
        if path.startswith("/cashier/"):
            return self._cashier(request)
        if path != "/gateway.do":
            return httpx.Response(404, text="not found")
        try:
            params = dict(parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True))
            if request.method == "POST":
                params.update(parse_qsl(request.content.decode("ascii"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            return httpx.Response(400, text="the request is not URL-encoded")
        method = params.get("method", "")
        if not _METHOD_NAME.fullmatch(method):
            # The method becomes the answer's key: a name of anything else would write the answer itself.
            method = ""
        problem = self._check(params)
        if method in ("alipay.trade.page.pay", "alipay.trade.wap.pay"):
            if problem:
                return httpx.Response(
                    400, text=f"<h3>{html.escape(problem[1])}</h3>", headers={"content-type": "text/html"}
                )
            return self._browser_pay(params)
        if AlipayFault.SLOW in self.faults:
            time.sleep(_SLOW_SECONDS)
        if problem:
            return self._envelope(
                method, {"code": problem[0], "msg": "Invalid Arguments", "sub_msg": problem[1]}, signed=False
            )
        if AlipayFault.ERROR_ENVELOPE in self.faults:
            return self._envelope(
                method,
                {
                    "code": "20000",
                    "msg": "Service Currently Unavailable",
                    "sub_code": "isp.unknow-error",
                    "sub_msg": "系统繁忙",
                },
            )
        handlers: dict[str, Callable[[dict[str, str], dict[str, str]], dict[str, str]]] = {
            "alipay.trade.precreate": self._precreate,
            "alipay.trade.query": lambda biz, params: self._book.query(biz),
            "alipay.trade.close": lambda biz, params: self._book.close(biz),
            "alipay.trade.refund": lambda biz, params: self._book.refund(biz),
            "alipay.trade.fastpay.refund.query": lambda biz, params: self._book.refund_query(biz),
        }
        handler = handlers.get(method)
        if handler is None:
            return self._envelope(
                method or "error",
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "isv.invalid-method",
                    "sub_msg": "不存在的方法名",
                },
                signed=False,
            )
        biz = biz_of(params)
        if biz is None:
            return self._envelope(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-parameter",
                    "sub_msg": "biz_content 不合法",
                },
            )
        return self._envelope(method, handler(biz, params))

    def _check(self, params: dict[str, str]) -> tuple[str, str] | None:
        """Alipay's checks of the common parameters and the signature: (code, reason) or None."""
        for name in ("app_id", "method", "sign", "timestamp", "biz_content"):
            if not params.get(name):
                return "40001", f"缺少必选参数 {name}"
        if params["app_id"] != self.app_id:
            return "40002", "无效的AppID参数"
        if params.get("sign_type") != "RSA2" or params.get("charset", "utf-8").lower() != "utf-8":
            return "40002", "sign_type 或 charset 不合法"
        if self._authority is not None:
            if params.get("app_cert_sn") != self._authority.sn(self._authority.app):
                return "40002", "应用公钥证书序列号 app_cert_sn 不合法"
            if params.get("alipay_root_cert_sn") != self._authority.sn(self._authority.root):
                return "40002", "支付宝根证书序列号 alipay_root_cert_sn 不合法"
        try:
            signature = base64.b64decode(params["sign"], validate=True)
            content = signed_content(params, ("sign",)).encode()
            self._merchant_key.public_key().verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return "40002", "验签出错"
        return None

    def _envelope(self, method: str, response: dict[str, str], *, signed: bool = True) -> httpx.Response:
        name = method.replace(".", "_") + "_response" if method not in ("", "error") else "error_response"
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        body = f'{{"{name}":{text}'
        if self._authority is not None:
            body += f',"alipay_cert_sn":"{self._authority.sn(self._authority.alipay)}"'
        if signed:
            body += f',"sign":"{rsa2_sign(text.encode(), self._signing_key())}"'
        return httpx.Response(200, text=body + "}", headers={"content-type": "text/html;charset=utf-8"})

    def _precreate(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        trade = self._book.open(biz, params, closed=AlipayFault.CLOSED in self.faults)
        if not isinstance(trade, Trade):
            return trade
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade.order_id,
            "qr_code": f"{self.url}/cashier/{trade.trade_no}",
        }

    def _browser_pay(self, params: dict[str, str]) -> httpx.Response:
        biz = biz_of(params)
        if biz is None:
            return httpx.Response(400, text="<h3>biz_content 不合法</h3>", headers={"content-type": "text/html"})
        trade = self._book.open(biz, params, closed=AlipayFault.CLOSED in self.faults)
        if not isinstance(trade, Trade):
            return httpx.Response(
                400, text=f"<h3>{html.escape(trade['sub_msg'])}</h3>", headers={"content-type": "text/html"}
            )
        return httpx.Response(302, headers={"location": f"{self.url}/cashier/{trade.trade_no}"})

    def _cashier(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        trade = next((trade for trade in self._trades.values() if parts[1:2] == [trade.trade_no]), None)
        if trade is None or len(parts) > 3:
            return httpx.Response(404, text="no such trade")
        if request.method == "POST" and parts[2:] in (["pay"], ["fail"]):
            try:
                (self.pay if parts[2] == "pay" else self.fail)(trade.order_id)
            except paycore.InvalidRequest as exc:
                return httpx.Response(409, text=str(exc))
            if parts[2] == "pay" and trade.return_url:
                fields = {
                    "app_id": self.app_id,
                    "method": "alipay.trade.page.pay.return",
                    "charset": "utf-8",
                    "timestamp": now(),
                    "version": "1.0",
                    "out_trade_no": trade.order_id,
                    "trade_no": trade.trade_no,
                    "total_amount": trade.total_amount,
                    "seller_id": SELLER_ID,
                }
                joiner = "&" if "?" in trade.return_url else "?"
                return httpx.Response(
                    302, headers={"location": f"{trade.return_url}{joiner}{urlencode(self._signed_fields(fields))}"}
                )
            return httpx.Response(
                200,
                text=f"<p id='result'>{'paid' if parts[2] == 'pay' else 'closed'}</p>",
                headers={"content-type": "text/html; charset=utf-8"},
            )
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Alipay sandbox cashier</title></head><body>'
            f"<h1>{html.escape(trade.subject)}</h1><p>¥<span id='amount'>{html.escape(trade.total_amount)}</span> · "
            f"{html.escape(trade.order_id)} · <span id='status'>{html.escape(trade.status)}</span></p>"
            f'<form method="post" action="/cashier/{trade.trade_no}/pay"><button id="pay">Pay</button></form>'
            f'<form method="post" action="/cashier/{trade.trade_no}/fail"><button id="fail">Fail</button></form>'
            "</body></html>"
        )
        return httpx.Response(200, text=page, headers={"content-type": "text/html; charset=utf-8"})
