"""What a juhe sandbox is set to: merchant, key, resend profile, faults."""

from __future__ import annotations

import enum
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from paycore import ConfigError
from paycore.sandbox import PUBLIC_SANDBOX_KEY

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_MERCHANT_ID",
    "MAX_SLOW_SECONDS",
    "PROFILES",
    "REFERENCE_DATETIME",
    "Fault",
    "Profile",
    "SandboxConfig",
    "check_slow_seconds",
    "parse_faults",
]

DEFAULT_MERCHANT_ID = "10002"
#: The channel codes of the protocol document.
DEFAULT_CHANNELS: Mapping[str, str] = {
    str(code): f"channel {code}" for code in (901, 902, 903, 904, 905, 907, 908, 909, 910)
}
#: ``date("YmdHis")``: how the reference software writes a notification's ``datetime``.
REFERENCE_DATETIME = "%Y%m%d%H%M%S"
#: The longest the ``slow`` fault may hold an answer.
MAX_SLOW_SECONDS = 300.0


_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,253}")
_MERCHANT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,256}")
_PATH = re.compile(r"[^\x00]{1,4096}")
# What a notification's datetime may hold once formatted: digits and the separators times use.
_FORMATTED_TIME = re.compile(r"[0-9 :./TZ+-]{8,40}")


def _check_text(name: str, value: object, *, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"sandbox {name} is not usable (expected {pattern.pattern})")


def _check_datetime_format(value: object) -> None:
    # The formatted time goes into a body concatenated without encoding: it must hold no '&' or '='.
    if not isinstance(value, str) or not value:
        raise ConfigError("sandbox notify_datetime_format must be a strftime format")
    sample = datetime(2026, 11, 28, 23, 10, 27).strftime(value)
    if not _FORMATTED_TIME.fullmatch(sample):
        raise ConfigError("sandbox notify_datetime_format must give digits and time separators only")


def check_slow_seconds(value: object) -> float:
    """``value`` as a delay in seconds for the ``slow`` fault; ValueError unless finite and in range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("slow_seconds must be a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:  # an integer of hundreds of digits
        seconds = math.inf
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SLOW_SECONDS:
        raise ValueError(f"slow_seconds must be between 0 and {MAX_SLOW_SECONDS:g}")
    return seconds


def parse_faults(names: Iterable[str]) -> frozenset[Fault]:
    """Fault names as given on a command line; an unknown one is a ConfigError listing the known."""
    try:
        return frozenset(Fault(name) for name in names)
    except (ValueError, TypeError):
        known = ", ".join(fault.value for fault in Fault)
        raise ConfigError(f"unknown sandbox fault (known: {known})") from None


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
    """How notifications are resent until the merchant acknowledges them."""

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
    #: channel code -> name; the document's codes by default
    channels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    timezone: str = "Asia/Shanghai"
    #: ``False`` (the default) behaves as the reference software does: any answer
    #: containing "ok" in any case acknowledges a notification, ``pay_productname``
    #: may be left out, order ids up to 50 characters. ``True`` follows the merchant
    #: document to the letter: exactly ``OK``, ``pay_productname`` required, 20 characters.
    strict: bool = False
    #: how a notification's ``datetime`` is written (strftime); the reference's by default
    notify_datetime_format: str = REFERENCE_DATETIME

    def __post_init__(self) -> None:
        _check_text("host", self.host, pattern=_HOST)
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError("sandbox port must be a whole number from 0 to 65535")
        _check_text("merchant_id", self.merchant_id, pattern=_MERCHANT)
        _check_text("secret_key", self.secret_key, pattern=_PRINTABLE)
        if self.state_path is not None:
            _check_text("state_path", self.state_path, pattern=_PATH)
        if not isinstance(self.faults, frozenset) or not all(isinstance(fault, Fault) for fault in self.faults):
            raise ConfigError("sandbox faults must be a frozenset of Fault (see parse_faults)")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError("sandbox timezone must be an IANA time zone such as Asia/Shanghai") from None
        _check_datetime_format(self.notify_datetime_format)
        if not isinstance(self.strict, bool):
            raise ConfigError("sandbox strict must be True or False")
        if not isinstance(self.profile, str) or self.profile not in PROFILES:
            raise ConfigError(f"unknown sandbox profile {self.profile!r} (one of: {', '.join(PROFILES)})")
        try:
            check_slow_seconds(self.slow_seconds)
        except ValueError as exc:
            raise ConfigError(f"sandbox {exc}") from None
        interval = self.notify_interval
        # NaN and infinities fail the range comparison too.
        if interval is not None and (
            isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 <= interval <= 3600
        ):
            raise ConfigError("sandbox notify_interval must be between 0 and 3600 seconds")
        if not isinstance(self.channels, Mapping):
            raise ConfigError("sandbox channels must map codes to names")
        for code in self.channels:
            if not isinstance(code, str) or not code or not code.isascii() or not code.isalnum():
                raise ConfigError(f"sandbox channel code {str(code)[:16]!r} must be letters and digits")

    @property
    def max_order_id_length(self) -> int:
        """20 as the document says when strict; else the reference software's varchar(50)."""
        return 20 if self.strict else 50

    @property
    def resend(self) -> Profile:
        profile = PROFILES[self.profile]
        if self.notify_interval is None:
            return profile
        return Profile(tries=profile.tries, interval=self.notify_interval)
