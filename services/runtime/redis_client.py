"""The asyncio Redis client every service uses, counting round trips per RPC.

A round trip is one command or one pipeline/transaction sent and answered. The count lives in a
context variable that the RPC interceptor (mmsim.runtime.serve) resets for each call, so each span
reports exactly the Redis round trips its own handler made.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


@dataclass
class RoundTrips:
    count: int = 0


_current: contextvars.ContextVar[RoundTrips | None] = contextvars.ContextVar("mmsim_redis_round_trips", default=None)


def start_counting() -> RoundTrips:
    """Begin a fresh count for the current task (one RPC)."""
    counter = RoundTrips()
    _current.set(counter)
    return counter


def _tick() -> None:
    counter = _current.get()
    if counter is not None:
        counter.count += 1


class CountingPipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True):
        _tick()
        return await super().execute(raise_on_error)


class CountingRedis(aioredis.Redis):
    """redis.asyncio.Redis that ticks the per-RPC round-trip counter on every command and pipeline."""

    async def execute_command(self, *args, **options):
        _tick()
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint=None) -> CountingPipeline:
        return CountingPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def connect(url: str, on_connect=None) -> CountingRedis:
    """A counting client (bytes in, bytes out: decode_responses=False); ``on_connect`` replaces redis-py's
    connection handshake (``redis_connect_func``: mmsim.runtime.epoch checks the boot epoch there).

    No read timeout and no client-side retry (redis-py 8 defaults to a 5 s socket timeout and three
    retries): one Lua script is one atomic step that may run for seconds on a loaded machine (fragmenting all
    of memory), and a command whose reply was lost (Redis killed after it ran the script) must not silently
    run twice. The RPC answers UNAVAILABLE instead, and the caller retries it with the same request id
    (mmsim.runtime.idempotency answers a retry of a finished call with its first answer)."""
    return CountingRedis.from_url(url, decode_responses=False, redis_connect_func=on_connect, socket_timeout=None,
                                  retry=Retry(NoBackoff(), 0))
