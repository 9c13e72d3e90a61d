"""kthread_park for kswapd in a real Redis (mmsim.runtime.kthread): a parker waits for the passes under way, a
pass waits while the cluster is parked and runs once the last parker is gone, and a process that died holds
nobody up for longer than its lease."""

from __future__ import annotations

import asyncio

from mmsim.runtime import keys
from mmsim.runtime.kthread import Kthreads


async def _until(pred) -> None:
    """Wait (bounded) until ``pred()`` holds: the other task has reached the state the test needs."""
    async def loop():
        while not await pred():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(loop(), 30)


def _members(aredis, name):
    async def count() -> int:
        return await aredis.zcard(keys.cluster(f"kthread:{name}"))
    return count


async def _park(k: Kthreads, parked: asyncio.Event, leave: asyncio.Event) -> float:
    async with k.parked("check") as waited_ms:
        parked.set()
        await leave.wait()
    return waited_ms


async def test_a_parker_waits_for_the_pass_under_way(aredis):
    k = Kthreads(aredis, 60000)
    parked, leave = asyncio.Event(), asyncio.Event()
    async with k.running("kswapd0"):
        parker = asyncio.create_task(_park(k, parked, leave))
        await _until(lambda: _members(aredis, "parkers")())   # registered: no new pass may begin
        await asyncio.sleep(0.05)
        assert not parked.is_set()                             # and it waits for this one
    await asyncio.wait_for(parked.wait(), 30)                  # the pass's end woke it
    leave.set()
    assert await parker > 0
    assert await _members(aredis, "parkers")() == 0 and await _members(aredis, "passes")() == 0


async def test_a_pass_waits_while_parked_and_runs_after_the_last_unpark(aredis):
    k = Kthreads(aredis, 60000)
    ran = asyncio.Event()

    async def kswapd():
        async with k.running("kswapd0"):
            ran.set()

    first, second = [(asyncio.Event(), asyncio.Event()) for _ in range(2)]
    p1 = asyncio.create_task(_park(k, *first))
    p2 = asyncio.create_task(_park(k, *second))
    await asyncio.wait_for(asyncio.gather(first[0].wait(), second[0].wait()), 30)   # no pass: both at once
    task = asyncio.create_task(kswapd())
    await _until(_members(aredis, "waiting"))                  # kthread_parkme
    first[1].set()
    await p1
    await asyncio.sleep(0.05)
    assert not ran.is_set()                                    # one parker is still there
    second[1].set()
    await p2
    await asyncio.wait_for(ran.wait(), 30)                     # woken by the last unpark
    await task
    assert await _members(aredis, "waiting")() == 0 and await _members(aredis, "passes")() == 0


async def test_a_dead_pass_holds_a_parker_up_for_one_lease_only(aredis):
    k = Kthreads(aredis, 300)
    await k._op("begin", "kswapd0/dead")                       # a pass whose process died: it never ends
    parked, leave = asyncio.Event(), asyncio.Event()
    leave.set()
    await asyncio.wait_for(_park(k, parked, leave), 30)       # its lease ran out: the check goes on
    assert parked.is_set() and await _members(aredis, "passes")() == 0


async def test_a_dead_parker_parks_kswapd_for_one_lease_only(aredis):
    k = Kthreads(aredis, 300)
    await k._op("park", "check/dead")                          # a check whose process died mid-check
    ran = asyncio.Event()

    async def kswapd():
        async with k.running("kswapd0"):
            ran.set()

    await asyncio.wait_for(kswapd(), 30)                       # its lease ran out: kswapd goes on
    assert ran.is_set() and await _members(aredis, "parkers")() == 0


async def test_a_running_pass_renews_its_lease(aredis):
    """A pass longer than one lease keeps it (renewed every third of it), so a check cannot start mid-pass."""
    k = Kthreads(aredis, 300)
    passes = keys.cluster("kthread:passes")
    async with k.running("kswapd0"):
        ((_, first),) = await aredis.zrange(passes, 0, -1, withscores=True)

        async def renewed() -> bool:
            now = await aredis.zrange(passes, 0, -1, withscores=True)
            return bool(now) and now[0][1] > first
        await _until(renewed)
    assert await _members(aredis, "passes")() == 0
