"""Conformance, structure: hooks against the specs, settings, capabilities, secrets kept out of ``repr``."""

from __future__ import annotations

import pytest

from paycore._gateway import Gateway
from paycore._plugins import _secrets_of
from paycore.errors import ConfigError
from paycore.hookspecs import REQUIRED_HOOKS, ProviderSpec
from paycore.provider import Operation, ProviderSettings
from paycore.testing._conformance_base import ConformanceBase, ConformanceWorld

__all__ = ["StructureChecks"]

_SECRET_NAMES = ("key", "secret", "password", "token", "private")


class StructureChecks(ConformanceBase):
    """Hooks against the specs, settings, capabilities, secrets kept out of ``repr``."""

    def test_hooks_match_the_specs(self) -> None:
        provider_class = self._provider_class()
        specs = {name for name in dir(ProviderSpec) if not name.startswith("_")}
        for name in dir(provider_class):
            attribute = getattr(provider_class, name, None)
            if hasattr(attribute, "paycore_impl") and name not in specs:
                raise AssertionError(f"{name} is marked @paycore.hookimpl but paycore has no such hook: misspelt?")
            if name in specs and callable(attribute) and not hasattr(attribute, "paycore_impl"):
                raise AssertionError(f"{name} is named like a hook but lacks @paycore.hookimpl: paycore ignores it")
        missing = [hook for hook in REQUIRED_HOOKS if not hasattr(getattr(provider_class, hook, None), "paycore_impl")]
        assert not missing, f"required hooks missing: {', '.join(missing)}"

    def test_settings_model_refuses_unknown_settings_and_keeps_secrets_secret(self) -> None:
        model = self._provider_class().settings_model
        assert issubclass(model, ProviderSettings), (
            f"{model.__name__} should subclass paycore.ProviderSettings (frozen, unknown settings refused)"
        )
        for name, info in model.model_fields.items():
            lowered = name.lower()
            if any(word in lowered for word in _SECRET_NAMES) and "url" not in lowered and "public" not in lowered:
                annotation = str(info.annotation)
                assert "Secret" in annotation or "Path" in annotation, (
                    f"setting {name!r} looks secret but is {annotation}: declare it pydantic.SecretStr"
                )

    def test_empty_secrets_are_refused(self, conformance_world: ConformanceWorld) -> None:
        model = self._provider_class().settings_model
        secret_fields = [name for name, info in model.model_fields.items() if "Secret" in str(info.annotation)]
        for name in secret_fields:
            try:
                Gateway(self.provider, {**conformance_world.settings, name: ""}, account="conformance").close()
            except ConfigError as exc:
                refusal = str(exc)
            else:
                pytest.fail(
                    f"{name} = '' was accepted: refuse an empty secret (Annotated[SecretStr, Field(min_length=1)]); "
                    "a signature made with an empty key is one anybody can make"
                )
            assert name in refusal, f"the ConfigError for an empty {name} does not name it: {refusal}"

    def test_capabilities_are_declared(self) -> None:
        provider_class = self._provider_class()
        assert provider_class.channels, f"{provider_class.__name__}.channels is empty: declare the channels it serves"
        assert provider_class.create_flows, f"{provider_class.__name__}.create_flows is empty"
        assert provider_class.capabilities().operations >= {Operation(name) for name in ("create", "query", "verify")}

    def test_repr_holds_no_secret(self, conformance_world: ConformanceWorld) -> None:
        with Gateway(self.provider, conformance_world.settings, account="conformance") as gateway:
            secrets = _secrets_of(gateway.provider.settings)
            for shown in (repr(gateway), repr(gateway.provider), repr(gateway.provider.settings), str(gateway)):
                leaked = [secret for secret in secrets if secret in shown]
                assert not leaked, f"a secret setting shows in {shown[:60]!r}...: declare it pydantic.SecretStr"

    def test_bad_settings_are_config_errors(self, conformance_world: ConformanceWorld) -> None:
        with pytest.raises(ConfigError):
            Gateway(self.provider, {**conformance_world.settings, "no_such_setting": "x"}, account="conformance")
        required = [
            name for name, info in self._provider_class().settings_model.model_fields.items() if info.is_required()
        ]
        for name in required:
            settings = {key: value for key, value in conformance_world.settings.items() if key != name}
            with pytest.raises(ConfigError, match=name):
                Gateway(self.provider, settings, account="conformance")

    # -- protocol checks ----------------------------------------------------------------------------------
