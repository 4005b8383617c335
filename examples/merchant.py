"""A merchant script that never names its gateway: the configuration does.

    PAYCORE_CONFIG=paycore.toml python examples/merchant.py

Change ``default`` in paycore.toml and the same script pays through another
account; notifications of earlier orders still reach the account that made them,
through the account in their notify URL.
"""

from decimal import Decimal

import paycore

with paycore.Accounts.from_config() as accounts:
    gateway = accounts.gateway()  # the default account: where new orders go
    order = paycore.Order(
        amount=Decimal("9.90"),
        channel=paycore.Channel.ALIPAY_QR,
        subject="Green tea",
        notify_url=accounts.notify_url("https://shop.example/pay/notify"),
        return_url="https://shop.example/pay/done",
    )
    payment = gateway.create(order)
    action = payment.next_action
    print(f"{payment.account} ({gateway.provider_name}): {payment.amount}, {action.describe() if action else '-'}")
    # Later calls about this order go to the account that made it, not to the default of the day.
    print("status:", accounts[payment.account].query(order.order_id).status)
