"""Finding, loading and checking payment providers.

Two jobs, two libraries. Listing and loading by name is stevedore's (and
importlib.metadata's, for the distribution names a listing shows); validating the
hooks and calling them is pluggy's, with one ``PluginManager`` per gateway holding
exactly one provider, so every ``firstresult`` hook returns that provider's value.

Providers are entry points in the ``paycore.providers`` group, naming a
`paycore.Provider` subclass. Fakes for tests live in the separate
``paycore.testing.providers`` group, which is searched only when the environment
sets ``PAYCORE_TESTING=1``: a production configuration that names ``fake``
gets `ProviderNotFound`, not a payment that never happened.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus, unquote_plus

import pluggy
import pydantic
import stevedore
import stevedore.exception
from stevedore.extension import error_on_conflict

from paycore._compatibility import check_compatible
from paycore._discovery import TESTING_ENV, TESTING_GROUP, installed_providers, searched_groups
from paycore._sandbox_key import PUBLIC_SANDBOX_KEY
from paycore._sandbox_protocol import Sandbox, SandboxOptions
from paycore._validation import describe_validation_error
from paycore.config import env_variable
from paycore.errors import ConfigError, NotSupported, PaycoreError, ProviderError, ProviderNotFound
from paycore.hookspecs import PROJECT_NAME, REQUIRED_HOOKS, ProviderSpec
from paycore.models import Order
from paycore.provider import Capabilities, Operation, Provider

__all__ = ["MIN_MASKED_SECRET", "ProviderRuntime", "load_provider_class", "provider_sandbox", "start_provider"]


def _raise_load_failure(manager: object, entry_point: importlib.metadata.EntryPoint, err: BaseException) -> NoReturn:
    raise ProviderError(f"provider {entry_point.name!r} ({entry_point.value}) failed to import: {err}") from err


def load_provider_class(name: str) -> type[Provider[Any]]:
    """Import the provider class registered under ``name``, and only that one."""
    groups = searched_groups()
    for group in groups:
        check_compatible(name, group)  # before importing it: a provider for another paycore may not even import
        try:
            manager: stevedore.DriverManager[Any] = stevedore.DriverManager(
                namespace=group,
                name=name,
                on_load_failure_callback=_raise_load_failure,
                on_missing_entrypoints_callback=None,
                # Two distributions claiming one name is an installation error:
                # picking one silently could send payments to the wrong gateway.
                conflict_resolver=error_on_conflict,
            )
        except stevedore.exception.NoMatches:
            continue
        except stevedore.exception.MultipleMatches as exc:
            raise ConfigError(
                f"more than one installed distribution provides the payment provider {name!r}: {exc}"
            ) from None
        return _checked_provider_class(name, manager.extensions[0].plugin)
    installed = [info.name for info in installed_providers()]
    hint = None
    if TESTING_GROUP not in groups and name == "fake":
        hint = f"the fake provider is for tests and is found only with {TESTING_ENV}=1"
    raise ProviderNotFound(name, installed, hint=hint)


def _checked_provider_class(name: str, plugin: object) -> type[Provider[Any]]:
    if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
        raise ProviderError(f"entry point {name!r} does not name a paycore.Provider subclass")
    settings_model = getattr(plugin, "settings_model", None)
    if not (isinstance(settings_model, type) and issubclass(settings_model, pydantic.BaseModel)):
        raise ProviderError(f"provider {name!r} declares no pydantic settings_model")
    _check_order_fields(name, plugin)
    _check_currencies(name, plugin)
    return plugin


_CURRENCY = re.compile(r"[A-Z]{3}")


def _check_currencies(name: str, provider_class: type[Provider[Any]]) -> None:
    """The currencies a provider takes: a non-empty set of ISO 4217 codes (every order is checked against it)."""
    currencies = provider_class.currencies
    if (
        not isinstance(currencies, frozenset | set)
        or not currencies
        or not all(isinstance(code, str) and _CURRENCY.fullmatch(code) for code in currencies)
    ):
        raise ProviderError(f"provider {name!r} must declare currencies as a non-empty set of ISO 4217 codes")


def _check_order_fields(name: str, provider_class: type[Provider[Any]]) -> None:
    """Required order fields must name optional Order fields: a typo would refuse every order."""
    groups = [
        provider_class.required_order_fields,
        *provider_class.channel_order_fields.values(),
        *provider_class.flow_order_fields.values(),
    ]
    if not all(isinstance(fields, frozenset | set) and all(isinstance(f, str) for f in fields) for fields in groups):
        raise ProviderError(f"provider {name!r} declares required order fields that are not sets of field names")
    unserved = sorted(str(flow) for flow in provider_class.flow_order_fields if flow not in provider_class.create_flows)
    if unserved:
        raise ProviderError(
            f"provider {name!r} declares flow_order_fields for create flows it does not list: {', '.join(unserved)}"
        )
    declared: set[str] = set().union(*groups)
    optional = {field for field, info in Order.model_fields.items() if not info.is_required()}
    unknown = sorted(declared - optional)
    if unknown:
        raise ProviderError(
            f"provider {name!r} requires order fields that are not optional paycore.Order fields: {', '.join(unknown)}"
        )


def _named_provider_class(provider: str | type[Provider[Any]]) -> tuple[str, type[Provider[Any]]]:
    """The provider's name and class, from an entry-point name or from the class itself."""
    if isinstance(provider, str):
        return provider, load_provider_class(provider)
    provider_class = _checked_provider_class(getattr(provider, "__name__", repr(provider)), provider)
    return provider_class.provider_name or provider_class.__name__, provider_class


class ProviderRuntime:
    """One provider instance behind its own pluggy ``PluginManager``."""

    def __init__(self, provider: Provider[Any]) -> None:
        self.provider = provider
        #: every secret of the account's settings
        self.secrets = _secrets_of(provider.settings)
        #: what errors and explanations hide (a chain holding one is cut). Not the sandboxes' public test key:
        #: documented and printed by ``paycore sandbox``, masking it (and every word it begins with, such as
        #: "paycore") would garble every sandbox session's messages.
        public = frozenset({PUBLIC_SANDBOX_KEY}) | type(provider).public_test_credentials
        self.masked_secrets = tuple(secret for secret in self.secrets if unquote_plus(secret) not in public)
        #: whether the account is keyed with a public test credential (anyone can sign with it)
        self.uses_public_test_credentials = any(secret in public for secret in self.secrets)
        self.operations = type(provider).operations()
        self._manager = pluggy.PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(ProviderSpec)
        try:
            self._manager.register(provider, name=provider.name)
            # An implementation whose name matches no spec is a typo, not an extra.
            self._manager.check_pending()
        except pluggy.PluginValidationError as exc:
            hint = ""
            if "verify_notification" in str(exc) and "'body'" in str(exc):
                hint = (
                    " (verify_notification takes `request: paycore.NotificationRequest` now: read request.body, "
                    "request.form_fields(), request.query_fields() or request.header(...))"
                )
            raise ProviderError(
                f"provider {provider.name!r} does not match the paycore hookspecs: {exc}{hint}"
            ) from None
        missing = [hook for hook in REQUIRED_HOOKS if not getattr(self._manager.hook, hook).get_hookimpls()]
        if missing:
            raise ProviderError(f"provider {provider.name!r} lacks required hooks: {', '.join(missing)}")
        # pluggy validated each implementation against its spec above. With exactly one
        # plugin and no wrappers, calling a hook is calling that one implementation, so
        # it is resolved once here: verify is a hot path and the hook machinery costs
        # more than a tenth of it.
        self._implementations: dict[Operation, Callable[..., Any]] = {}
        #: the arguments each operation's implementations take (an optional one is passed only to those that do)
        self.arguments: dict[Operation, frozenset[str]] = {}
        for operation in self.operations:
            implementations = getattr(self._manager.hook, operation.hook_name).get_hookimpls()
            self.arguments[operation] = frozenset(
                name for implementation in implementations for name in implementation.argnames
            )
            if len(implementations) == 1 and not implementations[0].hookwrapper and not implementations[0].wrapper:
                self._implementations[operation] = implementations[0].function

    @functools.cached_property
    def capabilities(self) -> Capabilities:
        """What the provider supports (built on first use: most gateways never ask)."""
        return type(self.provider).capabilities()

    def hook(self, operation: Operation) -> Callable[..., Any]:
        """Return the hook caller for ``operation``, or raise NotSupported."""
        implementation = self._implementations.get(operation)
        if implementation is not None:
            return implementation
        if operation not in self.operations:
            raise NotSupported(f"provider {self.provider.name!r} does not support {operation.value!r}")
        caller: Callable[..., Any] = getattr(self._manager.hook, operation.hook_name)
        return caller


#: the shortest secret masked in messages (and the shortest beginning of one masked on its own)
MIN_MASKED_SECRET = 6


def _secrets_of(settings: pydantic.BaseModel) -> tuple[str, ...]:
    """Every secret value in the settings, nested ones included, as text and as URLs encode it."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, pydantic.SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, pydantic.SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", "replace"))
        elif isinstance(value, pydantic.BaseModel):
            for item in value.__dict__.values():
                walk(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(settings)
    # A secret of a few characters cannot be told from ordinary text; masking every
    # "k" in a message would only garble it (chains are cut for foreign exceptions anyway).
    forms = {
        form
        for secret in found
        if len(secret) >= MIN_MASKED_SECRET
        for form in (secret, quote(secret, safe=""), quote_plus(secret))
    }
    # Longest first: a redaction must not leave the tail of a longer form behind.
    return tuple(sorted(forms, key=len, reverse=True))


def _check_text(account: str, name: str, settings: pydantic.BaseModel) -> None:
    """Refuse settings holding text that is not valid Unicode: signing it would fail later, key in hand."""

    def valid(value: object) -> bool:
        if isinstance(value, pydantic.SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
            return True
        if isinstance(value, Mapping):
            return all(valid(key) and valid(item) for key, item in value.items())
        if isinstance(value, list | tuple | set | frozenset):
            return all(valid(item) for item in value)
        return True

    for field, value in settings.__dict__.items():
        if not valid(value):
            raise ConfigError(f"account {account!r}: setting {field!r} of provider {name!r} is not valid Unicode text")


def start_provider(
    provider: str | type[Provider[Any]],
    settings: Mapping[str, Any] | pydantic.BaseModel,
    *,
    account: str,
) -> ProviderRuntime:
    """Load ``provider`` (an entry-point name or a class), validate ``settings``, start it."""
    name, provider_class = _named_provider_class(provider)
    model = provider_class.settings_model
    if isinstance(settings, model):
        validated = settings
    elif isinstance(settings, Mapping):
        problem: str | None = None
        try:
            validated = model.model_validate(dict(settings))
        except pydantic.ValidationError as exc:
            problem = _settings_problem(exc, name, account)
        if problem is not None:
            # Raised out here, not in the except block: there, the ConfigError's hidden __context__ would keep
            # pydantic's error, whose input is every setting, secrets included (an error reporter sends it).
            raise ConfigError(problem)
    else:
        raise ConfigError(f"account {account!r}: settings must be a mapping or a {model.__name__}")
    _check_text(account, name, validated)
    return ProviderRuntime(provider_class(validated, name=name, account=account))


def _settings_problem(exc: pydantic.ValidationError, name: str, account: str) -> str:
    missing = [str(error["loc"][0]) for error in exc.errors(include_input=False) if error["type"] == "missing"]
    hint = (
        " (set "
        + ", ".join(f"{setting} in the account's table or {env_variable(account, setting)}" for setting in missing)
        + ")"
        if missing
        else ""
    )
    return f"account {account!r}: invalid settings for provider {name!r}: {describe_validation_error(exc)}{hint}"


def provider_sandbox(provider: str | type[Provider[Any]], options: SandboxOptions) -> Sandbox:
    """Build the sandbox of ``provider`` (a name or a class); NotSupported if it ships none."""
    name, provider_class = _named_provider_class(provider)
    if Operation.SANDBOX not in provider_class.operations():
        raise NotSupported(f"provider {name!r} ships no sandbox")
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(ProviderSpec)
    # The class itself is the plugin here: make_sandbox is a classmethod, as a
    # sandbox belongs to no account.
    manager.register(provider_class, name=name)
    try:
        sandbox = manager.hook.make_sandbox(options=options)
    except PaycoreError:
        raise
    except ImportError as exc:
        raise ConfigError(
            f"the {name!r} sandbox needs its extra: pip install 'paycore-{name}[sandbox]' ({exc.name} is missing)"
        ) from None
    except Exception as exc:
        raise ProviderError(f"provider {name!r} failed to build its sandbox: {type(exc).__name__}: {exc}") from exc
    if not isinstance(sandbox, Sandbox):
        raise ProviderError(f"provider {name!r} returned {type(sandbox).__name__}, not a Sandbox")
    return sandbox
