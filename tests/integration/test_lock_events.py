"""The sleeping locks as a user sees them in a trace: a Write that finds i_rwsem held waits (lock.contended,
naming the holder), is woken by the release, and its span records lock.acquire (with the wait), and
lock.release; the populate of a major fault holds invalidate_lock shared."""

from __future__ import annotations

import asyncio
import secrets
import threading

from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import locks, redis_client
from mmsim.v1 import filesystem_pb2


def _events(cluster, trace_id, service="filesystem"):
    return [(e.name, dict(e.attributes)) for s in cluster.trace(trace_id).spans if s.service == service
            for e in s.events]


def test_a_contended_write_waits_for_the_holder_and_the_trace_shows_it(stack_settings):
    with Cluster.connect(stack_settings) as c:
        f = c.mkfs("lk" + secrets.token_hex(3), block_size=4096).create("/l")
        f.write(0, b"before")
        trace_id, tp = new_traceparent()
        outcome = {}

        def write():
            outcome["resp"] = c.stubs["filesystem"].Write(
                filesystem_pb2.WriteRequest(mapping=f.mapping, offset=0, data=b"after!"),
                metadata=[("traceparent", tp)], timeout=60)

        async def hold_then_release():
            redis = redis_client.connect(stack_settings.redis_url)
            try:
                async with locks.Locks(redis, 60000, 10).hold(locks.I_RWSEM, f.mapping, locks.WRITE) as grant:
                    writer = threading.Thread(target=write)
                    writer.start()
                    key = locks.lock_key(locks.I_RWSEM, f.mapping)

                    async def registered():
                        while not any(k.startswith(b"ww:") for k in await redis.hkeys(key)):
                            await asyncio.sleep(0.01)
                    await asyncio.wait_for(registered(), 30)        # the Write is waiting now
                    assert "resp" not in outcome              # (a Read here would queue behind it)
                return grant, writer
            finally:
                await redis.aclose()

        grant, writer = asyncio.run(hold_then_release())
        writer.join(60)
        assert outcome["resp"].written == 6 and f.read(0, 6) == b"after!"
        ev = _events(c, trace_id)
        names = [n for n, _ in ev]
        assert names[:2] == ["lock.contended", "lock.acquire"] and names[-1] == "lock.release", names
        contended, acquired = ev[0][1], ev[1][1]
        assert contended["lock"] == locks.I_RWSEM and contended["mapping"] == f.mapping
        assert float(acquired["waited_ms"]) > 0 and acquired["contended"] == "True"
        assert int(acquired["token"]) > grant.lock.token and acquired["mode"] == "w"


def test_a_major_fault_populates_under_invalidate_lock_shared(stack_settings):
    with Cluster.connect(stack_settings) as c:
        f = c.mkfs("lf" + secrets.token_hex(3), block_size=4096, profile="linux-6.12").create("/f")
        f.write(4 * PAGE_SIZE, b"x")
        proc = c.spawn("lockfault")
        vma = proc.mmap(f, length=8 * PAGE_SIZE, prot="r")
        r = proc.fault(vma.start)
        assert r.major
        ev = _events(c, r.trace_id)
        acquire = [a for n, a in ev if n == "lock.acquire"]
        assert [(a["lock"], a["mode"]) for a in acquire] == [(locks.INVALIDATE_LOCK, "r")]
        assert [n for n, _ in ev][-1] == "lock.release"
