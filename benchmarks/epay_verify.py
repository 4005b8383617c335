"""epay: verifying a GET notification, vs hand-written code.

    python benchmarks/epay_verify.py

Target: at most 1.3x a hand-written verifier (parse the query, hashlib.md5 over
the sorted fields plus the key, hmac.compare_digest, the merchant check, a Decimal
amount).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import per_call, report  # the benchmarks folder is not a package

import paycore

KEY = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i"
PID = "1001"
SETTINGS = {"base_url": "https://pay.example.com", "merchant_id": PID, "secret_key": KEY}
FIELDS = {
    "pid": PID,
    "trade_no": "2026112812000012345",
    "out_trade_no": "A2026112800000001",
    "type": "alipay",
    "name": "Green tea",
    "money": "12.50",
    "trade_status": "TRADE_SUCCESS",
    "param": "cart-7",
}


def _sign(fields: dict[str, str]) -> str:
    text = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] and k not in ("sign", "sign_type"))
    return hashlib.md5((text + KEY).encode(), usedforsecurity=False).hexdigest()


QUERY = urlencode({**FIELDS, "sign": _sign(FIELDS), "sign_type": "MD5"})
REQUEST = paycore.NotificationRequest(method="GET", path="/notify/main", query=QUERY)


def hand_written_verify() -> tuple[str, Decimal]:
    fields = dict(parse_qsl(QUERY))
    if not hmac.compare_digest(_sign(fields), fields["sign"]):
        raise ValueError("bad sign")
    if fields["pid"] != PID or fields["trade_status"] != "TRADE_SUCCESS":
        raise ValueError("not ours or not paid")
    return fields["out_trade_no"], Decimal(fields["money"])


YUAN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
PAID = {"TRADE_SUCCESS": paycore.PaymentStatus.PAID, "TRADE_FINISHED": paycore.PaymentStatus.PAID}
ACK = paycore.Reply(body="success")
REQUIRED = ("pid", "trade_no", "out_trade_no", "type", "name", "money", "trade_status", "sign")


def hand_written_checked_verify() -> paycore.Notification:
    """The floor: every check paycore's epay provider makes, written by hand, and the same Notification."""
    pairs = parse_qsl(REQUEST.query, keep_blank_values=True, strict_parsing=True, errors="strict")
    fields = dict(pairs)
    if len(fields) != len(pairs) or any(not fields.get(name) for name in REQUIRED):
        raise ValueError("a field given twice, or missing")
    signed = "".join(f"{name}{value}" for name, value in fields.items() if name != "sign")
    if "&" in signed or "=" in signed or fields.get("sign_type", "MD5").upper() != "MD5":
        raise ValueError("ambiguous, or not MD5")
    if not hmac.compare_digest(fields["sign"].lower(), _sign(fields)) or fields["pid"] != PID:
        raise ValueError("bad sign, or not ours")
    status = PAID.get(fields["trade_status"])
    if status is None or not YUAN.fullmatch(fields["money"]) or Decimal(fields["money"]) <= 0:
        raise ValueError("not paid, or not yuan")
    amount = Decimal(fields["money"])
    return paycore.Notification(
        order_id=fields["out_trade_no"],
        status=status,
        amount=amount,
        currency="CNY",
        paid_amount=amount,
        transaction_id=fields["trade_no"],
        attach=fields.get("param") or None,
        provider="epay",
        account="default",
        raw=fields,
        ack=ACK,
    )


def main() -> None:
    with paycore.Gateway("epay", SETTINGS) as gateway:
        assert gateway.verify_notification(REQUEST).amount == hand_written_verify()[1]
        assert gateway.verify_notification(REQUEST) == hand_written_checked_verify()
        report(
            "verify a GET notification (per call)",
            per_call(hand_written_verify),
            {"Gateway.verify_notification(request)": per_call(lambda: gateway.verify_notification(REQUEST))},
            target=1.3,
            checked=per_call(hand_written_checked_verify),
        )


if __name__ == "__main__":
    main()
