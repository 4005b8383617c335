"""A small shop that takes payments through whichever gateway ``paycore.toml`` names as ``default``.

    python3 .ci/dev.py shop                      # on the embedded juhe sandbox
    python3 .ci/dev.py shop --provider alipay    # on another provider's sandbox

A product page, a checkout that creates the order through the default account and
stores that account with it, a payment page drawn from `paycore.Payment.next_action`
that polls the order's state, a return page that queries when the notification has
not arrived, the notification endpoint on `paycore.NotificationHandler`, refunds
from an admin page, and reconciliation with ``paycore reconcile --handler
examples.shop.wiring:make_handler``. See ``docs/shop.md``.
"""
