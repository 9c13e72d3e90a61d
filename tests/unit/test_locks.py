"""The sleeping locks in a real Redis: rw_semaphore semantics, writer preference, wake-up on release, leases that
let a dead holder go, fencing tokens that stop a holder whose lease ran out, lockdep's order check."""

from __future__ import annotations

import asyncio

import pytest

from mmsim.allocator import lockdep
from mmsim.runtime import locks, scope
from mmsim.runtime.errors import Aborted, Unavailable
from mmsim.runtime.locks import I_RWSEM, INVALIDATE_LOCK, READ, WRITE, HeldLock, Locks
from mmsim.runtime.lua import Spec, SpecScript

M = "lk0/1"
# a fenced script: sets a key when (and only when) the caller's token is still held
_SET = SpecScript(Spec("locks_set", keys=("k",), args=("v",), replies={"set": ()}), fenced=True,
                  body="redis.call('SET', KEY.k, ARG.v) return {'set'}")


def _locks(aredis, lease_ms=60000, wait_s=30.0) -> Locks:
    return Locks(aredis, lease_ms, wait_s)


async def _until(pred) -> None:
    """Wait (bounded) until ``pred()`` holds: the other task has reached the state the test needs."""
    async def loop():
        while not await pred():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(loop(), 30)


async def _waiting(aredis, name, mode) -> bool:
    fields = await aredis.hkeys(locks.lock_key(name, M))
    return any(f.startswith(b"ww:" if mode == WRITE else b"rw:") for f in fields)


async def test_readers_share_writer_excludes_and_is_woken_by_release(aredis):
    lk = _locks(aredis)
    async with lk.hold(I_RWSEM, M, READ) as a:
        async with lk.hold(I_RWSEM, M, READ) as b:     # two readers at once
            assert a.lock.token != b.lock.token
            writer = asyncio.create_task(_take(lk, I_RWSEM, WRITE))
            await _until(lambda: _waiting(aredis, I_RWSEM, WRITE))
            assert not writer.done()
    grant = await asyncio.wait_for(writer, 30)              # the last up_read woke it
    assert grant.lock.mode == WRITE and grant.lock.token > b.lock.token


async def _take(lk, name, mode):
    scope.set_held_from_metadata(None)
    async with lk.hold(name, M, mode) as g:
        return g


async def test_a_waiting_writer_keeps_new_readers_out(aredis):
    """rwsem's writer preference: once a writer waits, a new reader queues behind it (no writer starvation)."""
    lk = _locks(aredis)
    order = []

    async def take(mode, tag):
        scope.set_held_from_metadata(None)
        async with lk.hold(I_RWSEM, M, mode):
            order.append(tag)

    async with lk.hold(I_RWSEM, M, READ):
        w = asyncio.create_task(take(WRITE, "writer"))
        await _until(lambda: _waiting(aredis, I_RWSEM, WRITE))
        r = asyncio.create_task(take(READ, "late reader"))
        await _until(lambda: _waiting(aredis, I_RWSEM, READ))
        order.append("first reader done")
    await asyncio.wait_for(asyncio.gather(w, r), 30)
    assert order == ["first reader done", "writer", "late reader"]


async def test_a_dead_holders_lease_runs_out_and_its_token_is_fenced(aredis):
    lk = _locks(aredis)
    stale = _locks(aredis)
    async with stale.hold(INVALIDATE_LOCK, M, WRITE) as old:
        assert (await _SET(aredis, k="k", v="by old", fence=old.lock.fence)).kind == "set"
        # the holder stalls: its lease runs out (moved into the past, as the clock would)
        await aredis.hset(locks.lock_key(INVALIDATE_LOCK, M), "w_exp", 0)

        async def another_task():
            scope.set_held_from_metadata(None)   # a call chain of its own (this task's context is a copy)
            async with lk.hold(INVALIDATE_LOCK, M, WRITE) as new:   # granted: nobody waits for the dead holder
                with pytest.raises(Aborted, match="ESTALE: fencing token"):
                    await _SET(aredis, k="k", v="by old, too late", fence=old.lock.fence)
                assert await aredis.get("k") == b"by old"
                assert (await _SET(aredis, k="k", v="by new", fence=new.lock.fence)).kind == "set"
                return new

        new = await asyncio.wait_for(asyncio.create_task(another_task()), 30)
        assert new.lock.token > old.lock.token
    assert await aredis.get("k") == b"by new"


async def test_a_reader_whose_lease_ran_out_is_fenced_too(aredis):
    lk = _locks(aredis)
    async with lk.hold(INVALIDATE_LOCK, M, READ) as g:
        await aredis.hset(locks.lock_key(INVALIDATE_LOCK, M), f"r:{g.lock.token}", 0)
        with pytest.raises(Aborted):
            await _SET(aredis, k="k", v="late", fence=g.lock.fence)
    assert await aredis.get("k") is None


async def test_the_wait_is_bounded(aredis):
    holder, waiter = _locks(aredis), _locks(aredis, wait_s=0.2)
    async with holder.hold(I_RWSEM, M, WRITE):
        with pytest.raises(Unavailable, match="still held by"):
            await asyncio.create_task(_take(waiter, I_RWSEM, WRITE))


async def test_held_locks_travel_as_verifiable_tokens(aredis):
    lk = _locks(aredis)
    async with lk.hold(I_RWSEM, M, WRITE) as g:
        held = locks.held()
        assert held == [g.lock]
        scope.set_held_from_metadata(scope.encode_held(scope.held_locks()))   # what a callee sees
        assert locks.held() == [g.lock]
        assert locks.fence_for(M) == g.lock.fence
        forged = HeldLock(I_RWSEM, M, WRITE, g.lock.token + 7)
        assert await locks.verify(aredis, [g.lock, forged]) == [g.lock]
    assert await locks.verify(aredis, [g.lock]) == []        # released: no longer a real grant


def test_lockdep_checks_the_lock_order():
    iw = HeldLock(I_RWSEM, "a/1", WRITE, 1)
    inv = HeldLock(INVALIDATE_LOCK, "a/1", WRITE, 2)
    assert lockdep.check_order([iw], INVALIDATE_LOCK, "a/1", WRITE) == ""          # i_rwsem -> invalidate_lock
    assert "circular locking dependency" in lockdep.check_order([inv], I_RWSEM, "a/1", WRITE)
    assert lockdep.check_order([iw], I_RWSEM, "b/2", WRITE) == ""                  # two inodes in id order
    assert "circular" in lockdep.check_order([HeldLock(I_RWSEM, "b/2", WRITE, 3)], I_RWSEM, "a/1", WRITE)
    assert "recursive locking" in lockdep.check_order([iw], I_RWSEM, "a/1", READ)


async def test_an_out_of_order_acquire_is_reported_on_the_span(aredis, monkeypatch):
    reports = []
    monkeypatch.setattr(locks, "_event", lambda name, **attrs: reports.append((name, attrs)))
    lk = _locks(aredis)
    async with lk.hold(INVALIDATE_LOCK, M, WRITE):
        async with lk.hold(I_RWSEM, M, WRITE):
            pass
    lockdep_events = [a["report"] for n, a in reports if n == "lockdep"]
    assert len(lockdep_events) == 1 and "circular locking dependency" in lockdep_events[0]
    assert [n for n, _ in reports if n != "lockdep"] == ["lock.acquire", "lock.acquire", "lock.release", "lock.release"]
