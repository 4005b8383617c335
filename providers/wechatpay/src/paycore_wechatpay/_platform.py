"""The keys the platform signs with, by the serial its messages name, and the answer nonces already seen.

Public-key mode holds one key under its id, for good. Certificate mode holds the
certificates known so far: those of the setting, then every one downloaded (a
rotation keeps the old beside the new until it expires). Gateways of one account
in one process share them (`platform_keys`), so that the gateway verifying a
notification knows the certificates another gateway of the account fetched.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa

from paycore_wechatpay._certificates import PlatformCertificate, serial_key

__all__ = ["ANSWER_MAX_AGE", "PlatformKeys", "platform_keys"]

#: seconds a signed timestamp may be off the clock, either way (WeChat Pay's five minutes)
ANSWER_MAX_AGE = 300
#: certificate mode: fetch again when a known certificate expires within this, or when the last fetch is this old
_REFRESH_BEFORE = timedelta(hours=12)
#: certificate mode: a fetch asked for by a notification (an unknown serial, which anyone can send) waits this
#: long after the last fetch, so that forged notifications cannot make every request fetch first
_MIN_ASKED_REFETCH = timedelta(minutes=1)
#: answer nonces remembered (each for twice the allowed age): past it the oldest is forgotten (≈15 MB)
_MAX_NONCES = 100_000


class PlatformKeys:
    """The platform's verification keys by serial, and the nonces of the answers verified with them."""

    def __init__(self, *, certificate_mode: bool) -> None:
        self.certificate_mode = certificate_mode
        self._keys: dict[str, tuple[rsa.RSAPublicKey, datetime | None]] = {}
        self._fetched_at: datetime | None = None
        self._asked = False
        self._nonces: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add_public_key(self, key_id: str, key: rsa.RSAPublicKey) -> None:
        """Public-key mode: the one key, named by its id, with no expiry."""
        with self._lock:
            self._keys[key_id] = (key, None)

    def add_certificates(self, certificates: Iterable[PlatformCertificate], *, fetched: bool) -> None:
        """Certificates learnt (``fetched``: from ``/v3/certificates`` just now); expired ones are dropped."""
        now = datetime.now(UTC)
        with self._lock:
            for certificate in certificates:
                self._keys[certificate.serial] = (certificate.public_key, certificate.not_after)
            self._keys = {
                serial: (key, until) for serial, (key, until) in self._keys.items() if until is None or until > now
            }
            if fetched:
                self._fetched_at, self._asked = now, False

    def key(self, serial: str) -> rsa.RSAPublicKey | None:
        """The key of ``serial`` (a certificate's serial, in any spelling; the public key's id, exactly), or None."""
        found = self._keys.get(serial_key(serial) if self.certificate_mode else serial)
        if found is None:
            return None
        key, until = found
        return key if until is None or until > datetime.now(UTC) else None

    def serials(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def ask_refresh(self) -> None:
        """Certificate mode: fetch before the next request, unless one was fetched within the last minute
        (a notification named a serial not known yet: the platform rotated, or someone forged it)."""
        with self._lock:
            self._asked = True

    def needs_refresh(self) -> bool:
        """Certificate mode: whether to fetch before the next request (none known, one expiring, or stale)."""
        if not self.certificate_mode:
            return False
        now = datetime.now(UTC)
        with self._lock:
            if not self._keys or self._fetched_at is None or now - self._fetched_at > _REFRESH_BEFORE:
                return True
            if self._asked and now - self._fetched_at > _MIN_ASKED_REFETCH:
                return True
            return any(until is not None and until - now < _REFRESH_BEFORE for _, until in self._keys.values())

    def first_use_of(self, nonce: str, timestamp: int) -> bool:
        """Whether this signed nonce is new; remembers it. A genuine platform never signs two answers with one
        nonce: a second is a replayed answer (of another order, or another method). By the nonce alone, which
        the signature covers: the serial beside it is not signed, and could be spelled anew for each replay."""
        name = nonce
        with self._lock:
            if name in self._nonces:
                return False
            self._nonces[name] = timestamp + 2 * ANSWER_MAX_AGE
            if len(self._nonces) > _MAX_NONCES:
                # Past its timestamp's window an answer is refused anyway: forget those first, then the oldest.
                clock = time.time()
                for stale in [item for item, until in self._nonces.items() if until < clock]:
                    del self._nonces[stale]
                while len(self._nonces) > _MAX_NONCES:
                    self._nonces.popitem(last=False)
            return True


_SHARED: dict[tuple[str, str, str, str], PlatformKeys] = {}
_SHARED_LOCK = threading.Lock()


def platform_keys(base_url: str, mchid: str, apiv3_key: str, mode: str) -> PlatformKeys:
    """The keys shared by the gateways of one account in this process (the APIv3 key by its digest only)."""
    digest = hashlib.sha256(apiv3_key.encode()).hexdigest()
    name = (base_url, mchid, digest, mode)
    with _SHARED_LOCK:
        keys = _SHARED.get(name)
        if keys is None:
            keys = _SHARED[name] = PlatformKeys(certificate_mode=mode == "certificates")
        return keys
