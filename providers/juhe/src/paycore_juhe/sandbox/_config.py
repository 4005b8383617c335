"""What a juhe sandbox is set to: merchant, key, resend profile, faults."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from paycore import ConfigError
from paycore.sandbox import PUBLIC_SANDBOX_KEY

__all__ = ["DEFAULT_MERCHANT_ID", "PROFILES", "Fault", "Profile", "SandboxConfig", "parse_faults"]

DEFAULT_MERCHANT_ID = "10002"


def parse_faults(names: Iterable[str]) -> frozenset[Fault]:
    """Fault names as given on a command line; an unknown one is a ConfigError listing the known."""
    try:
        return frozenset(Fault(name) for name in names)
    except ValueError:
        known = ", ".join(fault.value for fault in Fault)
        raise ConfigError(f"unknown sandbox fault in {sorted(names)} (known: {known})") from None


class Fault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on real platforms.

    Switched on for every order, or for one order through the admin API.
    """

    #: the notification is sent once more after the merchant's OK
    DUPLICATE = "duplicate"
    #: the notification is signed with another key
    WRONG_SIGN = "wrong_sign"
    #: the notification and query carry ``true_amount`` 0.01 below ``amount``
    TRUE_AMOUNT = "true_amount"
    #: the create answer spells ``status`` as the document's example does: ``ststus``
    STSTUS = "ststus"
    #: the create answer is an HTML page although ``type=json`` was asked
    HTML = "html"
    #: create and query answer HTTP 500
    HTTP_500 = "http_500"
    #: create and query answer only after ``slow_seconds`` (longer than a client's timeout)
    SLOW = "slow"
    #: paying fails: the notification's ``returncode`` is not ``00``
    FAIL = "fail"


@dataclass(frozen=True)
class Profile:
    """How notifications are resent until the merchant answers exactly ``OK``."""

    tries: int
    interval: float


#: ``document``: 3 more tries, as the merchant document says (the default);
#: ``realistic``: 5 tries at least 10 s apart, as the software does;
#: ``fast``: the document's tries, 50 ms apart, for tests.
PROFILES: Mapping[str, Profile] = {
    "document": Profile(tries=4, interval=10.0),
    "realistic": Profile(tries=5, interval=10.0),
    "fast": Profile(tries=4, interval=0.05),
}


@dataclass(frozen=True)
class SandboxConfig:
    """A sandbox's settings; every field has a default."""

    host: str = "127.0.0.1"
    port: int = 0
    merchant_id: str = DEFAULT_MERCHANT_ID
    secret_key: str = field(default=PUBLIC_SANDBOX_KEY, repr=False)
    profile: str = "document"
    #: overrides the profile's interval between tries, in seconds
    notify_interval: float | None = None
    faults: frozenset[Fault] = frozenset()
    slow_seconds: float = 15.0
    state_path: str | None = None
    channels: Mapping[str, str] = field(
        default_factory=lambda: {str(code): f"channel {code}" for code in (901, 902, 903, 904, 905, 907, 908, 909, 910)}
    )
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(f"unknown sandbox profile {self.profile!r} (one of: {', '.join(PROFILES)})")

    @property
    def resend(self) -> Profile:
        profile = PROFILES[self.profile]
        if self.notify_interval is None:
            return profile
        return Profile(tries=profile.tries, interval=self.notify_interval)
