"""The boot epoch against a real redis-server: adopted at start, kept across reconnects while Redis keeps it,
and a Redis that lost it is refused on the next new connection (before any command runs there) and by check."""

from __future__ import annotations

import pytest

from mmsim.runtime import redis_client
from mmsim.runtime.epoch import KEY, BootEpoch, StateLost
from mmsim.runtime.errors import FailedPrecondition


@pytest.fixture()
async def epoch_client(redis_proc, aredis):
    epoch = BootEpoch(redis_proc.url)
    client = redis_client.connect(redis_proc.url, on_connect=epoch.on_connect)
    yield epoch, client
    await client.aclose()


async def test_first_service_writes_the_epoch_the_next_adopts_it(redis_proc, aredis, epoch_client):
    epoch, client = epoch_client
    token = await epoch.adopt(client)
    assert await aredis.get(KEY) == token
    other = BootEpoch(redis_proc.url)
    assert await other.adopt(client) == token
    assert await epoch.check(client) == ""
    epoch.require()


async def test_a_reconnect_to_the_same_state_is_served(aredis, epoch_client):
    epoch, client = epoch_client
    await epoch.adopt(client)
    await client.connection_pool.disconnect()
    assert await client.set("mmsim:{cluster}:probe", 1)


async def test_an_emptied_redis_is_refused_on_the_next_connection(aredis, epoch_client):
    epoch, client = epoch_client
    await epoch.adopt(client)
    await aredis.flushall()
    await client.connection_pool.disconnect()       # as after a restart: every connection is new
    with pytest.raises(StateLost, match="is missing"):
        await client.set("mmsim:{cluster}:probe", 1)
    assert await aredis.exists("mmsim:{cluster}:probe") == 0   # the command never ran
    with pytest.raises(FailedPrecondition, match="restart the services"):
        epoch.require()


async def test_another_epoch_is_refused_by_check_and_stays_refused(aredis, epoch_client):
    epoch, client = epoch_client
    await epoch.adopt(client)
    await aredis.set(KEY, "someoneelse")
    reason = await epoch.check(client)
    assert "is someoneelse" in reason
    await aredis.delete(KEY)
    await aredis.set(KEY, epoch.token)              # the state stays lost: what was served meanwhile is unknown
    assert await epoch.check(client) == reason
