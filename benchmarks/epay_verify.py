"""epay: verifying a GET notification, vs hand-written code.

    python benchmarks/epay_verify.py

Target: at most 1.3x a hand-written verifier (parse the query, hashlib.md5 over
the sorted fields plus the key, hmac.compare_digest, the merchant check, a Decimal
amount).
"""

from __future__ import annotations

import hashlib
import hmac
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


def main() -> None:
    with paycore.Gateway("epay", SETTINGS) as gateway:
        assert gateway.verify_notification(REQUEST).amount == hand_written_verify()[1]
        report(
            "verify a GET notification (per call)",
            per_call(hand_written_verify),
            {"Gateway.verify_notification(request)": per_call(lambda: gateway.verify_notification(REQUEST))},
            target=1.3,
        )


if __name__ == "__main__":
    main()
