"""Local sandbox gateways: what a provider offers, and what paycore asks of it.

A provider that ships a sandbox implements the optional ``make_sandbox`` hook (as a
classmethod: a sandbox belongs to no account) and returns a `Sandbox`::

    sandbox = paycore.sandbox.make_sandbox("juhe", SandboxOptions(profile="fast"))
    with sandbox:                                   # serves on 127.0.0.1, a free port
        gateway = paycore.Gateway("juhe", sandbox.account_settings())
        ...
        sandbox.pay(order.order_id)                 # as the buyer would, at the cashier

``paycore sandbox --provider NAME`` serves one in the foreground and
``paycore demo`` runs a whole payment round trip on one.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar, cast

from paycore._plugins import provider_sandbox
from paycore._sandbox_key import PUBLIC_SANDBOX_KEY
from paycore._sandbox_protocol import Sandbox, SandboxOptions
from paycore.errors import InvalidRequest, NotSupported, PaycoreError
from paycore.provider import Provider

if TYPE_CHECKING:
    import httpx

# Defined below the hook specifications; named after this public room, so that pickles and reprs stay as they were.
for _moved in (Sandbox, SandboxOptions):
    _moved.__module__ = __name__

__all__ = [
    "PUBLIC_SANDBOX_KEY",
    "AdminTarget",
    "Attempt",
    "LoopbackSandbox",
    "MerchantAnswer",
    "Resender",
    "Sandbox",
    "SandboxOptions",
    "admin_response",
    "make_sandbox",
]


def make_sandbox(provider: str | type[Provider[Any]], options: SandboxOptions | None = None) -> Sandbox:
    """Build (not start) the sandbox of ``provider``: an installed provider's name, or its class."""
    if options is not None and not isinstance(options, SandboxOptions):
        raise InvalidRequest(f"make_sandbox() takes SandboxOptions, not {type(options).__name__}")
    return provider_sandbox(provider, options or SandboxOptions())


class MerchantAnswer(str):
    """What the merchant answered a notification: its text (the first 200 characters), with its status and headers.

    A `str`, so that ``acknowledged=lambda answer: answer.strip() == "success"`` reads
    the text as before; a protocol that acknowledges by status (WeChat Pay: any 2xx)
    reads ``answer.status_code``, and ``answer.headers`` (names in lower case).
    """

    status_code: int
    headers: Mapping[str, str]

    def __new__(cls, text: str, status_code: int, headers: Mapping[str, str]) -> Self:
        answer = super().__new__(cls, text)
        answer.status_code = status_code
        answer.headers = {name.lower(): value for name, value in headers.items()}
        return answer


@dataclass(frozen=True)
class Attempt:
    """One notification try, as a sandbox saw it."""

    order_id: str
    attempt: int
    url: str
    status_code: int | None
    #: what the merchant answered (the first 200 characters); keep it out of anything served over HTTP
    response: str | None
    #: the transport error's class name, when the try did not get an answer
    error: str | None
    acknowledged: bool


class Resender:
    """Notifications for a sandbox: each order's in a thread of its own, resent on a schedule until acknowledged.

    ``schedule`` is the wait before each try (the first usually 0): its length is
    the number of tries. ``acknowledged(answer)`` says whether the merchant's answer
    (a `MerchantAnswer`: its text, ``status_code`` and ``headers``) stops the resends.
    ``send(client)`` makes one try (it may sign anew each time) and returns the
    merchant's response::

        resender = Resender((0, 0.05, 0.05), acknowledged=lambda text: text.strip() == "success")
        resender.deliver(order_id, notify_url, lambda client: client.post(notify_url, data=signed_fields()))
        attempts = resender.wait(order_id)
    """

    def __init__(self, schedule: Sequence[float], acknowledged: Callable[[str], bool]) -> None:
        self.schedule = tuple(schedule)
        self._acknowledged = acknowledged
        self._attempts: list[Attempt] = []
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def deliver(
        self, order_id: str, url: str, send: Callable[[httpx.Client], httpx.Response], *, duplicate: bool = False
    ) -> None:
        """Start delivering; ``duplicate`` sends once more after the acknowledgement (as real gateways sometimes do)."""
        thread = threading.Thread(
            target=self._run, args=(order_id, url, send, duplicate), name=f"sandbox-notify-{order_id}", daemon=True
        )
        with self._lock:
            self._threads[order_id] = thread
        thread.start()

    def _run(self, order_id: str, url: str, send: Callable[[httpx.Client], httpx.Response], duplicate: bool) -> None:
        import httpx  # on first use: listing providers loads no HTTP client

        # trust_env=False: the merchant's endpoint is reached directly, never through a proxy from the environment.
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            for number, delay in enumerate(self.schedule, start=1):
                if self._stopping.wait(delay):
                    return
                if self._try(client, order_id, url, send, number):
                    if duplicate:
                        self._try(client, order_id, url, send, number + 1)
                    return

    def _try(
        self, client: httpx.Client, order_id: str, url: str, send: Callable[[httpx.Client], httpx.Response], number: int
    ) -> bool:
        import httpx

        status_code = text = error = None
        acknowledged = False
        try:
            response = send(client)
            status_code, text = response.status_code, response.text[:200]
            acknowledged = self._acknowledged(MerchantAnswer(text, status_code, response.headers))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # an unusable notify_url is a try that failed
            error = type(exc).__name__
        with self._lock:
            self._attempts.append(Attempt(order_id, number, url, status_code, text, error, acknowledged))
        return acknowledged

    def attempts(self, order_id: str | None = None) -> list[Attempt]:
        """Every try so far, oldest first."""
        with self._lock:
            return [attempt for attempt in self._attempts if order_id is None or attempt.order_id == order_id]

    def wait(self, order_id: str, timeout: float = 30.0) -> list[Attempt]:
        """Block until the order's delivery is over (acknowledged, or out of tries); its tries."""
        with self._lock:
            thread = self._threads.get(order_id)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"notifications for order {order_id!r} still going after {timeout} s")
        return self.attempts(order_id)

    def stop(self) -> None:
        """Stop resending and wait for the threads."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout=10)


FaultT = TypeVar("FaultT", bound=enum.StrEnum)

#: the longest wait between notification tries a sandbox takes (an hour; NaN and negatives refused)
_MAX_NOTIFY_INTERVAL = 3600
#: SandboxOptions a sandbox may not implement, and how the CLI spells them
_OPTION_FLAGS = {
    "secret_key": "--secret-key",
    "state_path": "--state",
    "channels": "--channel",
    "strict": "--strict",
    "certificates": "--certificates",
}


class LoopbackSandbox(Generic[FaultT]):
    """What a provider's sandbox needs besides its protocol: the loopback server, the resend profiles,
    the faults, notifications resent until acknowledged, and the lifecycle `Sandbox` asks for.

    A subclass names itself and its faults, gives its profiles, and writes the
    protocol: ``handle`` (the gateway's HTTP side), ``account_settings``, ``pay``
    and ``fail``; it sends notifications with ``self.resender.deliver(...)``::

        class AcmeFault(enum.StrEnum):
            DUPLICATE = "duplicate"

        class AcmeSandbox(LoopbackSandbox[AcmeFault]):
            name = "acme"
            fault_type = AcmeFault
            profiles = {"realistic": (0, 15, 60), "fast": (0, 0.05, 0.05)}
            default_profile = "realistic"

            def __init__(self, options: SandboxOptions | None = None) -> None:
                super().__init__(options, acknowledged=lambda answer: answer.strip() == "success")

    Options it does not implement (``unsupported_options``) are refused, not
    ignored: a user passing one expects an effect; so are ``credentials`` not
    named in ``credential_names``. ``notify_interval`` (0 to 3600
    seconds) replaces every wait of the profile but the first. ``closed`` runs once
    serving ends.

    Attributes a subclass uses: ``options`` (the `SandboxOptions`), ``profile`` (its
    name), ``resender`` (a `Resender` on the profile's schedule: ``deliver``
    notifications with it), ``faults`` (the faults switched on). ``pay`` and
    ``fail`` raise `paycore.InvalidRequest` for an order the sandbox does not know:
    `admin_response` answers it as a 400.
    """

    name: ClassVar[str]
    fault_type: ClassVar[type[enum.StrEnum]]
    profiles: ClassVar[Mapping[str, Sequence[float]]]
    default_profile: ClassVar[str]
    unsupported_options: ClassVar[tuple[str, ...]] = ("state_path", "channels", "strict", "certificates")
    #: the secret settings it takes in ``SandboxOptions.credentials`` (others are refused)
    credential_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: SandboxOptions | None, *, acknowledged: Callable[[str], bool]) -> None:
        # Imported here, for cold start only: a provider module imports this one, and the loopback
        # server brings asyncio and http.server, which a merchant's process loading a provider never needs.
        from paycore.testing._server import LoopbackServer

        self.options = options or SandboxOptions()
        given = [_OPTION_FLAGS.get(name, name) for name in self.unsupported_options if getattr(self.options, name)]
        if given:
            raise InvalidRequest(f"the {self.name} sandbox takes no {', '.join(given)}")
        unknown = sorted(set(self.options.credentials) - self.credential_names)
        if unknown:
            # Names only: the values are secrets.
            taken = ", ".join(sorted(self.credential_names)) or "none"
            raise InvalidRequest(
                f"the {self.name} sandbox takes no credential {', '.join(unknown)} (it takes: {taken})"
            )
        profile = self.options.profile or self.default_profile
        if profile not in self.profiles:
            raise InvalidRequest(f"{self.name} sandbox profiles are {', '.join(self.profiles)}, not {profile!r}")
        self.profile = profile
        schedule = tuple(self.profiles[profile])
        interval = self.options.notify_interval
        if interval is not None and not (isinstance(interval, int | float) and 0 <= interval <= _MAX_NOTIFY_INTERVAL):
            raise InvalidRequest(f"--notify-interval must be between 0 and {_MAX_NOTIFY_INTERVAL} seconds")
        if self.options.notify_interval is not None:
            schedule = (schedule[0], *([self.options.notify_interval] * (len(schedule) - 1)))
        self._faults: frozenset[FaultT] = frozenset()
        self.set_faults(self.options.faults)
        self.resender = Resender(schedule, acknowledged=acknowledged)
        self._server = LoopbackServer(self.handle, host=self.options.host, port=self.options.port)

    # -- the protocol: written by the provider ----------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The gateway's HTTP side (every request to the sandbox's URL)."""
        raise NotImplementedError

    def account_settings(self) -> dict[str, Any]:
        """The provider settings of an account that uses this sandbox."""
        raise NotImplementedError

    def pay(self, order_id: str) -> None:
        """Pay the order as a buyer would; the gateway then notifies the merchant."""
        raise NotImplementedError

    def fail(self, order_id: str) -> None:
        """Fail the order's payment, notifying the merchant if the protocol does."""
        raise NotImplementedError

    def closed(self) -> None:
        """Called once serving ends (``stop``, or ``serve_forever`` returning): remove what the sandbox made."""

    # -- faults and notifications -----------------------------------------------------------------------

    @property
    def faults(self) -> frozenset[FaultT]:
        """The faults switched on."""
        return self._faults

    def fault_names(self) -> list[str]:
        """The faults switched on, by name."""
        return sorted(fault.value for fault in self._faults)

    def set_faults(self, faults: Iterable[FaultT | str] | str) -> None:
        """Switch faults on for every order (one, or several); an empty list switches them off."""
        if isinstance(faults, str):
            faults = [faults]
        try:
            self._faults = frozenset(cast(FaultT, self.fault_type(fault)) for fault in faults)
        except ValueError:
            known = ", ".join(fault.value for fault in self.fault_type) or "none"
            raise InvalidRequest(f"unknown {self.name} sandbox fault; known: {known}") from None

    def attempts(self, order_id: str | None = None) -> list[Attempt]:
        """Every notification try so far, oldest first."""
        return self.resender.attempts(order_id)

    def wait_for_notifications(self, order_id: str, timeout: float = 30.0) -> list[Attempt]:
        """Block until the order's notifications are over (acknowledged, or out of tries); return them."""
        return self.resender.wait(order_id, timeout)

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL it serves on, e.g. ``http://127.0.0.1:54321``."""
        return self._server.url

    def start(self) -> None:
        """Serve in a background thread; return once it accepts connections."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving and resending."""
        self._server.stop()
        self.resender.stop()
        self.closed()

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self.resender.stop()
            self.closed()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class AdminTarget(Protocol):
    """What `admin_response` drives: a sandbox's buyer, its faults and its notification log."""

    def pay(self, order_id: str) -> None: ...

    def fail(self, order_id: str) -> None: ...

    def set_faults(self, faults: list[str]) -> None: ...

    def fault_names(self) -> list[str]: ...

    def attempts(self, order_id: str | None = None) -> list[Attempt]: ...


def admin_response(request: httpx.Request, sandbox: AdminTarget) -> httpx.Response:
    """A sandbox's admin API, for tests in other processes: one answer for ``/admin/...`` requests.

    ``POST /admin/orders/{order_id}/pay`` and ``/fail``, ``GET
    /admin/orders/{order_id}/notifications`` (each try without what the notify URL
    answered: a sandbox must not read pages for whoever reaches it), ``PUT
    /admin/faults`` with ``{"faults": [...]}``. A refusal is 400 with ``{"error": ...}``:
    ``pay`` and ``fail`` raise `paycore.InvalidRequest` for an order the sandbox does
    not know (or cannot pay); another paycore error is a 400 too, `paycore.NotSupported`
    a 501, anything else a 500 naming its type — an answer always, never a dropped
    connection.
    """
    import dataclasses
    import json

    import httpx

    parts = request.url.path.strip("/").split("/")
    try:
        if parts == ["admin", "faults"] and request.method == "PUT":
            payload = json.loads(request.content or b"{}")
            faults = payload.get("faults", []) if isinstance(payload, dict) else None
            if not isinstance(faults, list) or not all(isinstance(fault, str) for fault in faults):
                return httpx.Response(400, json={"error": "faults is a list of fault names"})
            sandbox.set_faults(faults)
            return httpx.Response(200, json={"faults": sandbox.fault_names()})
        if len(parts) == 4 and parts[1] == "orders" and request.method == "POST" and parts[3] in ("pay", "fail"):
            (sandbox.pay if parts[3] == "pay" else sandbox.fail)(parts[2])
            return httpx.Response(200, json={"order_id": parts[2], "done": parts[3]})
        if len(parts) == 4 and parts[1] == "orders" and parts[3] == "notifications":
            shown = [
                {name: value for name, value in dataclasses.asdict(attempt).items() if name != "response"}
                for attempt in sandbox.attempts(parts[2])
            ]
            return httpx.Response(200, json=shown)
    except NotSupported as exc:
        return httpx.Response(501, json={"error": str(exc)})
    except (PaycoreError, ValueError) as exc:
        return httpx.Response(400, json={"error": str(exc)})
    except Exception as exc:  # noqa: BLE001  # a sandbox answers; a dropped connection looks like a hung gateway
        return httpx.Response(500, json={"error": f"the sandbox failed: {type(exc).__name__}"})
    return httpx.Response(404, json={"error": "no such admin endpoint"})
