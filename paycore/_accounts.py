"""Every configured account at once: new orders go to the default, notifications to their own account.

Switching gateways is a change of ``default``. Orders already in flight were made
by another account, and only that account's key can verify their notifications;
so an application holds all its accounts and routes each notification to the one
it belongs to, whatever ``default`` says now::

    accounts = paycore.Accounts.from_config()
    order = paycore.Order(..., notify_url=accounts.notify_url("https://shop.example/notify"))
    payment = accounts.gateway().create(order)        # the default account
    save(order, account=payment.account)              # remember who made it

    # POST /notify/{account}
    notification = accounts.verify_notification(request)   # the account in the path verifies

Two sound ways to know a notification's account: its ``notify_url`` path
(`notify_url` puts the account there and `verify_notification` reads it), or
the account stored with the order (`notification_order_id` reads the order id the
notification claims, unverified, so the application can look the order up; then
``verify_notification(request, account=stored)``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from paycore._gateway import AsyncGateway, Gateway
from paycore._gateway_core import ORDER_REFERENCE
from paycore._text import clip
from paycore.config import AccountConfig, PaycoreConfig, load_config
from paycore.errors import ConfigError, InvalidRequest, MalformedNotification, PaycoreError
from paycore.http import NotificationRequest, Reply, as_notification_request
from paycore.models import Notification
from paycore.provider import Operation
from paycore.toolkit import is_http_url

__all__ = ["Accounts", "AsyncAccounts"]

GatewayT = TypeVar("GatewayT", Gateway, AsyncGateway)
_ACCOUNT_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _gateway_of(cls: type[GatewayT], account: AccountConfig, options: Mapping[str, Any]) -> GatewayT:
    return cls(
        account.provider,
        account.settings,
        account=account.name,
        timeout=account.timeout,
        deadline=account.deadline,
        create_flow=account.create_flow,
        **options,
    )


class _Accounts(Generic[GatewayT]):
    """What `Accounts` and `AsyncAccounts` share: a read-only mapping of name to gateway."""

    _gateway_class: type[GatewayT]

    def __init__(
        self, gateways: Mapping[str, GatewayT], *, default: str | None = None, allow_public_test_keys: bool = False
    ) -> None:
        if not isinstance(gateways, Mapping) or not gateways:
            raise ConfigError("a set of accounts needs at least one account")
        for name, gateway in gateways.items():
            if not isinstance(gateway, self._gateway_class) or gateway.account != name:
                raise ConfigError(f"account {clip(str(name))!r} must map to a {self._gateway_class.__name__} of it")
        if default is not None and default not in gateways:
            raise ConfigError(f"default account {clip(str(default))!r} is not among the accounts")
        if default is None and len(gateways) == 1:
            default = next(iter(gateways))
        if len(gateways) > 1 and not allow_public_test_keys:
            _refuse_public_test_keys(gateways)
        self._gateways: dict[str, GatewayT] = dict(gateways)
        self._default = default

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        config: PaycoreConfig | None = None,
        transport: Any = None,
        max_answer_bytes: int | None = None,
        allow_public_test_keys: bool = False,
    ) -> Self:
        """Load every configured account (file and environment); ``default`` names where new orders go.

        An account that cannot be loaded fails here, at start-up, rather than at
        its first notification.
        """
        loaded = config if config is not None else load_config(path)
        names = loaded.account_names()
        if not names:
            raise ConfigError("no payment account is configured")
        try:
            default: str | None = loaded.resolve_name(None)
        except ConfigError:
            default = None  # several accounts and no default: gateway() needs a name
        if default is not None and default not in names:
            raise ConfigError(
                f"the default account {clip(default)!r} is not configured (configured: {', '.join(names)})"
            )
        options: dict[str, Any] = {"max_answer_bytes": max_answer_bytes}
        if transport is not None:
            options["transport"] = transport
        # A gateway makes its HTTP client on first use: one that fails to load leaves nothing to close.
        gateways = {name: _gateway_of(cls._gateway_class, loaded.account(name), options) for name in names}
        return cls(gateways, default=default, allow_public_test_keys=allow_public_test_keys)

    @property
    def default(self) -> str | None:
        """The account new orders go to (``default`` in the configuration), if any."""
        return self._default

    @property
    def names(self) -> tuple[str, ...]:
        """Every account's name, sorted."""
        return tuple(sorted(self._gateways))

    def __contains__(self, name: object) -> bool:
        return name in self._gateways

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._gateways)

    def __getitem__(self, name: str) -> GatewayT:
        """The gateway of account ``name``: ConfigError if there is none."""
        gateway = self._gateways.get(name) if isinstance(name, str) else None
        if gateway is None:
            raise ConfigError(f"no account named {clip(str(name))!r} (configured: {', '.join(self.names)})")
        return gateway

    def gateway(self, name: str | None = None) -> GatewayT:
        """The gateway of ``name``, or of the default account: the one new orders use."""
        if name is not None:
            return self[name]
        if self._default is None:
            raise ConfigError(f"several accounts ({', '.join(self.names)}) and no default: name one")
        return self._gateways[self._default]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {', '.join(self.names)} default={self._default!r}>"

    def notify_url(self, base: str, account: str | None = None) -> str:
        """The notify URL of ``account`` (default: the default account): ``base`` plus ``/<account>``.

        Route ``<base path>/{account}`` to `verify_notification`: the account in the
        path names the key that verifies, whatever ``default`` says later.
        """
        name = self.gateway(account).account
        problem = is_http_url(base, allow_query=False) if isinstance(base, str) else "must be text"
        if problem is not None:
            raise InvalidRequest(f"the notify base URL {problem}")
        return f"{base.rstrip('/')}/{name}"

    def account_in_path(self, path: str) -> str:
        """The configured account that the last segment of ``path`` names; MalformedNotification otherwise."""
        segment = path.rstrip("/").rpartition("/")[2] if isinstance(path, str) else ""
        if not _ACCOUNT_SEGMENT.fullmatch(segment) or segment not in self._gateways:
            raise MalformedNotification(
                f"the notification's path {clip(str(path))!r} names no configured account (see Accounts.notify_url)"
            )
        return segment

    def verify_notification(
        self, request: NotificationRequest | bytes | str | Mapping[str, str], *, account: str | None = None
    ) -> Notification:
        """Verify with the account the notification belongs to: ``account`` if given, else the one in its path.

        No other account's key is consulted.
        """
        if not isinstance(request, NotificationRequest):
            request = as_notification_request(request)
        name = account if account is not None else self.account_in_path(request.path)
        return self[name].verify_notification(request)

    def failure_reply(self, reason: BaseException | str | None = None, *, account: str | None = None) -> Reply:
        """The "not accepted" answer of ``account``'s provider (else of the default account's). Never raises."""
        name = account if isinstance(account, str) and account in self._gateways else self._default
        gateway = self._gateways[name] if name is not None else next(iter(self._gateways.values()))
        return gateway.failure_reply(reason)

    def reply_for(self, request: object, reason: BaseException | str | None = None) -> Reply:
        """`failure_reply` from the provider of the account in ``request``'s path, if it names one. Never raises."""
        path = request.path if isinstance(request, NotificationRequest) else ""
        segment = path.rstrip("/").rpartition("/")[2]
        return self.failure_reply(reason, account=segment if segment in self._gateways else None)

    def notification_order_id(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> str | None:
        """The order id a notification claims, unverified: to look up the account stored with the order.

        Every account whose provider can read one is asked (a provider may need the
        account's key to read it: an encrypted body); one that cannot read this
        request is passed over. None when none can, MalformedNotification when they
        read different ids.
        """
        if not isinstance(request, NotificationRequest):
            request = as_notification_request(request)
        claimed: set[str] = set()
        for gateway in self._gateways.values():
            if Operation.ROUTE not in gateway.capabilities.operations:
                continue
            try:
                found = gateway.notification_order_id(request)
            except PaycoreError:
                continue
            # Handed to the merchant's lookup: only what could be an order id (as query() takes them).
            if found is not None and ORDER_REFERENCE.fullmatch(found):
                claimed.add(found)
        if len(claimed) > 1:
            raise MalformedNotification("the notification reads as different orders under different providers")
        return claimed.pop() if claimed else None


def _refuse_public_test_keys(gateways: Mapping[str, Gateway | AsyncGateway]) -> None:
    """Refuse an account keyed with a sandbox's public test key beside other accounts.

    (paycore's `PUBLIC_SANDBOX_KEY`, or a credential its provider declares public.)

    Anyone can sign with that key, and a notification posted to that account's path
    verifies: beside real accounts it is a forging kit unless every order stores its
    account. ``allow_public_test_keys=True`` says the application checks that.
    """
    public = sorted(name for name, gateway in gateways.items() if gateway._runtime.uses_public_test_credentials)
    if public:
        raise ConfigError(
            f"account(s) {', '.join(public)} use the sandbox's public test key beside other accounts: anyone can "
            "sign their notifications. Remove them from this configuration, or pass allow_public_test_keys=True "
            "if every order stores its account (payment.account) and is checked against it"
        )


class Accounts(_Accounts[Gateway]):
    """Every configured account's `paycore.Gateway`, by name. Close it (or use ``with``) when done."""

    _gateway_class = Gateway

    def close(self) -> None:
        """Close every gateway's HTTP client."""
        for gateway in self._gateways.values():
            gateway.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncAccounts(_Accounts[AsyncGateway]):
    """Every configured account's `paycore.AsyncGateway`, by name. Close it (or use ``async with``) when done."""

    _gateway_class = AsyncGateway

    async def aclose(self) -> None:
        """Close every gateway's HTTP client."""
        for gateway in self._gateways.values():
            await gateway.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
