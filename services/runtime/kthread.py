"""kthread_park / kthread_unpark (kernel/kthread.c) for kswapd, shared by every allocator replica through Redis.

A cluster-wide CONFIG_DEBUG_VM check (mmsim.runtime.debug_vm) reads the machine in many round trips: page
tables first, struct pages later. A kswapd pass that unmaps and frees folios in between makes the check see
PTEs whose page it then finds free (``mapcount_mismatch``) or an in-flight ledger entry whose page was just
given back (``ledger_not_allocated``): violations of a machine that never broke an invariant. So the check
parks kswapd the way kthread_park parks a kthread: no new pass begins, and the check waits until the passes
under way have ended (their follow-up steps too: the free of what a pass took, the pageout it asked for).
kswapd waits, as a parked kthread sleeps in kthread_parkme, until the last parker unparks it.

Only kswapd is parked: direct reclaim and compaction run inside a caller's allocation, and a check made while
callers change the machine reads a machine that changes (say so when reading its report).

Every registration is a lease of MMSIM_LOCK_LEASE_MS (a parker renews its lease while it checks, a pass while
it runs), so a
process that died parks kswapd, or holds up a check, for one lease at most. Waiting is not polling: a
waiter blocks on a wake-up list (BLPOP) for at most WAIT_SLICE_MS, then registers again. Keys
(``{cluster}``): ``kthread:parkers``, ``kthread:passes``, ``kthread:waiting`` (zsets: id -> lease expiry, ms)
and the wake-up lists ``kthread:drained`` and ``kthread:unpark`` (kthread.lua).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

from mmsim.runtime import keys, tracing
from mmsim.runtime.locks import WAIT_SLICE_MS
from mmsim.runtime.lua import Spec, SpecScript

PARK = SpecScript(Spec("kthread", keys=("parkers", "passes", "waiting", "drained", "unpark"), args=("op", "id", "lease_ms"),
                       replies={"wait": ("left_ms:int",), "run": (), "renewed": (), "ended": (), "parked": ("passes:int", "left_ms:int"),
                                "unparked": ("woken:int",)}), __file__)
"""kthread.lua. ARG op: ``begin`` (a kswapd pass: run, or wait left_ms at most for the parkers' leases),
``renew`` (a running pass's lease), ``end`` (the pass is over: wakes the parkers when it was the last),
``park`` (register or renew a parker:
how many passes are under way and when the last one's lease ends), ``unpark`` (woken: the parked kswapds
told to go on); id (the pass's or the parker's), lease_ms."""

_KEYS = {k: keys.cluster(f"kthread:{k}") for k in ("parkers", "passes", "waiting", "drained", "unpark")}


class Kthreads:
    """The park state of the cluster's kswapd threads, seen from one process."""

    def __init__(self, redis, lease_ms: int):
        self.redis, self.lease_ms = redis, lease_ms

    async def _op(self, op: str, ident: str):
        return await PARK(self.redis, **_KEYS, op=op, id=ident, lease_ms=self.lease_ms)

    async def _sleep_on(self, key: str, left_ms: int) -> None:
        await self.redis.blpop([key], timeout=max(10, min(left_ms + 1, WAIT_SLICE_MS)) / 1000)

    @contextlib.asynccontextmanager
    async def running(self, name: str):
        """``async with kthreads.running("kswapd0"):`` one pass of kswapd (kthread_parkme first: while the
        cluster is parked the pass waits)."""
        ident = f"{name}/{secrets.token_hex(4)}"
        while (r := await self._op("begin", ident)).kind == "wait":
            await self._sleep_on(_KEYS["unpark"], r.left_ms)
        renew = asyncio.create_task(self._renew("renew", ident))
        try:
            yield
        finally:
            renew.cancel()
            await self._op("end", ident)

    @contextlib.asynccontextmanager
    async def parked(self, parker: str):
        """``async with kthreads.parked("check") as waited_ms:`` kthread_park of every kswapd for the body;
        ``waited_ms``: how long the passes under way took to end."""
        ident = f"{parker}/{secrets.token_hex(4)}"
        started = time.monotonic()
        renew = None
        try:
            while (r := await self._op("park", ident)).passes:
                await self._sleep_on(_KEYS["drained"], r.left_ms)
            waited_ms = round((time.monotonic() - started) * 1000, 3)
            tracing.event("kthread_park", thread="kswapd", waited_ms=waited_ms)
            renew = asyncio.create_task(self._renew("park", ident))
            yield waited_ms
        finally:
            if renew is not None:
                renew.cancel()
            with contextlib.suppress(Exception):   # a lost unpark ends with the parker's lease
                r = await self._op("unpark", ident)
                tracing.event("kthread_unpark", thread="kswapd", woken=r.woken)

    async def _renew(self, op: str, ident: str) -> None:
        """Renew a lease every third of it (``park``: a parker's, ``renew``: a running pass's); a Redis that
        cannot be reached lets it run out, as a dead process's does."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.lease_ms / 3000)
                await self._op(op, ident)
