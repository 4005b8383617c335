"""paycore's version: one scheme for the set (paycore and every provider released at the same version)."""

from __future__ import annotations

__all__ = ["VERSION"]

#: paycore's release; a provider X.Y.* is built for paycore X.Y.* and declares ``paycore>=X.Y,<X.(Y+1)``
VERSION = "0.1.0"
