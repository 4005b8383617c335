"""``paycore sign explain`` for juhe: each signing rule the verifier tries, on the fields received."""

from __future__ import annotations

from collections.abc import Mapping

from paycore import MalformedNotification, SignatureCandidate, SignatureError, SignatureExplanation
from paycore.signatures import KEY_PLACEHOLDER
from paycore.toolkit import signature_matches, utf8
from paycore_juhe._messages import _UNSIGNED, _other_rules, signed_fields
from paycore_juhe._signing import digest, signing_string

__all__ = ["RULE", "explain"]

RULE = (
    "every field but sign and attach whose value is not empty or '0', sorted by name, joined "
    "name=value&name=value with raw values, then &key=<the key>; MD5, upper-case hex. Platforms that "
    "also sign attach, or keep '0' values, are tried next"
)


def _label(rule_fields: Mapping[str, str], zeros: Mapping[str, str]) -> str:
    if "attach" in rule_fields and any(name in rule_fields for name in zeros):
        return "'0' kept, attach signed"
    return "attach signed" if "attach" in rule_fields else "'0' kept"


def explain(fields: Mapping[str, str], key: str) -> SignatureExplanation:
    received = fields.get("sign") or None
    normalized = (received or "").strip().upper()
    reference = {name: value for name, value in fields.items() if name not in _UNSIGNED and value not in ("", "0")}
    zeros = {name: value for name, value in fields.items() if name not in _UNSIGNED and value == "0"}
    problem = None
    try:
        signed_fields(fields, key)
    except SignatureError as exc:
        problem = str(exc)
    rules = [(signing_string(reference), reference, "reference")]
    rules += [
        (text, rule, _label(rule, zeros)) for text, rule in _other_rules(reference, zeros, fields.get("attach", ""))
    ]
    candidates = []
    for text, rule_fields, label in rules:
        encoded = utf8(text)
        if encoded is None:
            raise MalformedNotification("a field is not valid Unicode text")
        expected = digest(encoded, key)
        candidates.append(
            SignatureCandidate(
                label=label,
                signed_text=f"{text}&key={KEY_PLACEHOLDER}",
                digest=expected,
                matched=bool(normalized) and signature_matches(normalized, expected),
                dropped=tuple(sorted(name for name in fields if name not in rule_fields and name != "sign")),
            )
        )
    return SignatureExplanation(rule=RULE, received=received, candidates=tuple(candidates), problem=problem)
