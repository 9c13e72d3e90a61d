"""Session fixtures: one real redis-server for the whole run (free port, stopped by PID).

Every redis-server the tests start runs with the durable settings (AOF, appendfsync always: an acknowledged
write is on the file before the reply). The run's temporary directory is on tmpfs (/dev/shm) when there is
one, so that those fsyncs cost microseconds instead of the disk's ~5 ms each: the semantics under test are
the same (what a killed redis-server had acknowledged is in its AOF), only the disk's latency is left out.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import redis
from hypothesis import settings

from mmsim.runtime.redis_server import start_redis

# No property test has a per-example deadline (hypothesis's default is 200 ms): on a loaded machine one slow
# example would fail the test as DeadlineExceeded or Flaky. A test's own @settings keep this default.
settings.register_profile("mmsim", deadline=None, print_blob=True)
settings.load_profile("mmsim")

_SHM = "/dev/shm"


def pytest_configure(config):
    if config.option.basetemp is None and os.path.isdir(_SHM) and os.access(_SHM, os.W_OK):
        config.option.basetemp = tempfile.mkdtemp(prefix="mmsim-pytest-", dir=_SHM)
        config._mmsim_shm_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    path = getattr(config, "_mmsim_shm_basetemp", None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory):
    proc = start_redis(workdir=tmp_path_factory.mktemp("redis"))
    yield proc
    proc.stop()


@pytest.fixture()
def redis_client(redis_proc):
    """A sync client on a flushed database of the session's real redis-server."""
    client = redis.Redis.from_url(redis_proc.url, decode_responses=False, socket_timeout=None)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture()
async def aredis(redis_proc):
    """An asyncio client (decode_responses=False) on a flushed database of the real redis-server."""
    from mmsim.runtime.redis_client import connect as connect_redis  # noqa: PLC0415

    client = connect_redis(redis_proc.url)
    await client.flushdb()
    yield client
    await client.aclose()
