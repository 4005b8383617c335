"""A notification store in Redis: for several processes or machines (``pip install 'paycore[redis]'``).

A claim is ``SET <prefix>lease:<key> <token> NX PX <lease>``, done in one Lua script
together with the check of the applied record, so no interleaving of deliveries
slips between them. Applied payments are fields of one hash, ``<prefix>applied``,
that never expires.

Guarantees depend on the server's configuration, which paycore cannot set:
Redis acknowledges a write before it reaches the disk unless ``appendonly yes``
with ``appendfsync always``; with the defaults, a crash of the Redis server can
lose the last second of applied records (a resend after that is applied again).
An eviction policy other than ``noeviction`` may drop the applied hash under
memory pressure: use ``noeviction`` (or a dedicated instance) for this data.

A store made from a ``url`` keeps at most ``max_connections`` connections (50)
and a call waits up to ``pool_timeout`` seconds (10) for a free one: a burst of
resent notifications queues for the store instead of failing (redis-py's own pool
refuses a call past its limit, each refusal a ``store_failed``). Pass ``client=``
to choose the pool yourself; the store then leaves closing it to you.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from paycore.errors import ConfigError
from paycore.stores import DEFAULT_LEASE, Claim, ClaimResult, new_token

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_POOL_TIMEOUT", "AsyncRedisStore", "RedisStore"]

# Query parameters of a Redis URL that size the pool: refused there, given as keywords.
_POOL_PARAMETERS = frozenset({"max_connections", "timeout", "connection_pool_class"})

#: Connections a store made from a URL keeps at most, and how long a call waits for one (seconds).
DEFAULT_MAX_CONNECTIONS = 50
DEFAULT_POOL_TIMEOUT = 10.0

# KEYS[1] applied hash, KEYS[2] lease key; ARGV[1] field, ARGV[2] token, ARGV[3] lease in ms.
_CLAIM = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'applied' end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 'claimed' end
return 'busy'
"""
# KEYS[1] applied hash, KEYS[2] lease key; ARGV[1] field, ARGV[2] token, ARGV[3] record.
# The callback has returned: the record is written whatever became of the lease (an
# unrecorded application would be applied again by every resend); 1 if the token still held it.
_COMPLETE = """
local held = redis.call('GET', KEYS[2]) == ARGV[2]
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3])
if held then redis.call('DEL', KEYS[2]) return 1 end
return 0
"""
# KEYS[1] lease key; ARGV[1] token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _RedisKeys:
    """What both Redis stores share: the client (or the pool it is made on), the keys, the registered scripts.

    ``client`` is a ``redis.Redis`` (``redis.asyncio.Redis`` for `AsyncRedisStore`); or
    give ``url`` (``redis://127.0.0.1:6379/0``), and the store keeps a pool of at most
    ``max_connections`` for which a call waits up to ``pool_timeout`` seconds.
    """

    #: whether the client is redis-py's asyncio one
    _asynchronous: ClassVar[bool] = False

    def __init__(
        self,
        client: Any = None,
        *,
        url: str | None = None,
        prefix: str = "paycore:",
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        self._owns_client = client is None
        self._pool: Any = None
        if client is None:
            try:
                import redis
                import redis.asyncio
            except ImportError:
                raise ConfigError("the Redis store needs redis-py: pip install 'paycore[redis]'") from None
            if url is None:
                raise ConfigError(f"{type(self).__name__} needs a Redis client or a url")
            if type(max_connections) is not int or max_connections < 1:
                raise ConfigError("max_connections must be a whole number of at least 1")
            if type(pool_timeout) not in (int, float) or not 0 < pool_timeout <= 3600:  # NaN fails too
                raise ConfigError("pool_timeout must be a number of seconds above 0 and at most 3600")
            if not isinstance(url, str) or _POOL_PARAMETERS.intersection(
                name for name, _ in parse_qsl(urlsplit(url).query)
            ):
                # In the URL they would silently replace the pool these keywords checked.
                raise ConfigError("give the Redis pool's size and timeout as max_connections= and pool_timeout=")
            # A blocking pool: past its limit a call waits for a connection instead of failing.
            package = redis.asyncio if self._asynchronous else redis
            failure = None
            try:
                self._pool = package.BlockingConnectionPool.from_url(
                    url, max_connections=max_connections, timeout=pool_timeout
                )
            except ValueError as exc:  # redis-py's reading of the URL; its message never holds the password
                failure = str(exc)
            if failure is not None:
                raise ConfigError(f"cannot use this Redis URL for a notification store: {failure}")
            client = package.Redis(connection_pool=self._pool)
        self._client = client
        self._prefix = prefix
        self._applied_key = f"{prefix}applied"
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    def _claim_keys(self, key: str) -> list[str]:
        return [self._applied_key, self._lease_key(key)]

    def _lease_key(self, key: str) -> str:
        return f"{self._prefix}lease:{key}"


def _claimed(outcome: Any, token: str) -> ClaimResult:
    found = Claim(outcome.decode() if isinstance(outcome, bytes) else outcome)
    return ClaimResult(found, token if found is Claim.CLAIMED else None)


def _text(record: Any) -> str | None:
    return None if record is None else record.decode() if isinstance(record, bytes) else str(record)


class RedisStore(_RedisKeys):
    """Claims and applied payments in Redis, under keys starting with ``prefix``.

    ``client`` is a ``redis.Redis``; or give ``url`` (``redis://127.0.0.1:6379/0``), and
    the store keeps a pool of at most ``max_connections`` for which a call waits up to
    ``pool_timeout`` seconds.
    """

    def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        token = new_token()
        return _claimed(self._claim(keys=self._claim_keys(key), args=[key, token, int(lease * 1000)]), token)

    def complete(self, key: str, token: str, record: str) -> bool:
        return bool(self._complete(keys=self._claim_keys(key), args=[key, token, record]))

    def release(self, key: str, token: str) -> None:
        self._release(keys=[self._lease_key(key)], args=[token])

    def applied(self, key: str) -> str | None:
        return _text(self._client.hget(self._applied_key, key))

    def close(self) -> None:
        """Close the client and its pool, if this store made them from a URL."""
        if self._owns_client:
            self._client.close()
            self._pool.disconnect()


class AsyncRedisStore(_RedisKeys):
    """`RedisStore` for `paycore.AsyncNotificationHandler`: the same keys and scripts, on ``redis.asyncio``.

    Its methods are coroutines, awaited on the event loop: no worker thread per call.
    A `RedisStore` and an `AsyncRedisStore` with the same prefix share their data.
    ``client`` is a ``redis.asyncio.Redis``; ``url``, ``max_connections`` and
    ``pool_timeout`` as for `RedisStore`.
    """

    _asynchronous = True

    async def claim(self, key: str, lease: float = DEFAULT_LEASE) -> ClaimResult:
        token = new_token()
        outcome = await self._claim(
            keys=[self._applied_key, self._lease_key(key)], args=[key, token, int(lease * 1000)]
        )
        found = Claim(outcome.decode() if isinstance(outcome, bytes) else outcome)
        return ClaimResult(found, token if found is Claim.CLAIMED else None)

    async def complete(self, key: str, token: str, record: str) -> bool:
        return bool(await self._complete(keys=[self._applied_key, self._lease_key(key)], args=[key, token, record]))

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[self._lease_key(key)], args=[token])

    async def applied(self, key: str) -> str | None:
        return _text(await self._client.hget(self._applied_key, key))

    async def aclose(self) -> None:
        """Close the client and its pool, if this store made them from a URL."""
        if self._owns_client:
            await self._client.aclose()
            await self._pool.disconnect()
