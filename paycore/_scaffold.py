"""``paycore new-provider NAME``: a provider distribution that installs, and whose tests run at once.

The generated hooks raise `paycore.NotSupported` saying which hook to write; the
conformance suite's structural checks pass from the start and its protocol checks
fail with that message until the hooks exist. See docs/authoring.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from paycore._discovery import installed_providers
from paycore._version import VERSION
from paycore.errors import InvalidRequest

__all__ = ["default_target", "new_provider"]

_NAME = re.compile(r"[a-z][a-z0-9_]{1,30}")

_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "$distribution"
version = "$version"
description = "paycore provider for the $name payment gateway."
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
dependencies = [
    "paycore>=$paycore_floor,<$paycore_ceiling",
    "httpx>=0.27",
    "pydantic>=2.7",
]

[project.optional-dependencies]
# What its own test suite needs (run it with only paycore and this distribution installed).
test = ["pytest>=8"]

[project.entry-points."paycore.providers"]
$name = "$package:$cls"

[tool.hatch.build.targets.wheel]
packages = ["src/$package"]
"""

_README = """\
# $distribution

A [paycore](https://pypi.org/project/paycore/) provider for the $name payment gateway.

```sh
pip install $distribution
```

```toml
# paycore.toml
[accounts.main]
provider = "$name"
base_url = "https://gateway.example"
merchant_id = "..."
secret_key = "..."            # or PAYCORE_MAIN_SECRET_KEY
```

Run its tests with `pytest` (they include paycore's conformance suite).
"""

_INIT = '''\
"""paycore provider for the $name payment gateway."""

from $package.provider import $cls
from $package.settings import $settings_cls

__all__ = ["$cls", "$settings_cls"]
'''

_SETTINGS = '''\
"""The settings of a $name account: validated when a gateway is built; errors never show a secret's value."""

from __future__ import annotations

from typing import Annotated

import pydantic

import paycore
from paycore import toolkit

__all__ = ["$settings_cls"]


class $settings_cls(paycore.ProviderSettings):
    """One $name merchant account."""

    #: the gateway's base URL: https, no query
    base_url: Annotated[str, pydantic.AfterValidator(toolkit.base_url)]
    merchant_id: str
    #: the key requests and notifications are signed with (never empty: anybody can sign with an empty key)
    secret_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1)]
'''

_PROVIDER = '''\
"""The $name provider's hooks: flows that yield requests, and pure readers of what the gateway sent."""

from __future__ import annotations

import paycore
from paycore.sandbox import Sandbox, SandboxOptions
from $package.settings import $settings_cls

__all__ = ["$cls"]


def _not_written(hook: str, what: str) -> paycore.NotSupported:
    return paycore.NotSupported(f"$name: {hook} is not written yet ({what}; src/$package/provider.py)")


class $cls(paycore.Provider[$settings_cls]):
    """The $name payment gateway."""

    settings_model = $settings_cls
    provider_name = "$name"
    # The channels the gateway sells, and the optional Order fields it needs (client_ip, payer_id, ...).
    channels = frozenset({paycore.Channel.ALIPAY_QR})
    # The ISO 4217 currencies its orders may be in, and that its notifications are paid in.
    currencies = frozenset({"CNY"})
    create_flows = frozenset({paycore.CreateFlow.SERVER})

    @paycore.hookimpl
    def create_payment(self, order: paycore.Order, flow: paycore.CreateFlow) -> paycore.Flow[paycore.Payment]:
        raise _not_written("create_payment", "sign the order, yield the request, read the answer into a Payment")
        yield  # a flow is a generator: it yields httpx.Request objects and receives the responses

    @paycore.hookimpl
    def query_payment(self, order_id: str) -> paycore.Flow[paycore.Payment]:
        raise _not_written("query_payment", "yield the signed query, verify and read the answer")
        yield

    @paycore.hookimpl
    def verify_notification(self, request: paycore.NotificationRequest) -> paycore.Notification:
        raise _not_written("verify_notification", "check the signature of exactly what was received")

    @classmethod
    @paycore.hookimpl
    def make_sandbox(cls, options: SandboxOptions) -> Sandbox:
        from $package.sandbox import ${camel}Sandbox

        return ${camel}Sandbox(options)
'''

_SANDBOX = '''\
"""A local $name gateway for the demo and the tests: ``paycore sandbox --provider $name``.

`paycore.sandbox.LoopbackSandbox` serves it on 127.0.0.1 (a free port by default),
refuses the options it does not implement, keeps the faults and resends
notifications until acknowledged. Write the gateway's side of the protocol in
``handle`` (create, query), sign answers and notifications with code of its own (not
the provider's), and send each order's notification from ``pay`` with
``self.resender.deliver(order_id, notify_url, send)``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

import paycore
from paycore.sandbox import PUBLIC_SANDBOX_KEY, LoopbackSandbox, SandboxOptions

__all__ = ["${camel}Fault", "${camel}Sandbox"]


class ${camel}Fault(enum.StrEnum):
    """What can go wrong, the way it goes wrong on the real gateway (none written yet)."""


class ${camel}Sandbox(LoopbackSandbox[${camel}Fault]):
    """The $name gateway, on a loopback socket."""

    name = "$name"
    fault_type = ${camel}Fault
    #: the wait before each notification try; "fast" is what the conformance suite and the demo ask for
    profiles: ClassVar[Mapping[str, Sequence[float]]] = {"fast": (0, 0.05, 0.05, 0.05)}
    default_profile = "fast"

    def __init__(self, options: SandboxOptions | None = None) -> None:
        # What the gateway counts as the merchant's acknowledgement stops the resends.
        super().__init__(options, acknowledged=lambda answer: answer.strip() == "success")
        self.merchant_id = self.options.merchant_id or "sandbox-merchant"
        self._key = self.options.secret_key or PUBLIC_SANDBOX_KEY
        self.orders: dict[str, dict[str, str]] = {}

    def account_settings(self) -> dict[str, Any]:
        return {"base_url": self.url, "merchant_id": self.merchant_id, "secret_key": self._key}

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(501, text=f"the $name sandbox does not serve {request.url.path} yet")

    def pay(self, order_id: str) -> None:
        raise paycore.NotSupported("the $name sandbox cannot pay orders yet (src/$package/sandbox.py)")

    def fail(self, order_id: str) -> None:
        raise paycore.NotSupported("the $name sandbox cannot fail orders yet (src/$package/sandbox.py)")
'''

_CONFTEST = '''\
"""The paycore plugin's gateway fixtures (paycore_gateway, paycore_any_gateway, ...) pointed at $name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture
def paycore_provider() -> str:
    return "$name"


@pytest.fixture
def paycore_transport() -> httpx.MockTransport:
    """Where paycore_gateway and paycore_any_gateway() send requests: replace it with a mock of your gateway."""

    def no_gateway(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no mock gateway for {request.method} {request.url.path}: override paycore_transport")

    return httpx.MockTransport(no_gateway)


@pytest.fixture
def paycore_settings() -> dict[str, Any]:
    return {"base_url": "https://gateway.example", "merchant_id": "10001", "secret_key": "a-test-key-of-the-tests"}
'''

_CONFORMANCE = '''\
"""$name against paycore's conformance suite, on its own sandbox over loopback HTTP.

Add your protocol's own tests beside it: known signing vectors cross-checked with
an independent computation, every answer branch under both gateways
(``paycore_any_gateway`` with an httpx handler), and the forgeries your signed
string allows.
"""

from __future__ import annotations

from paycore.testing.conformance import ProviderConformance


class Test${camel}Conformance(ProviderConformance):
    provider = "$name"
'''

_DOCS = """\
# $name

The `$name` provider (distribution `$distribution`, entry point `$name`).

## Settings

| setting | meaning |
|---|---|
| `base_url` | the gateway's base URL (https) |
| `merchant_id` | the merchant's id at the gateway |
| `secret_key` | the signing key (secret: `PAYCORE_<ACCOUNT>_SECRET_KEY`) |

## Protocol

Describe how requests and notifications are signed, what the gateway answers,
and how each payment status is read.

## Sandbox

`paycore sandbox --provider $name` serves a local gateway; `paycore demo --provider $name`
pays through it.
"""


def _series(version: str) -> tuple[str, str]:
    """The paycore range a provider built against ``version`` declares: this minor series (``0.1``, ``0.2``)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"{major}.{minor}", f"{major}.{minor + 1}"


def _names(name: str) -> dict[str, str]:
    camel = "".join(part.capitalize() for part in name.split("_"))
    floor, ceiling = _series(VERSION)
    return {
        "paycore_floor": floor,
        "paycore_ceiling": ceiling,
        "version": VERSION,
        "name": name,
        "camel": camel,
        "cls": f"{camel}Provider",
        "settings_cls": f"{camel}Settings",
        "package": f"paycore_{name}",
        "distribution": f"paycore-{name.replace('_', '-')}",
    }


def default_target(name: str, cwd: Path) -> Path:
    """``providers/NAME`` inside a paycore checkout (or any folder with ``providers/``), else ``paycore-NAME``."""
    return cwd / "providers" / name if (cwd / "providers").is_dir() else cwd / f"paycore-{name.replace('_', '-')}"


def new_provider(name: str, target: Path) -> list[Path]:
    """Write the distribution of provider ``name`` into ``target`` (new or empty); the files written."""
    if not _NAME.fullmatch(name):
        raise InvalidRequest(
            "a provider name is 2 to 31 lower-case letters, digits or underscores, starting with a letter"
        )
    taken = _taken_names()
    if name in taken:
        raise InvalidRequest(f"a provider named {name!r} exists already ({taken[name]}): choose another name")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidRequest(f"{target} exists and is not an empty folder: nothing was written")
    names = _names(name)
    package = Path("src") / names["package"]
    files = {
        Path("pyproject.toml"): _PYPROJECT,
        Path("README.md"): _README,
        package / "__init__.py": _INIT,
        package / "py.typed": "",
        package / "settings.py": _SETTINGS,
        package / "provider.py": _PROVIDER,
        package / "sandbox.py": _SANDBOX,
        Path("tests") / "conftest.py": _CONFTEST,
        Path("tests") / "test_conformance.py": _CONFORMANCE,
    }
    # In a paycore checkout the page joins the site's providers section; elsewhere it stays with the code.
    site_pages = target.parent.parent / "docs" / "providers"
    in_checkout = target.parent.name == "providers" and site_pages.is_dir()
    docs_page = site_pages / f"{name}.md" if in_checkout else target / "docs" / f"{name}.md"
    if docs_page.exists():
        raise InvalidRequest(f"{docs_page} exists already: nothing was written")
    written = []
    for relative, template in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(names), encoding="utf-8")
        written.append(path)
    docs_page.parent.mkdir(parents=True, exist_ok=True)
    docs_page.write_text(Template(_DOCS).substitute(names), encoding="utf-8")
    written.append(docs_page)
    site = target.parent.parent / "docs" / "mkdocs.yml"
    if in_checkout and site.is_file() and _add_to_nav(site, name):
        written.append(site)
    return written


def _taken_names() -> dict[str, str]:
    """Provider names in use: installed providers, and the fake."""

    taken = {"fake": "paycore's test fake"}
    taken.update({info.name: f"installed from {info.distribution}" for info in installed_providers()})
    return taken


def _add_to_nav(site: Path, name: str) -> bool:
    """Add the page after the last providers/ page of the site's nav; False when there is none to follow."""
    lines = site.read_text(encoding="utf-8").splitlines(keepends=True)
    entries = [index for index, line in enumerate(lines) if re.search(r":\s*providers/[^/]+\.md\s*$", line)]
    if not entries:
        return False
    last = lines[entries[-1]]
    indent = last[: len(last) - len(last.lstrip())]
    lines.insert(entries[-1] + 1, f"{indent}- {name}: providers/{name}.md\n")
    site.write_text("".join(lines), encoding="utf-8")
    return True
