"""alipay: verifying a notification (RSA2), vs a hand-written verifier making the same cryptography calls.

    python benchmarks/alipay_verify.py

Target: ``Gateway.verify_notification`` at most 1.2x the hand-written verifier
(parse the form, sort and join, one RSA verification, app_id, status, Decimal):
RSA verification dominates, the wrapper must not.
"""

from __future__ import annotations

import base64
import re
import sys
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import per_call, report  # the benchmarks folder is not a package
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import paycore

APP_ID = "2021000000000001"
MERCHANT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY_PUBLIC = ALIPAY.public_key()
FIELDS = {
    "notify_time": "2026-11-28 12:00:02",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": APP_ID,
    "charset": "utf-8",
    "version": "1.0",
    "trade_no": "2026112822001",
    "out_trade_no": "A2026112800000001",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "88.80",
    "receipt_amount": "88.80",
    "buyer_pay_amount": "88.80",
    "seller_id": "2088000000000001",
    "gmt_payment": "2026-11-28 12:00:01",
    "subject": "Green tea",
}


def _content(fields: dict[str, str]) -> bytes:
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] and k not in ("sign", "sign_type")).encode()


SIGN = base64.b64encode(ALIPAY.sign(_content(FIELDS), padding.PKCS1v15(), hashes.SHA256())).decode()
BODY = urlencode({**FIELDS, "sign_type": "RSA2", "sign": SIGN}).encode()


def hand_written_verify() -> tuple[str, Decimal]:
    fields = dict(parse_qsl(BODY.decode()))
    ALIPAY_PUBLIC.verify(base64.b64decode(fields["sign"]), _content(fields), padding.PKCS1v15(), hashes.SHA256())
    if fields["app_id"] != APP_ID or fields["trade_status"] not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        raise ValueError("not ours or not paid")
    return fields["out_trade_no"], Decimal(fields["total_amount"])


YUAN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
SPACED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PAID = {"TRADE_SUCCESS": paycore.PaymentStatus.PAID, "TRADE_FINISHED": paycore.PaymentStatus.PAID}
ACK = paycore.Reply(body="success")


def _yuan(raw: str) -> Decimal:
    if not YUAN.fullmatch(raw) or Decimal(raw) <= 0:
        raise ValueError("not yuan")
    return Decimal(raw)


def hand_written_checked_verify() -> paycore.Notification:
    """The floor: every check paycore's alipay provider makes, written by hand, and the same Notification."""
    pairs = parse_qsl(BODY.decode("ascii"), keep_blank_values=True, errors="strict")
    fields = dict(pairs)
    if len(fields) != len(pairs) or fields.get("charset", "utf-8").lower() != "utf-8":
        raise ValueError("a field given twice, or another charset")
    if fields.get("sign_type", "RSA2") != "RSA2":
        raise ValueError("not RSA2")
    signed = "".join(f"{name}{value}" for name, value in fields.items() if name not in ("sign", "sign_type"))
    if "&" in signed or "=" in signed:
        raise ValueError("ambiguous")
    signature = base64.b64decode(fields["sign"], validate=True)
    ALIPAY_PUBLIC.verify(signature, _content(fields), padding.PKCS1v15(), hashes.SHA256())
    if fields["app_id"] != APP_ID:
        raise ValueError("not ours")
    status = PAID.get(fields["trade_status"])
    if status is None or not SPACED_TIME.fullmatch(fields["gmt_payment"]):
        raise ValueError("not paid, or no payment time")
    total = _yuan(fields["total_amount"])
    _yuan(fields["buyer_pay_amount"])
    return paycore.Notification(
        order_id=fields["out_trade_no"],
        status=status,
        amount=total,
        currency="CNY",
        paid_amount=_yuan(fields["receipt_amount"]),
        transaction_id=fields["trade_no"],
        paid_at=datetime.fromisoformat(fields["gmt_payment"]).replace(tzinfo=SHANGHAI),
        provider="alipay",
        account="default",
        raw=fields,
        ack=ACK,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        private = Path(folder) / "app.pem"
        private.write_bytes(
            MERCHANT.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = ALIPAY_PUBLIC.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        settings = {"app_id": APP_ID, "private_key": str(private), "alipay_public_key": public.decode()}
        with paycore.Gateway("alipay", settings) as gateway:
            assert gateway.verify_notification(BODY).amount == hand_written_verify()[1]
            assert gateway.verify_notification(BODY) == hand_written_checked_verify()
            report(
                "verify an RSA2 notification (per call)",
                per_call(hand_written_verify),
                {"Gateway.verify_notification(body)": per_call(lambda: gateway.verify_notification(BODY))},
                target=1.2,
                checked=per_call(hand_written_checked_verify),
            )


if __name__ == "__main__":
    main()
