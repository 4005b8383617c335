"""The public surface: every ``__all__`` sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import paycore

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(paycore.__path__, "paycore.") if not name.endswith("__main__")
)


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", ["paycore", *MODULES])
def test_all_is_sorted_and_resolvable(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported, key=_isort_style), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.__all__ names missing {attribute}"


@pytest.mark.parametrize("name", ["paycore", *MODULES])
def test_all_is_complete(name):
    module = importlib.import_module(name)
    defined_here = {
        attribute
        for attribute, value in vars(module).items()
        if not attribute.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    assert defined_here <= set(module.__all__), f"{name} defines public names outside __all__"


def test_package_reexports_every_public_error_and_model():
    from paycore import errors, models

    for module in (errors, models):
        assert set(module.__all__) <= set(paycore.__all__)


def test_errors_share_one_root():
    from paycore import errors

    for attribute in errors.__all__:
        assert issubclass(getattr(errors, attribute), paycore.PaycoreError)
