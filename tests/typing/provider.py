"""A small provider written against paycore's public API, type-checked by CI against the installed wheels."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Annotated, Any, assert_type

import httpx
import pydantic

import paycore
from paycore import toolkit


class AcmeSettings(paycore.ProviderSettings):
    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url)]
    merchant_id: str
    secret_key: pydantic.SecretStr


class AcmeProvider(paycore.Provider[AcmeSettings]):
    settings_model = AcmeSettings
    channels = frozenset({paycore.Channel.ALIPAY_QR})
    secret_parameters = frozenset({"key"})
    max_order_amount = Decimal("50000")

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        assert_type(self.settings, AcmeSettings)
        response = yield httpx.Request("POST", f"{self.settings.base_url}/pay", json={"id": order.order_id})
        if response.status_code != 200:
            raise paycore.GatewayError("refused", gateway_message=response.text)
        return paycore.Payment(
            order_id=order.order_id,
            status=paycore.PaymentStatus.PENDING,
            amount=order.amount,
            pay_url=str(response.json()["url"]),
            provider=self.name,
            account=self.account,
        )

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        params = {"id": order_id, "key": self.settings.secret_key.get_secret_value()}
        response = yield httpx.Request("GET", f"{self.settings.base_url}/query", params=params)
        status = paycore.PaymentStatus.PAID if response.json().get("paid") else paycore.PaymentStatus.PENDING
        return paycore.Payment(order_id=order_id, status=status, provider=self.name, account=self.account)

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        fields = request.query_fields()  # this gateway notifies by GET
        key = self.settings.secret_key.get_secret_value().encode()
        message = "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name != "sign")
        expected = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
        if not toolkit.signature_matches(fields.get("sign", ""), expected):
            raise paycore.SignatureError("bad signature")
        amount = toolkit.plain_amount(fields.get("amount", ""))
        if amount is None:
            raise paycore.MalformedAmount("amount is not a plain decimal")
        return paycore.Notification(
            order_id=fields.get("id", ""),
            status=paycore.PaymentStatus.PAID,
            amount=amount,
            currency="CNY",
            provider=self.name,
            account=self.account,
            raw=fields,
            ack=paycore.Reply(body="success"),
        )

    @paycore.hookimpl
    def failure_reply(self, reason: str) -> paycore.Reply:
        return paycore.Reply(body=json.dumps({"code": "FAIL", "message": reason}), status=400)


def use() -> paycore.Payment:
    settings = {"base_url": "https://acme.example", "merchant_id": "m", "secret_key": "k"}
    with paycore.Gateway(AcmeProvider, settings) as gateway:
        assert_type(gateway.provider, paycore.Provider[Any])
        return gateway.query("A1")
