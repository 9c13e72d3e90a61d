"""Page allocator benchmark: in-process allocations per second (order 0 and order 9) over a real
redis-server, and Redis bytes per struct page at 1M pages (4 GiB).

    .venv/bin/python benchmarks/bench_alloc.py [--seconds 2]

The gRPC-through figure is to be added once services/allocator/server.py exists.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from mmsim.allocator import gfp as G
from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.zones import Layout
from mmsim.runtime import keys
from mmsim.runtime.redis_server import start_redis


async def rate(b: BuddyAllocator, order: int, gfp: int, seconds: float) -> tuple[float, float]:
    """(allocs/s, frees/s): allocate in batches then free them, until `seconds` of alloc time."""
    n_alloc = n_free = 0
    t_alloc = t_free = 0.0
    batch = max(1, min(256, (b.layout.total_pages >> order) // 4))
    while t_alloc < seconds:
        t0 = time.perf_counter()
        got = [await b.alloc_pages(order, gfp) for _ in range(batch)]
        t1 = time.perf_counter()
        for a in got:
            await b.free_pages(a.pfn, order)
        t2 = time.perf_counter()
        t_alloc += t1 - t0
        t_free += t2 - t1
        n_alloc += batch
        n_free += batch
    return n_alloc / t_alloc, n_free / t_free


async def main(seconds: float) -> None:
    proc = start_redis(workdir=Path(tempfile.mkdtemp(prefix="bench_alloc")))
    r = aioredis.Redis.from_url(proc.url)
    try:
        layout = Layout.build(4 << 30, 1)
        b = BuddyAllocator(r, layout)
        t0 = time.perf_counter()
        await b.init_memory()
        t_init = time.perf_counter() - t0
        pages = layout.total_pages
        used = 0
        nchunks = 0
        async for k in r.scan_iter(match=keys.node(0, "vmemmap:*").replace("{", "\\{").replace("}", "\\}")):
            used += await r.memory_usage(k, samples=0)
            nchunks += 1
        print(f"memory: {layout.memory_bytes >> 20} MiB = {pages} pages; memmap_init + free to buddy: {t_init:.2f} s")
        print(f"vmemmap: {nchunks} chunk strings, MEMORY USAGE {used} bytes = {used / pages:.2f} bytes per struct page")
        for order, gfp, label in ((0, G.GFP_KERNEL, "GFP_KERNEL"), (9, G.GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT (__GFP_COMP)"),
                                  (9, G.GFP_KERNEL, "GFP_KERNEL")):  # fmt: skip
            a, f = await rate(b, order, gfp, seconds)
            print(f"in-process order {order} {label}: {a:,.0f} allocs/s, {f:,.0f} frees/s")
    finally:
        await r.aclose()
        proc.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(main(ap.parse_args().seconds))
