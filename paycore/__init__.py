"""paycore: take payments through any gateway that has a paycore provider.

::

    import paycore
    from decimal import Decimal

    with paycore.Gateway.from_config() as gateway:      # the account is configuration
        payment = gateway.create(paycore.Order(
            amount=Decimal("9.90"), channel=paycore.Channel.ALIPAY_QR, subject="Tea",
            notify_url="https://shop.example/notify", return_url="https://shop.example/done",
        ))
        print(payment.pay_url)

The implementation lives in private modules; everything public is re-exported here.
"""

from paycore._gateway import DEFAULT_TIMEOUT, AsyncGateway, Gateway
from paycore._ids import new_order_id
from paycore._plugins import ProviderInfo, installed_providers
from paycore.config import AccountConfig, PaycoreConfig, load_config
from paycore.errors import (
    AmountMismatch,
    ConfigError,
    GatewayError,
    InvalidRequest,
    MalformedNotification,
    MerchantMismatch,
    NotSupported,
    PaycoreError,
    ProtocolError,
    ProviderError,
    ProviderNotFound,
    SignatureError,
    TransportError,
    VerificationError,
)
from paycore.hookspecs import Flow, hookimpl
from paycore.models import Channel, CreateFlow, Notification, Order, Payment, PaymentForm, PaymentStatus
from paycore.provider import Capabilities, Operation, Provider, ProviderSettings

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "AccountConfig",
    "AmountMismatch",
    "AsyncGateway",
    "Capabilities",
    "Channel",
    "ConfigError",
    "CreateFlow",
    "Flow",
    "Gateway",
    "GatewayError",
    "InvalidRequest",
    "MalformedNotification",
    "MerchantMismatch",
    "NotSupported",
    "Notification",
    "Operation",
    "Order",
    "PaycoreConfig",
    "PaycoreError",
    "Payment",
    "PaymentForm",
    "PaymentStatus",
    "ProtocolError",
    "Provider",
    "ProviderError",
    "ProviderInfo",
    "ProviderNotFound",
    "ProviderSettings",
    "SignatureError",
    "TransportError",
    "VerificationError",
    "hookimpl",
    "installed_providers",
    "load_config",
    "new_order_id",
]
