"""XArray-in-Redis benchmark: loads/stores per second and the cost of 512 order-0 entries
versus one order-9 entry (chunk_shift 6).  Starts its own redis-server; runs in a few seconds.

    .venv/bin/python benchmarks/bench_xarray.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time

import redis.asyncio as aioredis

from mmsim.pagecache.xarray import Value, XArray
from mmsim.runtime.redis_server import start_redis

N = 3000


async def rate(label: str, make_coro, n: int = N) -> None:
    start = time.perf_counter()
    for i in range(n):
        await make_coro(i)
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {n / elapsed:10.0f} ops/s  ({elapsed * 1e6 / n:.0f} us/op, 1 round trip each)")


async def main(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    xa = XArray(client, "mmsim:{m:bench/1}:xa")
    await rate("store (dense, 0..N)", lambda i: xa.store(i, Value(i)))
    await rate("load (dense, hit)", lambda i: xa.load(i))
    await rate("load (miss)", lambda i: xa.load(N + i))
    await xa.destroy()
    spread = [(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(N)]
    await rate("store (sparse 64-bit indices)", lambda i: xa.store(spread[i], Value(i)))
    await rate("load (sparse 64-bit indices)", lambda i: xa.load(spread[i]))
    print(f"{'  sparse tree':<34} {await xa.nodes()} nodes, height {await xa.height()}")
    start = time.perf_counter()
    count = sum([1 async for _ in xa.for_each()])
    print(f"{'for_each (batches of 256)':<34} {count / (time.perf_counter() - start):10.0f} entries/s")
    await xa.destroy()

    for i in range(512):
        await xa.store(i, Value(i))
    small = (await xa.nodes(), await xa.memory_bytes())
    await xa.destroy()
    await xa.store_order(0, 9, Value(0))
    big = (await xa.nodes(), await xa.memory_bytes())
    await xa.destroy()
    print(f"{'512 order-0 entries':<34} {small[0]:3d} nodes, {small[1]:6d} Redis bytes")
    print(f"{'one order-9 entry':<34} {big[0]:3d} nodes, {big[1]:6d} Redis bytes")
    await client.aclose()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_redis(workdir=tmp)
        try:
            asyncio.run(main(proc.url))
        finally:
            proc.stop()
