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

The implementation lives in private modules; everything public is re-exported here,
imported on first use so that ``paycore providers`` starts without loading pydantic's
model machinery or an HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from paycore._version import VERSION

if TYPE_CHECKING:
    from paycore._accounts import Accounts, AsyncAccounts
    from paycore._answers import DEFAULT_MAX_ANSWER_BYTES
    from paycore._deadline import DEFAULT_DEADLINE
    from paycore._discovery import ProviderInfo, installed_providers
    from paycore._gateway import DEFAULT_FAILURE_REPLY, DEFAULT_TIMEOUT, AsyncGateway, Gateway
    from paycore._ids import new_order_id
    from paycore.config import AccountConfig, PaycoreConfig, load_config
    from paycore.errors import (
        AmountMismatch,
        ConfigError,
        GatewayError,
        InvalidRequest,
        MalformedAmount,
        MalformedNotification,
        MerchantMismatch,
        MissingField,
        NotSupported,
        OrderNotFound,
        PaycoreError,
        ProtocolError,
        ProviderError,
        ProviderNotFound,
        SignatureError,
        TransportError,
        VerificationError,
    )
    from paycore.handler import AppliedPayment, AsyncNotificationHandler, NotificationHandler, OrderRecord, Outcome
    from paycore.hookspecs import Flow, hookimpl
    from paycore.http import NotificationRequest, Reply
    from paycore.models import (
        MAX_ORDER_AMOUNT,
        AppLink,
        BrowserReturn,
        Channel,
        CreateFlow,
        NextAction,
        Notification,
        Order,
        Payment,
        PaymentForm,
        PaymentStatus,
        QrCode,
        Redirect,
        Refund,
        RefundStatus,
        SdkParameters,
        Surface,
        Wallet,
    )
    from paycore.provider import Capabilities, Operation, Provider, ProviderSettings
    from paycore.signatures import SignatureCandidate, SignatureExplanation


__version__ = VERSION

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_FAILURE_REPLY",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_ORDER_AMOUNT",
    "AccountConfig",
    "Accounts",
    "AmountMismatch",
    "AppLink",
    "AppliedPayment",
    "AsyncAccounts",
    "AsyncGateway",
    "AsyncNotificationHandler",
    "BrowserReturn",
    "Capabilities",
    "Channel",
    "ConfigError",
    "CreateFlow",
    "Flow",
    "Gateway",
    "GatewayError",
    "InvalidRequest",
    "MalformedAmount",
    "MalformedNotification",
    "MerchantMismatch",
    "MissingField",
    "NextAction",
    "NotSupported",
    "Notification",
    "NotificationHandler",
    "NotificationRequest",
    "Operation",
    "Order",
    "OrderNotFound",
    "OrderRecord",
    "Outcome",
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
    "QrCode",
    "Redirect",
    "Refund",
    "RefundStatus",
    "Reply",
    "SdkParameters",
    "SignatureCandidate",
    "SignatureError",
    "SignatureExplanation",
    "Surface",
    "TransportError",
    "VerificationError",
    "Wallet",
    "hookimpl",
    "installed_providers",
    "load_config",
    "new_order_id",
]

# Which private module defines each public name.
_EXPORTS: dict[str, str] = {
    "DEFAULT_DEADLINE": "paycore._deadline",
    "DEFAULT_FAILURE_REPLY": "paycore._gateway",
    "DEFAULT_MAX_ANSWER_BYTES": "paycore._answers",
    "DEFAULT_TIMEOUT": "paycore._gateway",
    "MAX_ORDER_AMOUNT": "paycore.models",
    "AccountConfig": "paycore.config",
    "Accounts": "paycore._accounts",
    "AmountMismatch": "paycore.errors",
    "AppLink": "paycore.models",
    "AppliedPayment": "paycore.handler",
    "AsyncAccounts": "paycore._accounts",
    "AsyncGateway": "paycore._gateway",
    "AsyncNotificationHandler": "paycore.handler",
    "BrowserReturn": "paycore.models",
    "SignatureCandidate": "paycore.signatures",
    "SignatureExplanation": "paycore.signatures",
    "Capabilities": "paycore.provider",
    "Channel": "paycore.models",
    "ConfigError": "paycore.errors",
    "CreateFlow": "paycore.models",
    "Flow": "paycore.hookspecs",
    "Gateway": "paycore._gateway",
    "GatewayError": "paycore.errors",
    "InvalidRequest": "paycore.errors",
    "MalformedAmount": "paycore.errors",
    "MalformedNotification": "paycore.errors",
    "MerchantMismatch": "paycore.errors",
    "MissingField": "paycore.errors",
    "NextAction": "paycore.models",
    "NotSupported": "paycore.errors",
    "Notification": "paycore.models",
    "NotificationHandler": "paycore.handler",
    "NotificationRequest": "paycore.http",
    "Operation": "paycore.provider",
    "Order": "paycore.models",
    "OrderNotFound": "paycore.errors",
    "OrderRecord": "paycore.handler",
    "Outcome": "paycore.handler",
    "PaycoreConfig": "paycore.config",
    "PaycoreError": "paycore.errors",
    "Payment": "paycore.models",
    "PaymentForm": "paycore.models",
    "PaymentStatus": "paycore.models",
    "ProtocolError": "paycore.errors",
    "Provider": "paycore.provider",
    "ProviderError": "paycore.errors",
    "ProviderInfo": "paycore._discovery",
    "ProviderNotFound": "paycore.errors",
    "ProviderSettings": "paycore.provider",
    "QrCode": "paycore.models",
    "Redirect": "paycore.models",
    "Refund": "paycore.models",
    "RefundStatus": "paycore.models",
    "Reply": "paycore.http",
    "SdkParameters": "paycore.models",
    "SignatureError": "paycore.errors",
    "Surface": "paycore.models",
    "TransportError": "paycore.errors",
    "VerificationError": "paycore.errors",
    "Wallet": "paycore.models",
    "hookimpl": "paycore.hookspecs",
    "installed_providers": "paycore._discovery",
    "load_config": "paycore.config",
    "new_order_id": "paycore._ids",
}


# Public submodules, loaded on first use too: ``import paycore`` then ``paycore.web.asgi_app``.
_SUBMODULES = frozenset(
    {
        "config",
        "errors",
        "handler",
        "hookspecs",
        "http",
        "models",
        "provider",
        "sandbox",
        "signatures",
        "stores",
        "testing",
        "toolkit",
        "web",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"paycore.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'paycore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
