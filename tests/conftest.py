"""Session fixtures: one real redis-server for the whole run (free port, stopped by PID)."""

from __future__ import annotations

import pytest
import redis

from mmsim.runtime.redis_server import start_redis


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory):
    proc = start_redis(workdir=tmp_path_factory.mktemp("redis"))
    yield proc
    proc.stop()


@pytest.fixture()
def redis_client(redis_proc):
    """A sync client on a flushed database of the session's real redis-server."""
    client = redis.Redis.from_url(redis_proc.url, decode_responses=False)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture()
async def aredis(redis_proc):
    """An asyncio client (decode_responses=False) on a flushed database of the real redis-server."""
    import redis.asyncio as aioredis  # noqa: PLC0415

    client = aioredis.Redis.from_url(redis_proc.url)
    await client.flushdb()
    yield client
    await client.aclose()
