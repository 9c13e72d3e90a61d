"""Page-cache benchmark (issue 4): XArray cost per GiB of cached file for the three indexing modes, and
filemap loads/stores per second in-process against the same operations through PageCacheService.

    .venv/bin/python benchmarks/bench_pagecache.py [--ops 1000]

Per GiB: 512 folios of 2 MiB are added to a `multi-order` file (one order-9 entry each, THP with the
XArray), an `order-0` file (512 order-0 entries each, the radix-tree layout the 2018 article rejects) and a
`hugetlb` file (one entry per 2 MiB at index >> 9, hugetlbfs's units). Loads and stores: FindFolio and
AddFolio of order-0 folios, one Redis round trip each in-process, plus one gRPC hop through the service.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import grpc
import redis.asyncio as aioredis

from mmsim import stack
from mmsim.allocator.allocator import AllocatorService
from mmsim.pagecache.filemap import Folio, PageCache
from mmsim.runtime import config, keys
from mmsim.runtime.redis_server import start_redis
from mmsim.v1 import common_pb2, page_cache_pb2, page_cache_pb2_grpc

MODES = ("multi-order", "order-0", "hugetlb")


async def new_file(r, name: str, mode: str) -> str:
    await r.hset(keys.mapping(name, "inode"), mapping={"i_size": 1 << 40, "indexing": mode})
    return name


async def per_gib(r, settings: config.Settings, svc: AllocatorService) -> None:
    folios = []
    for _ in range(512):
        a = await svc.alloc_pages(9, "GFP_HIGHUSER_MOVABLE|__GFP_COMP")
        folios.append(Folio(a.nid, a.pfn, a.order))
    pc = PageCache(r, settings)
    print(f"{'1 GiB cached as':<14}{'entries':>9}{'nodes':>8}{'height':>8}{'Redis bytes':>13}  add time")
    for mode in MODES:
        m = await new_file(r, f"gib/{mode}", mode)
        t0 = time.perf_counter()
        for i, f in enumerate(folios):
            await pc.add_folio(m, i * 512, f)
        dt = time.perf_counter() - t0
        st = await pc.stats(m)
        slots = 512 * 512 if mode == "order-0" else 512
        print(f"{mode:<14}{slots:>9}{st['nodes']:>8}{st['height']:>8}{st['redis_bytes']:>13}  {dt:.2f} s")


async def rates(r, settings: config.Settings, svc: AllocatorService, ops: int) -> None:
    pc = PageCache(r, settings)
    folios = []
    for _ in range(2 * ops):
        a = await svc.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
        folios.append(Folio(a.nid, a.pfn, 0))
    local = await new_file(r, "rate/1", "multi-order")
    t0 = time.perf_counter()
    for i in range(ops):
        await pc.add_folio(local, i, folios[i])
    store_local = ops / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(ops):
        await pc.find_folio(local, i)
    load_local = ops / (time.perf_counter() - t0)

    svc_settings = stack.pick_free_settings(config.load(settings.env()), tempfile.mkdtemp(prefix="bench_pc"))
    svc_settings = config.load({**svc_settings.env(), "MMSIM_REDIS_URL": settings.redis_url})
    stack.services_up(svc_settings, ["pagecache"], timeout=60, tied=True)
    remote = await new_file(r, "rate/2", "multi-order")
    try:
        with grpc.insecure_channel(svc_settings.addrs["pagecache"]) as ch:
            stub = page_cache_pb2_grpc.PageCacheServiceStub(ch)
            t0 = time.perf_counter()
            for i in range(ops):
                f = folios[ops + i]
                stub.AddFolio(page_cache_pb2.AddFolioRequest(mapping=remote, index=i, folio=common_pb2.Folio(
                    pfn=f.pfn, order=0, node=f.node)))
            store_remote = ops / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for i in range(ops):
                stub.FindFolio(page_cache_pb2.FindFolioRequest(mapping=remote, index=i))
            load_remote = ops / (time.perf_counter() - t0)
    finally:
        stack.services_down(svc_settings, ["pagecache"])
    print(f"\n{'operation':<34}{'in-process/s':>14}{'gRPC/s':>10}{'ratio':>8}")
    print(f"{'store (filemap_add_folio, order 0)':<34}{store_local:>14,.0f}{store_remote:>10,.0f}{store_remote / store_local:>8.2f}")
    print(f"{'load (filemap_get_folio)':<34}{load_local:>14,.0f}{load_remote:>10,.0f}{load_remote / load_local:>8.2f}")


async def main(ops: int) -> None:
    proc = start_redis(workdir=Path(tempfile.mkdtemp(prefix="bench_pagecache")))
    settings = config.load({"MMSIM_MEMORY": "2GiB", "MMSIM_REDIS_URL": proc.url})
    r = aioredis.Redis.from_url(proc.url)
    try:
        svc = await AllocatorService.open(r, settings)
        await per_gib(r, settings, svc)
        await rates(r, settings, svc, ops)
    finally:
        await r.aclose()
        proc.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=1000)
    asyncio.run(main(ap.parse_args().ops))
