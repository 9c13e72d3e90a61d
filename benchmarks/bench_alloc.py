"""Page allocator benchmark: allocations per second (order 0 and order 9) in-process over a real
redis-server and through the PageAllocatorService over gRPC (same Redis, same memory; the ratio is the
figure: what the hop costs on top of the one Lua round trip), and Redis bytes per struct page at 1M pages.

    .venv/bin/python benchmarks/bench_alloc.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

import grpc

from mmsim import stack
from mmsim.allocator import gfp as G
from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.zones import Layout
from mmsim.runtime import config, keys
from mmsim.runtime.redis_server import start_redis
from mmsim.runtime.wire import gfp_to_proto
from mmsim.v1 import page_allocator_pb2 as pb
from mmsim.v1 import page_allocator_pb2_grpc


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


def grpc_rate(addr: str, order: int, gfp: int, seconds: float) -> tuple[float, float]:
    """The same loop as rate(), through AllocPages/FreePages on a blocking channel."""
    with grpc.insecure_channel(addr) as ch:
        stub = page_allocator_pb2_grpc.PageAllocatorServiceStub(ch)
        req = pb.AllocPagesRequest(order=order, gfp=gfp_to_proto(int(gfp)), node=-1)
        n = 0
        t_alloc = t_free = 0.0
        while t_alloc < seconds:
            t0 = time.perf_counter()
            got = [stub.AllocPages(req).folio for _ in range(64)]
            t1 = time.perf_counter()
            for f in got:
                stub.FreePages(pb.FreePagesRequest(pfn=f.pfn, order=order))
            t_alloc += t1 - t0
            t_free += time.perf_counter() - t1
            n += len(got)
        return n / t_alloc, n / t_free


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
        cases = ((0, G.GFP_KERNEL, "GFP_KERNEL"), (9, G.GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT (__GFP_COMP)"),
                 (9, G.GFP_KERNEL, "GFP_KERNEL"))
        local = {}
        for order, gfp, label in cases:
            local[(order, label)] = a, f = await rate(b, order, gfp, seconds)
            print(f"in-process order {order} {label}: {a:,.0f} allocs/s, {f:,.0f} frees/s")
        state = tempfile.mkdtemp(prefix="bench_alloc_svc")
        settings = stack.pick_free_settings(config.load({"MMSIM_MEMORY": "4GiB"}), state)
        settings = config.load({**settings.env(), "MMSIM_REDIS_URL": proc.url})
        stack.services_up(settings, ["allocator"], timeout=60, tied=True)
        try:
            for order, gfp, label in cases:
                a, f = grpc_rate(settings.addrs["allocator"], order, gfp, seconds)
                la, lf = local[(order, label)]
                print(f"gRPC       order {order} {label}: {a:,.0f} allocs/s, {f:,.0f} frees/s "
                      f"(x{a / la:.2f} / x{f / lf:.2f} of in-process)")
        finally:
            stack.services_down(settings, ["allocator"])
    finally:
        await r.aclose()
        proc.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(main(ap.parse_args().seconds))
