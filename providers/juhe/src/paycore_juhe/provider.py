"""The juhe provider: the hooks, gluing the request builders to the answer readers."""

from __future__ import annotations

import logging
import threading

import httpx

from paycore import (
    BrowserReturn,
    Channel,
    CreateFlow,
    Flow,
    InvalidRequest,
    MalformedNotification,
    Notification,
    NotificationRequest,
    Order,
    Payment,
    PaymentForm,
    PaymentStatus,
    Provider,
    Reply,
    SignatureExplanation,
    hookimpl,
)
from paycore.sandbox import PUBLIC_SANDBOX_KEY, Sandbox, SandboxOptions
from paycore_juhe._create import create_fields, read_create_answer
from paycore_juhe._explain import explain
from paycore_juhe._messages import parse_form_body
from paycore_juhe._notify import read_browser_return, verify_notification_body
from paycore_juhe._query import query_fields, read_query_answer
from paycore_juhe.settings import DEFAULT_CHANNEL_CODES, SETTLEMENT_CURRENCY, STORED_ORDER_ID_LENGTH, JuheSettings

__all__ = ["JuheProvider"]

logger = logging.getLogger("paycore.juhe")
_warned_plain_http: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once_about_plain_http(settings: JuheSettings, account: str) -> None:
    """Log once per base URL that answers can be read and rewritten on the way."""
    if settings.transport_is_private:
        return
    with _warned_lock:
        if settings.base_url in _warned_plain_http:
            return
        _warned_plain_http.add(settings.base_url)
    logger.warning(
        "account %s talks to its gateway over plain http: anyone on the path can read requests and "
        "rewrite answers; use an https base_url",
        account,
    )


class JuheProvider(Provider[JuheSettings]):
    """The aggregated-payment ("聚合支付") gateway protocol, for any platform running it."""

    settings_model = JuheSettings
    channels = frozenset(Channel(name) for name in DEFAULT_CHANNEL_CODES)
    create_flows = frozenset(CreateFlow)
    # pay_amount is yuan: the protocol has no currency field.
    currencies = frozenset({SETTLEMENT_CURRENCY})
    provider_name = "juhe"

    def __init__(self, settings: JuheSettings, *, name: str, account: str) -> None:
        super().__init__(settings, name=name, account=account)
        _warn_once_about_plain_http(settings, account)
        # Built once: every verified notification carries it.
        self._ack = Reply(body=settings.ack)

    def serves(self, channel: Channel) -> bool:
        # The account's channels table decides: a platform may sell products the document does not list.
        return bool(self.settings.channels.get(channel.value))

    @property
    def max_answer_bytes(self) -> int | None:
        return self.settings.max_answer_bytes

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
                currency=order.currency,
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
            currency=order.currency,
            pay_url=answer.pay_url,
            provider=self.name,
            account=self.account,
            raw=answer.raw,
        )

    @hookimpl
    def query_payment(self, order_id: str) -> Flow[Payment]:
        if len(order_id) > STORED_ORDER_ID_LENGTH:
            raise InvalidRequest(f"order id is longer than the {STORED_ORDER_ID_LENGTH} characters a platform stores")
        response = yield httpx.Request("POST", self.settings.query_url, data=query_fields(order_id, self.settings))
        return read_query_answer(response, order_id, self.settings, provider=self.name, account=self.account)

    @classmethod
    @hookimpl  # inside classmethod: the marker must sit on the function itself
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        # Imported here: the sandbox's dependencies are the [sandbox] extra's.
        from paycore_juhe.sandbox import DEFAULT_CHANNELS, DEFAULT_MERCHANT_ID, JuheSandbox, SandboxConfig, parse_faults

        if options.certificates:
            raise InvalidRequest("the juhe sandbox takes no --certificates: the protocol signs with one key")
        config = SandboxConfig(
            host=options.host,
            port=options.port,
            merchant_id=options.merchant_id or DEFAULT_MERCHANT_ID,
            secret_key=options.secret_key or PUBLIC_SANDBOX_KEY,
            profile=options.profile or "document",
            notify_interval=options.notify_interval,
            faults=parse_faults(options.faults),
            state_path=options.state_path,
            channels={**DEFAULT_CHANNELS, **{code: f"channel {code}" for code in options.channels}},
            strict=options.strict,
        )
        return JuheSandbox(config)

    @hookimpl
    def verify_notification(self, request: NotificationRequest) -> Notification:
        body = request.form if request.form is not None else request.body
        return verify_notification_body(body, self.settings, provider=self.name, account=self.account, ack=self._ack)

    @hookimpl
    def explain_signature(self, request: NotificationRequest) -> SignatureExplanation:
        fields = parse_form_body(request.form if request.form is not None else request.body)
        return explain(fields, self.settings.secret_key.get_secret_value())

    @hookimpl
    def failure_reply(self, reason: str) -> Reply:
        # The reference gateway reads only the body, and any body holding "ok" as received.
        return Reply(body="fail", status=400)

    @hookimpl
    def parse_return(self, request: NotificationRequest) -> BrowserReturn:
        # The gateway POSTs the notification's fields to pay_callbackurl; some platforms send them as a query.
        body = request.form if request.form is not None else (request.body or request.query.encode("utf-8"))
        return read_browser_return(body, self.settings, provider=self.name, account=self.account)

    @hookimpl
    def notification_order_id(self, request: NotificationRequest) -> str | None:
        try:
            fields = parse_form_body(request.form if request.form is not None else request.body)
        except MalformedNotification:
            return None
        return fields.get("orderid") or None
