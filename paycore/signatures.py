"""Why a signature matched or did not: what ``paycore sign explain`` prints.

A provider that implements the optional ``explain_signature`` hook returns a
`SignatureExplanation` of a received message: the protocol's rule in words, and
for each signing rule it tries (some protocols vary between deployments) the exact
text signed, with the key written as `KEY_PLACEHOLDER`, the fields left out, and
the signature that text gives::

    explanation = gateway.explain_signature(request)
    print(explanation.verdict())      # which candidate matched, or why none did

It computes signatures of whatever it is given with the account's key: a signing
oracle. `paycore.Gateway.explain_signature` therefore shows only the first
`DIGEST_PREFIX` characters of a signature that was not received (whole, explaining a
tampered notification would print the signature that forges it). It is for the
merchant's own diagnostics (the CLI); never expose it to anyone who could send it
messages.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIGEST_PREFIX", "KEY_PLACEHOLDER", "SignatureCandidate", "SignatureExplanation", "withheld_digest"]

#: How a signed text shows the key (paycore also masks any secret a provider left in).
KEY_PLACEHOLDER = "<secret_key>"

#: How many characters of a signature that did not match an explanation shows: enough to compare with
#: the gateway's own log, far too few to stand in for the signature.
DIGEST_PREFIX = 6


def withheld_digest(digest: str) -> str:
    """``digest`` cut to its first `DIGEST_PREFIX` characters and "…" (shorter ones are withheld whole)."""
    return digest[:DIGEST_PREFIX] + "…" if len(digest) > DIGEST_PREFIX else "…"


@dataclass(frozen=True)
class SignatureCandidate:
    """One signing rule applied to the received message."""

    #: which rule, e.g. ``"reference"`` or ``"attach signed"``
    label: str
    #: the exact text that is signed, the key shown as `KEY_PLACEHOLDER`
    signed_text: str
    #: the signature this text gives with the account's key; through `paycore.Gateway.explain_signature`,
    #: only its first `DIGEST_PREFIX` characters and "…" when it did not match (whole, it would forge the message)
    digest: str
    #: whether the received signature equals it (compared in constant time)
    matched: bool
    #: received fields this rule leaves out (empty values, unsigned fields)
    dropped: tuple[str, ...] = ()
    #: for a public-key signature (SHA256withRSA: Alipay, WeChat Pay v3), the key the received signature was
    #: checked with (a setting's name, a certificate's serial): a verifier holds no key that makes such a
    #: signature, so ``digest`` is empty and ``matched`` says whether it verifies with that key
    key_id: str | None = None


@dataclass(frozen=True)
class SignatureExplanation:
    """A received message's signature, explained."""

    #: the protocol's signing rule, in words
    rule: str
    #: the signature received, or None when there is none
    received: str | None
    #: each rule tried, in the order the provider tries them
    candidates: tuple[SignatureCandidate, ...]
    #: a reason the message is refused whatever its signature (a field that makes the string ambiguous, ...)
    problem: str | None = None

    @property
    def matched(self) -> SignatureCandidate | None:
        """The first candidate whose signature was received, if any."""
        return next((candidate for candidate in self.candidates if candidate.matched), None)

    def verdict(self) -> str:
        """One sentence: which rule matched, or why none did."""
        if self.received is None:
            return "no signature was received"
        matched = self.matched
        if matched is not None and self.problem is None:
            return f"the signature matches the {matched.label!r} rule"
        if matched is not None:
            return f"the signature matches the {matched.label!r} rule, but the message is refused: {self.problem}"
        if self.problem is not None:
            return f"the message is refused before its signature counts: {self.problem}"
        keys = [candidate.key_id for candidate in self.candidates if candidate.key_id is not None]
        if keys and len(keys) == len(self.candidates):
            return (
                f"the signature does not verify with {', '.join(keys)}: the message was changed on the way, or "
                "another key signed it (compare the signed text with what the gateway signed, and the key with "
                "the one the gateway names)"
            )
        return (
            "no rule gives the received signature: the key differs from the one that signed it, "
            "or the message was changed on the way (compare the signed text with what the gateway signed)"
        )
