"""juhe: verify_notification and building a signed create request, vs hand-written code.

    python benchmarks/juhe_signing.py

Targets: verify_notification at most 1.5x a hand-written verifier (hashlib.md5 and
hmac.compare_digest over a parsed dict); a signed create request at most 2x a
hand-written signer building the same httpx.Request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import per_call, report  # the benchmarks folder is not a package
from paycore_juhe import JuheProvider

import paycore

KEY = "t4ig5acnpx4fet4zapshjacjd9o4bhbi"
MERCHANT = "10002"
SETTINGS = {"base_url": "https://pay.example.com", "merchant_id": MERCHANT, "secret_key": KEY}
FIELDS = {
    "memberid": MERCHANT,
    "orderid": "E2026112618181812345",
    "transaction_id": "20261126182000000001",
    "amount": "300.0000",
    "true_amount": "299.9900",
    "datetime": "2026-11-26 18:20:00",
    "returncode": "00",
}


def _md5_sign(fields: dict[str, str]) -> str:
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] != "")
    return hashlib.md5(f"{text}&key={KEY}".encode()).hexdigest().upper()  # noqa: S324  # the protocol's MAC


BODY = ("&".join(f"{k}={v}" for k, v in FIELDS.items()) + f"&sign={_md5_sign(FIELDS)}&attach=cart-7").encode()


def hand_written_verify() -> tuple[str, Decimal]:
    fields = dict(parse_qsl(BODY.decode()))
    signed = {k: v for k, v in fields.items() if k not in ("sign", "attach")}
    if not hmac.compare_digest(_md5_sign(signed), fields["sign"]):
        raise ValueError("bad sign")
    if fields["memberid"] != MERCHANT:
        raise ValueError("merchant")
    return fields["orderid"], Decimal(fields.get("true_amount") or fields["amount"])


SHANGHAI = ZoneInfo("Asia/Shanghai")
YUAN = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,4}))?")
ACK = paycore.Reply(body="OK")


def _yuan(raw: str) -> Decimal:
    match = YUAN.fullmatch(raw)
    if match is None or (match.group(2) or "").rstrip("0")[2:]:
        raise ValueError("not yuan")
    amount = Decimal(raw).quantize(Decimal("0.01"))
    if amount <= 0:
        raise ValueError("not positive")
    return amount


def hand_written_checked_verify() -> paycore.Notification:
    """The floor: every check paycore's juhe provider makes, written by hand, and the same Notification."""
    head, _, attach = BODY.strip().partition(b"&attach=")  # attach is unsigned: it takes the rest of the body
    pairs = parse_qsl(head.decode(), keep_blank_values=True, errors="strict")
    fields = dict(pairs)
    if len(fields) != len(pairs) or "" in fields:
        raise ValueError("a field given twice, or unnamed")
    if "&" in "".join(fields.values()) or "=" in "".join(fields.values()):
        raise ValueError("ambiguous")
    received_sign = fields.pop("sign")
    if not hmac.compare_digest(_md5_sign(fields), received_sign):
        raise ValueError("bad sign")
    if fields["memberid"] != MERCHANT or len(fields["orderid"]) > 50:
        raise ValueError("merchant or order id")
    paid_at = datetime.fromisoformat(fields["datetime"]).replace(tzinfo=SHANGHAI)
    paid = fields["returncode"] == "00"
    return paycore.Notification(
        order_id=fields["orderid"],
        status=paycore.PaymentStatus.PAID if paid else paycore.PaymentStatus.FAILED,
        amount=_yuan(fields["amount"]),
        currency="CNY",
        paid_amount=_yuan(fields["true_amount"]) if paid else None,
        transaction_id=fields["transaction_id"],
        paid_at=paid_at if paid else None,
        attach=attach.decode() or None,
        provider="juhe",
        account="default",
        raw=fields,
        ack=ACK,
    )


ORDER = paycore.Order(
    order_id="E2026112618181812345",
    amount=Decimal("300.00"),
    channel=paycore.Channel.ALIPAY_QR,
    subject="Green tea",
    notify_url="https://shop.example/pay/notify",
    return_url="https://shop.example/pay/done",
    created_at=datetime(2026, 11, 26, 10, 18, 18, tzinfo=UTC),
)


def hand_written_create_request() -> httpx.Request:
    signed = {
        "pay_memberid": MERCHANT,
        "pay_orderid": ORDER.order_id,
        "pay_applydate": "2026-11-26 18:18:18",
        "pay_bankcode": "903",
        "pay_notifyurl": ORDER.notify_url,
        "pay_callbackurl": ORDER.return_url,
        "pay_amount": f"{ORDER.amount:.2f}",
    }
    data = {**signed, "pay_md5sign": _md5_sign(signed), "pay_productname": ORDER.subject, "type": "json"}
    return httpx.Request("POST", "https://pay.example.com/Pay_Index.html", data=data)


def main() -> None:
    gateway = paycore.Gateway("juhe", SETTINGS)
    provider = gateway.provider
    assert isinstance(provider, JuheProvider)
    assert gateway.verify_notification(BODY).paid_amount == hand_written_verify()[1]
    checked = hand_written_checked_verify()
    assert gateway.verify_notification(BODY).model_dump(exclude={"raw"}) == checked.model_dump(exclude={"raw"})
    assert provider.create_request(ORDER).content == hand_written_create_request().content

    report(
        "verify a notification (per call)",
        per_call(hand_written_verify),
        {
            "Gateway.verify_notification(body)": per_call(lambda: gateway.verify_notification(BODY)),
        },
        target=1.5,
        checked=per_call(hand_written_checked_verify),
    )
    report(
        "build a signed create request (per call)",
        per_call(hand_written_create_request),
        {"JuheProvider.create_request(order)": per_call(lambda: provider.create_request(ORDER))},
        target=2.0,
    )
    gateway.close()


if __name__ == "__main__":
    main()
