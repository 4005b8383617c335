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
import functools
import hashlib
import html
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

import paycore
from paycore.sandbox import LoopbackSandbox, SandboxOptions, admin_response

__all__ = ["PROFILES", "AlipayFault", "AlipaySandbox"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
#: the wait before each notification try
PROFILES: Mapping[str, tuple[float, ...]] = {
    "document": (0, 240, 600, 600, 3600, 7200, 21600, 54000),
    "fast": (0, 0.05, 0.05, 0.05, 0.05),
}
_SLOW_SECONDS = 3.0
#: yuan as Alipay writes them: no sign, exponent, underscore, space or third decimal
_YUAN = re.compile(r"(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?")
_MAX_YUAN = Decimal("100000000")
#: what an API method's name looks like (alipay.trade.query)
_METHOD_NAME = re.compile(r"[a-z]+(\.[a-z]+)+")


def _yuan(raw: str) -> Decimal | None:
    """A positive amount of yuan written as Alipay accepts it, or None."""
    if not _YUAN.fullmatch(raw):
        return None
    amount = Decimal(raw)
    return amount if Decimal("0.01") <= amount <= _MAX_YUAN else None


def _biz_of(params: Mapping[str, str]) -> dict[str, str] | None:
    """``biz_content`` as a JSON object of text values, or None (however hostile the text)."""
    try:
        biz = json.loads(params.get("biz_content", ""))
    except (ValueError, RecursionError):
        return None
    if not isinstance(biz, dict) or not all(isinstance(value, str) for value in biz.values()):
        return None
    try:
        # JSON escapes can spell lone surrogates: text that can be neither stored, shown nor signed.
        json.dumps(biz, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return biz


class AlipayFault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on the real platform."""

    DUPLICATE = "duplicate"  # one more notification after "success"
    WRONG_SIGN = "wrong_sign"  # notifications and answers signed with another key
    SLOW = "slow"  # API answers after 3 s
    ERROR_ENVELOPE = "error_envelope"  # every API call answers a signed 20000 refusal
    CLOSED = "closed"  # new orders are created closed


@dataclass
class _Trade:
    order_id: str
    trade_no: str
    total_amount: str
    subject: str
    notify_url: str
    return_url: str
    passback_params: str
    created: str
    status: str = "WAIT_BUYER_PAY"
    paid_at: str = ""
    refunds: dict[str, str] = field(default_factory=dict)  # out_request_no → amount


def _content(fields: Mapping[str, str], unsigned: Iterable[str]) -> str:
    """Alipay's side of the signed string, written apart from the provider's."""
    skipped = set(unsigned)
    pairs = sorted((name, value) for name, value in fields.items() if name not in skipped and value)
    return "&".join(name + "=" + value for name, value in pairs)


def _rsa2_sign(data: bytes, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


@functools.cache
def _generated_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Generated once per process: 2048-bit keys take a while, and every sandbox of a test run would wait."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))  # type: ignore[return-value]  # three, as asked


class _CertificateAuthority:
    """Certificates as Alipay's authority issues them, for certificate mode: a root, an intermediate, and
    Alipay's and the app's certificates (the sandbox's own code, apart from the provider's)."""

    def __init__(self, alipay_key: rsa.RSAPrivateKey, app_key: rsa.RSAPrivateKey, app_id: str) -> None:
        root_key, intermediate_key = _authority_keys()
        self.root = self._issue(_authority_name("Sandbox Root R1"), root_key.public_key(), None, root_key, ca=True)
        self.intermediate = self._issue(
            _authority_name("Sandbox Class 2 R1"), intermediate_key.public_key(), self.root, root_key, ca=True, serial=2
        )
        self.alipay = self._issue(
            _holder_name("Alipay sandbox"), alipay_key.public_key(), self.intermediate, intermediate_key, serial=3
        )
        self.app = self._issue(
            _holder_name(f"{SELLER_ID}-{app_id}"), app_key.public_key(), self.intermediate, intermediate_key, serial=4
        )

    @staticmethod
    def _issue(
        subject: x509.Name,
        key: rsa.RSAPublicKey,
        issuer: x509.Certificate | None,
        signing_key: rsa.RSAPrivateKey,
        *,
        ca: bool = False,
        serial: int = 1,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer is not None else subject)
            .public_key(key)
            .serial_number(0x5A0D_B0C5 * 100 + serial)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signing_key, hashes.SHA256())
        )

    @staticmethod
    def sn(certificate: x509.Certificate) -> str:
        """Alipay's name for a certificate: MD5 of its issuer (RFC 2253) and its serial in decimal."""
        text = certificate.issuer.rfc4514_string() + str(certificate.serial_number)
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _authority_name(common_name: str) -> x509.Name:
    """An authority's name with the attributes of Alipay's own (``CN=…,OU=…,O=…,C=…``).

    Merchant SDKs write a certificate's issuer as exactly ``CN=…,OU=…,O=…,C=…`` when
    they compute its SN, taking each part for granted: an issuer without an ``OU``
    (or with parts Alipay's have not) gives them another SN than the gateway's.
    """
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _holder_name(common_name: str) -> x509.Name:
    """A certificate holder's name as Alipay writes them: ``CN=…,OU=…,O=…,L=…,ST=…,C=…``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Zhejiang"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Hangzhou"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paycore sandbox"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Alipay"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@functools.cache
def _authority_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The root's and the intermediate's keys, generated once per process and only in certificate mode."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))  # type: ignore[return-value]  # two, as asked


def _now() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


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
        self._merchant_key, self._alipay_key, self._wrong_key = _generated_keys()
        self._folder = Path(tempfile.mkdtemp(prefix="paycore-alipay-sandbox-"))
        self._write_keys()
        #: certificate mode: requests must carry the app's and the root's SNs; answers name Alipay's certificate
        self._authority = (
            _CertificateAuthority(self._alipay_key, self._merchant_key, self.app_id)
            if certificates or self.options.certificates
            else None
        )
        if self._authority is not None:
            self._write_certificates(self._authority)
        self._trades: dict[str, _Trade] = {}
        self._lock = threading.Lock()
        self._count = 0

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

    def _write_certificates(self, authority: _CertificateAuthority) -> None:
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

    def _trade(self, order_id: str) -> _Trade:
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
            trade.paid_at = _now()
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
        content = _content(fields, ("sign", "sign_type"))
        return {**fields, "sign_type": "RSA2", "sign": _rsa2_sign(content.encode(), self._signing_key())}

    def _notify(self, trade: _Trade) -> None:
        fields = {
            "notify_time": _now(),
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
        handlers = {
            "alipay.trade.precreate": self._precreate,
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
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
        biz = _biz_of(params)
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
            content = _content(params, ("sign",)).encode()
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
            body += f',"sign":"{_rsa2_sign(text.encode(), self._signing_key())}"'
        return httpx.Response(200, text=body + "}", headers={"content-type": "text/html;charset=utf-8"})

    def _new_trade(self, biz: dict[str, str], params: dict[str, str]) -> _Trade | dict[str, str]:
        order_id, amount = biz.get("out_trade_no", ""), _yuan(biz.get("total_amount", ""))
        if not order_id or not biz.get("subject") or amount is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.INVALID_PARAMETER",
                "sub_msg": "参数无效",
            }
        with self._lock:
            if order_id in self._trades:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_SUCCESS"
                    if self._trades[order_id].status == "TRADE_SUCCESS"
                    else "ACQ.CONTEXT_INCONSISTENT",
                    "sub_msg": "交易已存在",
                }
            self._count += 1
            trade = _Trade(
                order_id=order_id,
                trade_no=datetime.now(SHANGHAI).strftime("%Y%m%d") + f"22{self._count:018d}",
                total_amount=f"{amount:.2f}",
                subject=biz["subject"],
                notify_url=params.get("notify_url", ""),
                return_url=params.get("return_url", ""),
                passback_params=biz.get("passback_params", ""),
                created=_now(),
                status="TRADE_CLOSED" if AlipayFault.CLOSED in self.faults else "WAIT_BUYER_PAY",
            )
            self._trades[order_id] = trade
        return trade

    def _precreate(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        trade = self._new_trade(biz, params)
        if not isinstance(trade, _Trade):
            return trade
        return {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": trade.order_id,
            "qr_code": f"{self.url}/cashier/{trade.trade_no}",
        }

    def _browser_pay(self, params: dict[str, str]) -> httpx.Response:
        biz = _biz_of(params)
        if biz is None:
            return httpx.Response(400, text="<h3>biz_content 不合法</h3>", headers={"content-type": "text/html"})
        trade = self._new_trade(biz, params)
        if not isinstance(trade, _Trade):
            return httpx.Response(
                400, text=f"<h3>{html.escape(trade['sub_msg'])}</h3>", headers={"content-type": "text/html"}
            )
        return httpx.Response(302, headers={"location": f"{self.url}/cashier/{trade.trade_no}"})

    def _not_found(self) -> dict[str, str]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}

    def _query(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        trade = self._trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._not_found()
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "trade_status": trade.status,
            "total_amount": trade.total_amount,
        }
        if trade.status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            answer.update(
                receipt_amount=trade.total_amount, buyer_pay_amount=trade.total_amount, send_pay_date=trade.paid_at
            )
        return answer

    def _close(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        with self._lock:
            trade = self._trades.get(biz.get("out_trade_no", ""))
            if trade is None:
                return self._not_found()
            if trade.status != "WAIT_BUYER_PAY":
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            trade.status = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "trade_no": trade.trade_no, "out_trade_no": trade.order_id}

    def _refund(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        request_no, raw = biz.get("out_request_no") or biz.get("out_trade_no", ""), biz.get("refund_amount", "")
        with self._lock:
            trade = self._trades.get(biz.get("out_trade_no", ""))
            if trade is None:
                return self._not_found()
            amount = _yuan(raw)
            if amount is None:
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.INVALID_PARAMETER",
                    "sub_msg": "退款金额无效",
                }
            fund_change = "Y"
            if request_no in trade.refunds:
                if trade.refunds[request_no] != f"{amount:.2f}":
                    return {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.REFUND_AMT_RESTRICTION",
                        "sub_msg": "同一退款请求号金额不一致",
                    }
                fund_change = "N"  # asked again: already refunded
            elif trade.status not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_STATUS_ERROR",
                    "sub_msg": "交易状态不合法",
                }
            elif sum(map(Decimal, trade.refunds.values()), Decimal(0)) + amount > Decimal(trade.total_amount):
                return {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                    "sub_msg": "退款金额超限",
                }
            else:
                trade.refunds[request_no] = f"{amount:.2f}"
            total = sum(map(Decimal, trade.refunds.values()), Decimal(0))
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "fund_change": fund_change,
            "refund_fee": f"{total:.2f}",
            "gmt_refund_pay": _now(),
        }

    def _refund_query(self, biz: dict[str, str], params: dict[str, str]) -> dict[str, str]:
        trade = self._trades.get(biz.get("out_trade_no", ""))
        if trade is None:
            return self._not_found()
        request_no = biz.get("out_request_no", "")
        if request_no not in trade.refunds:
            return {"code": "10000", "msg": "Success"}  # as Alipay: success, and no refund in it
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.order_id,
            "out_request_no": request_no,
            "refund_amount": trade.refunds[request_no],
            "total_amount": trade.total_amount,
            "refund_status": "REFUND_SUCCESS",
        }

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
                    "timestamp": _now(),
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
