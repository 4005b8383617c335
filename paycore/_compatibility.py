"""A provider built for another paycore is refused at load, before it is imported, naming both versions.

A provider declares the paycore it supports the way every Python distribution
does: its ``Requires-Dist: paycore...`` metadata (``paycore>=0.1,<0.2``). pip
enforces it at install time; an install that bypassed pip's resolver (``--no-deps``,
a copied site-packages, an old wheel forced in) is caught here, at load, instead of
failing later in some hook with an error that names neither version.
"""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from paycore._version import VERSION
from paycore.errors import ConfigError

__all__ = ["check_compatible", "paycore_requirement"]


def paycore_requirement(distribution: importlib.metadata.Distribution) -> Requirement | None:
    """The distribution's requirement on paycore, or None when it declares none."""
    for line in distribution.requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # not ours to judge: pip installed it
        if canonicalize_name(requirement.name) != "paycore":
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's or another platform's requirement
        return requirement
    return None


def check_compatible(name: str, group: str, installed: str = VERSION) -> None:
    """Refuse the provider ``name`` of entry-point ``group`` when its distribution excludes paycore ``installed``."""
    for entry_point in importlib.metadata.entry_points(group=group, name=name):
        distribution = entry_point.dist
        if distribution is None:
            continue
        requirement = paycore_requirement(distribution)
        if requirement is None or requirement.specifier.contains(installed, prereleases=True):
            continue
        raise ConfigError(
            f"provider {name!r} ({distribution.name} {distribution.version}) is built for paycore "
            f"{requirement.specifier}, but paycore {installed} is installed: install the {distribution.name} "
            f"release for paycore {installed}, or the paycore release it was built for"
        )
