"""wechatpay: verifying a notification (header signature + AES-256-GCM), vs a hand-written verifier.

    python benchmarks/wechatpay_verify.py

Target: ``Gateway.verify_notification`` at most 1.3x a hand-written verifier
making the same ``cryptography`` calls for the same result (read the headers,
one RSA verification over timestamp, nonce and body, parse the envelope, one
AES-GCM decryption, parse the resource, mchid/appid/state, fen to Decimal, the
same `paycore.Notification`): RSA and the decryption dominate, the wrapper
must not.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import per_call, report  # the benchmarks folder is not a package
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import paycore

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
KEY_ID = "PUB_KEY_ID_0114232019112100000000000000001234"
APIV3_KEY = b"0123456789abcdefghijklmnopqrstuv"
MERCHANT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM_PUBLIC = PLATFORM.public_key()
RESOURCE = {
    "appid": APPID,
    "mchid": MCHID,
    "out_trade_no": "WX20261205001",
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


def _envelope() -> bytes:
    nonce = "fdasflkja484"
    sealed = AESGCM(APIV3_KEY).encrypt(nonce.encode(), json.dumps(RESOURCE).encode(), b"transaction")
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2026-12-05T10:00:05+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(sealed).decode(),
            "associated_data": "transaction",
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


BODY = _envelope()
STAMP = str(int(time.time()))
NONCE = secrets.token_hex(16)
SIGNATURE = base64.b64encode(
    PLATFORM.sign(f"{STAMP}\n{NONCE}\n".encode() + BODY + b"\n", padding.PKCS1v15(), hashes.SHA256())
).decode()
HEADERS = {
    "content-type": "application/json",
    "wechatpay-timestamp": STAMP,
    "wechatpay-nonce": NONCE,
    "wechatpay-signature": SIGNATURE,
    "wechatpay-serial": KEY_ID,
    "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
}
REQUEST = paycore.NotificationRequest(method="POST", path="/notify", headers=HEADERS, body=BODY)


ACK = paycore.Reply(status=204)


def hand_written_verify() -> paycore.Notification:
    """What a merchant would write by hand for the same result: the same cryptography calls, the same model."""
    headers = REQUEST.headers
    if headers["wechatpay-serial"] != KEY_ID or abs(time.time() - int(headers["wechatpay-timestamp"])) > 300:
        raise ValueError("unknown key or stale")
    signed = f"{headers['wechatpay-timestamp']}\n{headers['wechatpay-nonce']}\n".encode() + REQUEST.body + b"\n"
    PLATFORM_PUBLIC.verify(
        base64.b64decode(headers["wechatpay-signature"]), signed, padding.PKCS1v15(), hashes.SHA256()
    )
    envelope = json.loads(REQUEST.body)
    resource = envelope["resource"]
    plain = AESGCM(APIV3_KEY).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode()
    )
    paid = json.loads(plain)
    if paid["mchid"] != MCHID or paid["appid"] != APPID or paid["trade_state"] != "SUCCESS":
        raise ValueError("not ours or not paid")
    amount = paid["amount"]
    return paycore.Notification(
        order_id=paid["out_trade_no"],
        status=paycore.PaymentStatus.PAID,
        amount=Decimal(amount["total"]).scaleb(-2),
        currency="CNY",
        paid_amount=Decimal(amount["payer_total"]).scaleb(-2),
        transaction_id=paid["transaction_id"],
        paid_at=datetime.fromisoformat(paid["success_time"]),
        attach=paid["attach"] or None,
        provider="wechatpay",
        account="default",
        raw={"id": envelope["id"], "event_type": envelope["event_type"], "resource": paid},
        ack=ACK,
    )


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    made = dict(pairs)
    if len(made) != len(pairs):
        raise ValueError("a key twice")
    return made


EXACT = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_unique)


def _fen(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not fen")
    return Decimal(value).scaleb(-2)


def hand_written_checked_verify() -> paycore.Notification:
    """The floor: every check paycore's wechatpay provider makes, written by hand, and the same Notification."""
    header = REQUEST.headers.get
    stamp, nonce, signature = header("wechatpay-timestamp"), header("wechatpay-nonce"), header("wechatpay-signature")
    serial, kind = header("wechatpay-serial"), header("wechatpay-signature-type")
    if not (stamp and nonce and signature and serial) or kind != "WECHATPAY2-SHA256-RSA2048":
        raise ValueError("a header missing")
    if not stamp.isdigit() or len(stamp) > 12 or abs(time.time() - int(stamp)) > 300 or serial != KEY_ID:
        raise ValueError("stale, or an unknown key")
    signed = f"{stamp}\n{nonce}\n".encode() + REQUEST.body + b"\n"
    PLATFORM_PUBLIC.verify(base64.b64decode(signature, validate=True), signed, padding.PKCS1v15(), hashes.SHA256())
    envelope = EXACT.decode(REQUEST.body.decode("utf-8"))
    resource = envelope["resource"]
    if (
        envelope["event_type"] != "TRANSACTION.SUCCESS"
        or envelope["resource_type"] != "encrypt-resource"
        or resource["algorithm"] != "AEAD_AES_256_GCM"
        or resource["original_type"] != "transaction"
    ):
        raise ValueError("not a sealed payment")
    plain = AESGCM(APIV3_KEY).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"], validate=True),
        resource["associated_data"].encode(),
    )
    paid = EXACT.decode(plain.decode("utf-8"))
    if paid["mchid"] != MCHID or paid["appid"] != APPID or paid["trade_state"] != "SUCCESS":
        raise ValueError("not ours or not paid")
    amount = paid["amount"]
    if amount.get("currency", "CNY") != "CNY":
        raise ValueError("not CNY")
    paid_at = datetime.fromisoformat(paid["success_time"])
    if paid_at.tzinfo is None:
        raise ValueError("no offset")
    return paycore.Notification(
        order_id=paid["out_trade_no"],
        status=paycore.PaymentStatus.PAID,
        amount=_fen(amount["total"]),
        currency="CNY",
        paid_amount=_fen(amount["payer_total"]),
        transaction_id=paid["transaction_id"],
        paid_at=paid_at,
        attach=paid["attach"] or None,
        provider="wechatpay",
        account="default",
        raw={"id": envelope["id"], "event_type": envelope["event_type"], "resource": paid},
        ack=ACK,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        private = Path(folder) / "apiclient_key.pem"
        private.write_bytes(
            MERCHANT.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = PLATFORM_PUBLIC.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        settings = {
            "mchid": MCHID,
            "appid": APPID,
            "private_key": str(private),
            "merchant_serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            "apiv3_key": APIV3_KEY.decode(),
            "platform_public_key": public.decode(),
            "platform_public_key_id": KEY_ID,
        }
        with paycore.Gateway("wechatpay", settings) as gateway:
            assert gateway.verify_notification(REQUEST) == hand_written_verify() == hand_written_checked_verify()
            report(
                "verify a WeChat Pay v3 notification: signature and decryption (per call)",
                per_call(hand_written_verify),
                {"Gateway.verify_notification(request)": per_call(lambda: gateway.verify_notification(REQUEST))},
                target=1.3,
                checked=per_call(hand_written_checked_verify),
            )


if __name__ == "__main__":
    main()
