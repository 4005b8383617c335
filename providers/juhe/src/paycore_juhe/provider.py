"""The juhe provider: the hooks, gluing the request builders to the answer readers."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from paycore import (
    Channel,
    CreateFlow,
    Flow,
    Notification,
    Order,
    Payment,
    PaymentForm,
    PaymentStatus,
    Provider,
    hookimpl,
)
from paycore.sandbox import PUBLIC_SANDBOX_KEY, Sandbox, SandboxOptions
from paycore_juhe._create import check_order_id, create_fields, read_create_answer
from paycore_juhe._notify import verify_notification_body
from paycore_juhe._query import query_fields, read_query_answer
from paycore_juhe.settings import JuheSettings

__all__ = ["JuheProvider"]


class JuheProvider(Provider[JuheSettings]):
    """The aggregated-payment ("聚合支付") gateway protocol, for any platform running it."""

    settings_model = JuheSettings
    channels = frozenset(Channel)
    create_flows = frozenset(CreateFlow)
    provider_name = "juhe"

    def create_request(self, order: Order) -> httpx.Request:
        """The signed server-to-server create request (``type=json``), without sending it."""
        return httpx.Request(
            "POST", self.settings.create_url, data=create_fields(order, self.settings, json_answer=True)
        )

    @hookimpl
    def create_payment(self, order: Order, flow: CreateFlow) -> Flow[Payment]:
        if flow is CreateFlow.FORM:
            form = PaymentForm(
                action=self.settings.create_url, fields=create_fields(order, self.settings, json_answer=False)
            )
            return Payment(
                order_id=order.order_id,
                status=PaymentStatus.PENDING,
                amount=order.amount,
                form=form,
                provider=self.name,
                account=self.account,
            )
        response = yield self.create_request(order)
        answer = read_create_answer(response, order, self.settings)
        return Payment(
            order_id=order.order_id,
            status=PaymentStatus.PENDING,
            amount=order.amount,
            pay_url=answer.pay_url,
            provider=self.name,
            account=self.account,
            raw=answer.raw,
        )

    @hookimpl
    def query_payment(self, order_id: str) -> Flow[Payment]:
        check_order_id(order_id)
        response = yield httpx.Request("POST", self.settings.query_url, data=query_fields(order_id, self.settings))
        return read_query_answer(response, order_id, self.settings, provider=self.name, account=self.account)

    @classmethod
    @hookimpl  # inside classmethod: the marker must sit on the function itself
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        # Imported here: the sandbox's dependencies are the [sandbox] extra's.
        from paycore_juhe.sandbox import DEFAULT_MERCHANT_ID, JuheSandbox, SandboxConfig, parse_faults

        config = SandboxConfig(
            host=options.host,
            port=options.port,
            merchant_id=options.merchant_id or DEFAULT_MERCHANT_ID,
            secret_key=options.secret_key or PUBLIC_SANDBOX_KEY,
            profile=options.profile or "document",
            faults=parse_faults(options.faults),
            state_path=options.state_path,
        )
        return JuheSandbox(config)

    @hookimpl
    def verify_notification(self, body: bytes | Mapping[str, str]) -> Notification:
        return verify_notification_body(body, self.settings, provider=self.name, account=self.account)
