"""The base class of every payment provider, and what it declares about itself.

A provider author subclasses `Provider`, gives it a pydantic settings
model and implements the hooks of `paycore.hookspecs`::

    class AcmeSettings(paycore.ProviderSettings):
        base_url: str
        merchant_id: str
        secret_key: pydantic.SecretStr

    class AcmeProvider(paycore.Provider[AcmeSettings]):
        settings_model = AcmeSettings
        channels = frozenset({paycore.Channel.ALIPAY_QR})

        @paycore.hookimpl
        def create_payment(self, order, flow): ...

and registers the class under an entry point in the ``paycore.providers`` group.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

import pydantic

from paycore.hookspecs import PROJECT_NAME
from paycore.models import Channel, CreateFlow

__all__ = ["Capabilities", "Operation", "Provider", "ProviderSettings"]


class Operation(enum.StrEnum):
    """An operation a gateway can be asked for, and the hook that serves it."""

    CREATE = "create"
    QUERY = "query"
    VERIFY = "verify"
    CLOSE = "close"
    SANDBOX = "sandbox"
    #: answering a notification that was not accepted (core default without the hook)
    FAILURE_REPLY = "failure_reply"
    #: reading the buyer's browser return
    RETURN = "return"
    #: reading the order id a notification claims, to route it to its account
    ROUTE = "route"
    #: explaining a received signature (``paycore sign explain``)
    EXPLAIN = "explain"
    #: refunding a paid order, and asking where a refund stands
    REFUND = "refund"
    REFUND_QUERY = "refund_query"

    @property
    def hook_name(self) -> str:
        return _HOOK_NAMES[self]


_HOOK_NAMES = {
    Operation.CREATE: "create_payment",
    Operation.QUERY: "query_payment",
    Operation.VERIFY: "verify_notification",
    Operation.CLOSE: "close_payment",
    Operation.SANDBOX: "make_sandbox",
    Operation.FAILURE_REPLY: "failure_reply",
    Operation.RETURN: "parse_return",
    Operation.ROUTE: "notification_order_id",
    Operation.EXPLAIN: "explain_signature",
    Operation.REFUND: "refund_payment",
    Operation.REFUND_QUERY: "query_refund",
}


class ProviderSettings(pydantic.BaseModel):
    """Base of a provider's settings model: frozen, unknown settings refused.

    Declare secrets as `pydantic.SecretStr` so they never reach a log,
    a ``repr()``, an error message or ``paycore accounts``.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


class Capabilities(pydantic.BaseModel):
    """What a provider can do: shown by ``paycore providers --json``.

    ``operations`` is read off the hooks the class implements, so it cannot
    disagree with them.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", defer_build=True)

    operations: frozenset[Operation]
    channels: frozenset[Channel]
    create_flows: frozenset[CreateFlow]
    #: `paycore.Order` fields every order must set for this provider
    required_order_fields: frozenset[str] = frozenset()
    #: more required `paycore.Order` fields, by channel
    channel_order_fields: dict[Channel, frozenset[str]] = pydantic.Field(default_factory=dict)
    #: more required `paycore.Order` fields, by create flow
    flow_order_fields: dict[CreateFlow, frozenset[str]] = pydantic.Field(default_factory=dict)
    #: the ISO 4217 currencies its gateways take orders in, and settle in
    currencies: frozenset[str] = frozenset({"CNY"})


SettingsT = TypeVar("SettingsT", bound=pydantic.BaseModel)


class Provider(Generic[SettingsT]):
    """A payment provider: settings in, hook implementations out.

    Class attributes to set:

    - ``settings_model``: the pydantic model validating an account's settings;
    - ``channels``: the normalized channels it serves by default;
    - ``create_flows``: the create flows it supports (server-to-server by default);
    - ``currencies``: the ISO 4217 currencies its gateways take orders in and
      settle in (yuan only by default): an order in another is refused before any
      I/O, and every `paycore.Notification` states the one it was paid in;
    - ``provider_name``: its name when used as a class, not by entry point;
    - ``secret_parameters``: request parameters whose values are secret;
    - ``required_order_fields``: optional `paycore.Order` fields the gateway
      needs on every order (``client_ip``, ``payer_id``, ``expires_at``, ...),
      ``channel_order_fields`` those it needs on some channels only, and
      ``flow_order_fields`` those it needs on one create flow only (epay's API
      create sends the buyer's IP, its browser form does not): an order without
      one is refused before any I/O.

    ``testing = True`` marks a fake that a production configuration must not
    reach (see the testing guide).
    """

    settings_model: ClassVar[type[pydantic.BaseModel]]
    channels: ClassVar[frozenset[Channel]] = frozenset()
    create_flows: ClassVar[frozenset[CreateFlow]] = frozenset({CreateFlow.SERVER})
    testing: ClassVar[bool] = False
    #: the ISO 4217 currencies its gateways take orders in and settle in
    currencies: ClassVar[frozenset[str]] = frozenset({"CNY"})
    #: the largest Order amount this provider's gateways accept, if below
    #: `paycore.MAX_ORDER_AMOUNT`: larger orders are refused before any I/O
    max_order_amount: ClassVar[Decimal | None] = None
    #: the values of this provider's public, documented sandbox credentials beyond paycore's
    #: `paycore.sandbox.PUBLIC_SANDBOX_KEY` (a multi-key protocol's test keys): ``paycore check``
    #: reports an account using one, `paycore.Accounts` refuses one beside other accounts, and
    #: messages do not mask them (printed by ``paycore sandbox``, they hide nothing)
    public_test_credentials: ClassVar[frozenset[str]] = frozenset()
    #: query parameters whose values are secret (a key some protocols must send in
    #: a URL): masked in every URL httpx logs, in this process
    secret_parameters: ClassVar[frozenset[str]] = frozenset()
    #: the name to report when the class is used directly rather than through
    #: its entry point (the entry-point name wins otherwise)
    provider_name: ClassVar[str | None] = None
    #: optional Order fields every order must set for this provider's gateways
    required_order_fields: ClassVar[frozenset[str]] = frozenset()
    #: optional Order fields some channels need, e.g. ``{Channel.WECHAT_JSAPI: frozenset({"payer_id"})}``
    channel_order_fields: ClassVar[Mapping[Channel, frozenset[str]]] = MappingProxyType({})
    #: optional Order fields one create flow needs, e.g. ``{CreateFlow.SERVER: frozenset({"client_ip"})}``
    flow_order_fields: ClassVar[Mapping[CreateFlow, frozenset[str]]] = MappingProxyType({})

    def __init__(self, settings: SettingsT, *, name: str, account: str) -> None:
        #: the validated settings of this account
        self.settings = settings
        #: the name the provider was loaded under, e.g. ``"juhe"``
        self.name = name
        #: the configured account this instance serves
        self.account = account

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} account={self.account!r}>"

    @property
    def max_answer_bytes(self) -> int | None:
        """The most bytes of one answer this account needs read, if less than the gateway's limit.

        The gateway reads no further than the lower of its own ``max_answer_bytes``
        and this; None leaves the gateway's limit alone.
        """
        return None

    @classmethod
    def capabilities(cls) -> Capabilities:
        """Return what this provider class supports."""
        return Capabilities(
            operations=cls.operations(),
            channels=cls.channels,
            create_flows=cls.create_flows,
            required_order_fields=cls.required_order_fields,
            channel_order_fields=dict(cls.channel_order_fields),
            flow_order_fields=dict(cls.flow_order_fields),
            currencies=cls.currencies,
        )

    def serves(self, channel: Channel) -> bool:
        """Whether this account takes orders on ``channel``: the class's ``channels`` unless overridden.

        Override it when an account's settings decide (juhe's ``channels`` table):
        the gateway refuses other channels before any I/O.
        """
        return channel in type(self).channels

    @classmethod
    def order_fields_for(cls, channel: Channel | str, flow: CreateFlow | None = None) -> frozenset[str]:
        """The optional `paycore.Order` fields an order on ``channel`` must set for this provider.

        With ``flow``, those of that create flow; without, those of every flow (what
        an order must set to be created either way).
        """
        needed = cls.required_order_fields
        extra = cls.channel_order_fields.get(channel) if isinstance(channel, Channel) else None
        if extra:
            needed = needed | extra
        if cls.flow_order_fields:
            if flow is None:
                needed = needed.union(*cls.flow_order_fields.values())
            else:
                needed = needed | cls.flow_order_fields.get(flow, frozenset())
        return needed

    @classmethod
    def operations(cls) -> frozenset[Operation]:
        """The operations whose hooks this class implements."""
        return frozenset(operation for operation in Operation if _is_hookimpl(getattr(cls, operation.hook_name, None)))


def _is_hookimpl(attribute: Any) -> bool:
    return attribute is not None and hasattr(attribute, f"{PROJECT_NAME}_impl")
