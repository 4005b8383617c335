"""What a gateway reads without I/O: notifications, browser returns, their signatures, and the failure reply.

These calls are pure (no network, no store), the same for `paycore.Gateway` and
`paycore.AsyncGateway`: both inherit them from `GatewayReading`. Each runs the
provider's hook inside an observed call (logged, provider bugs turned into
`paycore.ProviderError`, secrets cut out of errors) and checks what the hook
returned before handing it on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TypeVar

from paycore._observed import Observed, logger
from paycore._plugins import ProviderRuntime
from paycore.errors import (
    AmountMismatch,
    MalformedAmount,
    MalformedNotification,
    MerchantMismatch,
    MissingField,
    PaycoreError,
    ProviderError,
    SignatureError,
    VerificationError,
)
from paycore.http import NotificationRequest, Reply, as_notification_request
from paycore.models import BrowserReturn, Notification
from paycore.provider import Operation
from paycore.signatures import DIGEST_PREFIX, KEY_PLACEHOLDER, SignatureExplanation, withheld_digest

__all__ = ["DEFAULT_FAILURE_REPLY", "GatewayReading"]

#: The failure reply of a provider without a ``failure_reply`` hook: any gateway resends on it.
DEFAULT_FAILURE_REPLY = Reply(body="fail", status=400)
# What failure_reply() tells the provider, by error: short, and never holding "ok".
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (SignatureError, "bad signature"),
    (MerchantMismatch, "wrong merchant"),
    (AmountMismatch, "amount mismatch"),
    (MissingField, "missing field"),
    (MalformedAmount, "malformed amount"),
    (MalformedNotification, "malformed notification"),
    (VerificationError, "not verified"),
    (PaycoreError, "not accepted"),
)
_SAYS_OK = re.compile(rb"ok", re.IGNORECASE)
_UNSAFE_REASON = re.compile(r"ok|[\x00-\x1f\x7f]", re.IGNORECASE)
_ReadT = TypeVar("_ReadT", Notification, BrowserReturn)


class GatewayReading:
    """The pure half of a gateway: it reads what the payment gateway sent."""

    _runtime: ProviderRuntime
    _closed: bool

    @property
    def account(self) -> str:
        """The configured account this gateway serves."""
        return self._runtime.provider.account

    @property
    def provider_name(self) -> str:
        """The provider's name, e.g. ``"juhe"``."""
        return self._runtime.provider.name

    def _observe(self, operation: Operation, order_id: str | None) -> Observed:
        """Wrap provider bugs as ProviderError and log the outcome, never a secret."""
        return Observed(self, operation, order_id)

    def verify_notification(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> Notification:
        """Verify a notification from the gateway; pure, no I/O.

        ``request`` is the `paycore.NotificationRequest` as received (see
        `paycore.web` to build one from your framework's request). For protocols
        that POST a form, the raw body (bytes or str) or a mapping your framework
        parsed are shortcuts; raw bytes are best, as some gateways send bodies a
        form parser misreads. Answer the gateway with ``notification.ack``, and
        with `failure_reply` when you do not accept it.
        """
        # The common shortcut, bytes, skips every check of the others.
        read = NotificationRequest.of_body(request) if type(request) is bytes else as_notification_request(request)
        return self._read(Operation.VERIFY, read, Notification)

    def failure_reply(self, reason: BaseException | str | None = None) -> Reply:
        """The answer telling the gateway that a notification was not accepted, so that it resends.

        ``reason`` (the error that refused it, or a short phrase) becomes a short
        phrase for protocols whose failure answer carries one. Never raises: a
        provider hook that fails, or that answers with the letters "ok" in any case
        (which some gateways count as received), gives `DEFAULT_FAILURE_REPLY`.
        """
        phrase = _reason_phrase(reason)
        if Operation.FAILURE_REPLY not in self._runtime.operations:
            return DEFAULT_FAILURE_REPLY
        try:
            given: object = self._runtime.hook(Operation.FAILURE_REPLY)(reason=phrase)
        except Exception as exc:  # noqa: BLE001  # an error answer must always be given
            logger.warning("provider %s failed to build its failure reply (%s)", self.provider_name, type(exc).__name__)
            return DEFAULT_FAILURE_REPLY
        reply: Reply | None = None
        if isinstance(given, Reply):
            try:
                # Rebuilt from its fields: a subclass could send other bytes than its fields say.
                reply = Reply(
                    body=given.body, status=given.status, content_type=given.content_type, headers=given.headers
                )
            except PaycoreError:
                reply = None
        if reply is None or _SAYS_OK.search(reply.content):
            logger.warning(
                "provider %s gave a failure reply that is not a Reply or holds 'ok': answered %r instead",
                self.provider_name,
                DEFAULT_FAILURE_REPLY.body,
            )
            return DEFAULT_FAILURE_REPLY
        return reply

    def parse_return(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> BrowserReturn:
        """Read the buyer's browser return (to ``return_url``): for display, never proof of payment.

        A present but wrong signature is `paycore.SignatureError`; a return
        without one is read with ``signature_checked=False``. Either way,
        ``claimed_status`` is a claim: an order is paid when a verified
        notification or a query says so. NotSupported if the provider cannot read
        its returns.
        """
        self._runtime.hook(Operation.RETURN)  # NotSupported before the request is looked at
        request = as_notification_request(request)
        return self._read(Operation.RETURN, request, BrowserReturn)

    def _read(self, operation: Operation, request: NotificationRequest, kind: type[_ReadT]) -> _ReadT:
        """Call a pure hook that reads what was received; its result must be a ``kind`` (with an order id)."""
        hook = self._runtime.hook(operation)
        observed = self._observe(operation, None)
        with observed:
            result = hook(request=request)
            if not isinstance(result, kind):
                raise ProviderError(
                    f"provider {self.provider_name!r} returned {type(result).__name__}, not a {kind.__name__}"
                )
            observed.order_id = result.order_id
            return result
        raise observed.failure()

    def notification_order_id(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> str | None:
        """The order id a notification *claims*, unverified, or None; for routing only.

        An application that stores each order's account uses it to pick the
        account that must verify the notification (`paycore.Accounts` does).
        NotSupported if the provider cannot tell.
        """
        hook = self._runtime.hook(Operation.ROUTE)
        request = as_notification_request(request)
        observed = self._observe(Operation.ROUTE, None)
        with observed:
            claimed = hook(request=request)
            if claimed is not None and not isinstance(claimed, str):
                raise ProviderError(f"provider {self.provider_name!r} returned {type(claimed).__name__}, not an id")
            return claimed or None
        raise observed.failure()

    def explain_signature(self, request: NotificationRequest | bytes | str | Mapping[str, str]) -> SignatureExplanation:
        """Explain the signature of a received message: the text signed under each rule, and which matched.

        For ``paycore sign explain`` and the merchant's own diagnostics only: it
        signs whatever it is given with the account's key (a signing oracle), so
        never expose it to anyone who could send it messages. The key never
        appears in the result (any secret a provider left in is replaced by
        `paycore.signatures.KEY_PLACEHOLDER`). NotSupported if the provider
        cannot explain.
        """
        hook = self._runtime.hook(Operation.EXPLAIN)
        request = as_notification_request(request)
        observed = self._observe(Operation.EXPLAIN, None)
        with observed:
            explanation = hook(request=request)
            if not isinstance(explanation, SignatureExplanation):
                raise ProviderError(
                    f"provider {self.provider_name!r} returned {type(explanation).__name__}, not a SignatureExplanation"
                )
            return _explanation_masked(explanation, self._runtime.masked_secrets)
        raise observed.failure()


def _explanation_masked(explanation: SignatureExplanation, secrets: tuple[str, ...]) -> SignatureExplanation:
    # A digest that was not received is a signature of whatever was given, made with the account's key:
    # printed whole, explaining a tampered notification would forge it. Only a prefix is shown.
    withheld = {
        candidate.digest: withheld_digest(candidate.digest)
        for candidate in explanation.candidates
        if not candidate.matched and candidate.key_id is None and len(candidate.digest) > DIGEST_PREFIX
    }

    def mask(text: str | None) -> str | None:
        if text is None:
            return None
        for secret in secrets:  # longest first
            text = text.replace(secret, KEY_PLACEHOLDER)
        for digest, prefix in withheld.items():
            text = text.replace(digest, prefix)
        return text

    candidates = tuple(
        dataclasses.replace(
            candidate,
            label=str(mask(candidate.label)),
            signed_text=str(mask(candidate.signed_text)),
            # A public-key check recomputes nothing: there is no signature of this account's to withhold.
            digest=candidate.digest
            if candidate.matched or candidate.key_id is not None
            else withheld_digest(candidate.digest),
            dropped=tuple(str(mask(name)) for name in candidate.dropped),
        )
        for candidate in explanation.candidates
    )
    return dataclasses.replace(
        explanation,
        rule=str(mask(explanation.rule)),
        received=mask(explanation.received),
        problem=mask(explanation.problem),
        candidates=candidates,
    )


def _reason_phrase(reason: BaseException | str | None) -> str:
    if isinstance(reason, str):
        return reason if 0 < len(reason) <= 100 and not _UNSAFE_REASON.search(reason) else "not accepted"
    if isinstance(reason, BaseException):
        return next((phrase for kind, phrase in _REASONS if isinstance(reason, kind)), "server error")
    return "not accepted"
