"""The sandboxes' public test key, in a room of its own: what refuses it and what prints it both read it here."""

from __future__ import annotations

__all__ = ["PUBLIC_SANDBOX_KEY"]

#: The sandbox's default key: public and documented, a test key like any
#: "sk_test" key, so printing it leaks nothing. A key passed by the user is never printed.
PUBLIC_SANDBOX_KEY = "paycore-sandbox-public-test-key"
