"""Every error paycore raises, under one root.

Catch `PaycoreError` to handle anything paycore refuses; catch a subclass
to act on one cause::

    try:
        payment = gateway.create(order)
    except paycore.TransportError as exc:
        if exc.may_have_reached_gateway:
            ...  # the order may exist: query it before creating it again
    except paycore.GatewayError as exc:
        log.warning("gateway refused: %s", exc.gateway_message)

The hierarchy::

    PaycoreError
    ├── ConfigError               bad configuration or provider settings
    │   └── ProviderNotFound      no installed provider has that name
    ├── InvalidRequest            the caller's input, refused before any I/O
    ├── NotSupported              the provider lacks that operation or flow
    ├── VerificationError         a message that cannot be trusted
    │   ├── SignatureError        the signature does not match
    │   ├── MerchantMismatch      addressed to another merchant
    │   ├── AmountMismatch        the amount differs from the merchant's order
    │   └── MalformedNotification an unparseable body
    │       ├── MissingField      a required field is absent or empty
    │       └── MalformedAmount   an amount that is not a positive decimal
    ├── GatewayError              the gateway answered, and said no
    │   └── OrderNotFound         it has no such order
    ├── ProtocolError             the gateway answered something we cannot parse
    ├── TransportError            the request failed on the network
    └── ProviderError             the provider plugin itself failed (a bug)

No message ever contains a secret: errors name the setting or field, never its
value when that value is secret.
"""

from __future__ import annotations

__all__ = [
    "AmountMismatch",
    "ConfigError",
    "GatewayError",
    "InvalidRequest",
    "MalformedAmount",
    "MalformedNotification",
    "MerchantMismatch",
    "MissingField",
    "NotSupported",
    "OrderNotFound",
    "PaycoreError",
    "ProtocolError",
    "ProviderError",
    "ProviderNotFound",
    "SignatureError",
    "TransportError",
    "VerificationError",
]


#: The longest message an error carries: values echoed in it come from callers and
#: gateways, and a 5 MB order id must not make a 5 MB message.
MAX_MESSAGE = 2000


class PaycoreError(Exception):
    """Root of every error paycore raises. Its message is at most `MAX_MESSAGE` characters.

    ``may_have_reached_gateway`` is True when the error came after a request of
    the call was sent (or, for `TransportError`, may have been sent): after a
    create, query the order before creating it again.
    """

    may_have_reached_gateway: bool = False

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str) and len(args[0]) > MAX_MESSAGE:
            args = (args[0][: MAX_MESSAGE - 1] + "…", *args[1:])
        super().__init__(*args)


class ConfigError(PaycoreError):
    """The configuration file, an account or a provider's settings are invalid."""


class ProviderNotFound(ConfigError):
    """No installed provider has the requested name."""

    def __init__(self, name: str, installed: list[str], *, hint: str | None = None) -> None:
        listing = ", ".join(sorted(installed)) or "none"
        message = f"no payment provider named {name[:64]!r} is installed (installed: {listing})"
        super().__init__(f"{message}; {hint}" if hint else message)
        self.name = name
        self.installed = sorted(installed)


class InvalidRequest(PaycoreError, ValueError):
    """The caller's input was refused before anything was sent."""


class NotSupported(PaycoreError):
    """The provider does not implement the requested operation or flow."""


class VerificationError(PaycoreError):
    """A notification or an answer failed verification and must not be trusted."""


class SignatureError(VerificationError):
    """The signature of a notification or of an answer does not match."""


class MerchantMismatch(VerificationError):
    """The message is addressed to another merchant id."""


class AmountMismatch(VerificationError):
    """The amount differs from the amount of the merchant's own order."""


class MalformedNotification(VerificationError):
    """A notification cannot be parsed, lacks a field or carries a bad value."""


class MissingField(MalformedNotification):
    """A notification lacks a required field, or has it empty."""


class MalformedAmount(MalformedNotification):
    """A notification's amount is not a positive, plainly written decimal."""


class GatewayError(PaycoreError):
    """The gateway answered and refused; ``gateway_message`` is its own reason, ``gateway_code`` its code."""

    def __init__(self, message: str, *, gateway_message: str | None = None, gateway_code: str | None = None) -> None:
        super().__init__(message)
        #: the gateway's own words, cut to `MAX_MESSAGE` characters
        self.gateway_message = gateway_message[:MAX_MESSAGE] if gateway_message is not None else None
        #: the gateway's own code for the refusal (e.g. ``ACQ.TRADE_NOT_EXIST``), cut to 200 characters
        self.gateway_code = gateway_code[:200] if gateway_code is not None else None


class OrderNotFound(GatewayError):
    """The gateway says it has no such order: a create that never reached it, or another account's order.

    After a create that failed with ``may_have_reached_gateway=True``, a query
    raising this means the order was not created: creating it again is safe.
    """


class ProtocolError(PaycoreError):
    """The gateway answered something that cannot be understood.

    An answer came, so the request reached the gateway: after a create, query
    the order before creating it again.
    """

    #: Always True: the gateway answered.
    may_have_reached_gateway: bool = True


class TransportError(PaycoreError):
    """The request failed on the network.

    ``may_have_reached_gateway`` is ``False`` only when the gateway cannot have
    seen the request (the connection was never made), so a retry cannot create
    a second payment; when it is ``True``, query before retrying a create.
    """

    def __init__(self, message: str, *, may_have_reached_gateway: bool) -> None:
        super().__init__(message)
        self.may_have_reached_gateway = may_have_reached_gateway


class ProviderError(PaycoreError):
    """The provider plugin raised something unexpected: a bug in the plugin.

    ``may_have_reached_gateway`` is True when the call had sent a request before
    the provider failed: after a create, query the order before creating it again.
    """

    def __init__(self, message: str, *, may_have_reached_gateway: bool = False) -> None:
        super().__init__(message)
        self.may_have_reached_gateway = may_have_reached_gateway
