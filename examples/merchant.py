"""A merchant script that never names its gateway: the account does.

    PAYCORE_CONFIG=paycore.toml python examples/merchant.py

Change ``default`` in paycore.toml and the same script pays through another account.
"""

from decimal import Decimal

import paycore

with paycore.Gateway.from_config() as gateway:
    order = paycore.Order(
        amount=Decimal("9.90"),
        channel=paycore.Channel.ALIPAY_QR,
        subject="Green tea",
        notify_url="https://shop.example/pay/notify",
        return_url="https://shop.example/pay/done",
    )
    payment = gateway.create(order)
    print(f"{gateway.account} ({gateway.provider_name}): pay {payment.amount} at {payment.pay_url}")
    print("status:", gateway.query(order.order_id).status)
