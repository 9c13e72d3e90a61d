"""/proc/sys/vm/drop_caches: models fs/drop_caches.c (drop_caches_sysctl_handler, drop_pagecache_sb).

Writing 1 walks every superblock's inodes and runs invalidate_mapping_pages(mapping, 0, -1) on each one
that has pages (the inode hash's ``nrpages``): the clean, unmapped, unreferenced folios leave the page cache;
dirty, writeback and mapped ones stay, as the kernel skips them. The inodes are the mappings of
``{cluster}:mappings`` (orphans included: an unlinked inode still mapped is on its sb's list too). Each
mapping is one run of the page cache's own invalidate script (PageCache.invalidate), so the folios it frees
sit in the in-flight ledger until the caller gives them back (release_pages, one hop per batch).

Writing 2 is drop_slab(): mmsim has no slab caches (kmalloc is page-backed, no dentry or inode cache is
modelled), so nothing is freed; the event is counted all the same. 3 is both; the bit 4 silences the
"drop_caches: N" log line (the kernel's ``stfu``, which stays set after; here it is per write). The sysctl's
range is 1..4 (proc_dointvec_minmax): 4 alone drops nothing.

Counters (node 0's vmstat, as the kernel's vm events): ``drop_pagecache`` and ``drop_slab``, one per write
with that bit. Round trips: one per batch of nrpages reads, one per mapping with pages, one for the counters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mmsim.pagecache.filemap import Folio, PageCache
from mmsim.runtime import keys
from mmsim.runtime.errors import NotFound, require

DROP_PAGECACHE, DROP_SLAB, DROP_QUIET = 1, 2, 4
SCAN_BATCH = 256          # mappings whose nrpages one round trip reads
RELEASE_BATCH = 512       # freed folios given back per release_pages hop


@dataclass
class DropResult:
    mappings_scanned: int = 0     # mappings with pages that were invalidated
    folios_removed: int = 0
    folios_busy: int = 0
    pages_freed: int = 0
    slab_objects_freed: int = 0   # always 0: no slab caches are modelled
    drop_pagecache: int = 0       # the vmstat counters after this write
    drop_slab: int = 0


def check_mode(mode: int) -> int:
    require(1 <= mode <= 4, f"drop_caches takes 1 (page cache), 2 (slab), 3 (both) or 4 (quiet), got {mode}")
    return mode


async def drop_caches(redis, pc: PageCache, mode: int, free: Callable[[list[Folio]], Awaitable[None]]) -> DropResult:
    """drop_caches_sysctl_handler for one write of ``mode``; ``free`` is release_pages for a batch of folios."""
    check_mode(mode)
    res = DropResult()
    if mode & DROP_PAGECACHE:
        await _drop_pagecache(redis, pc, res, free)
    vmstat = keys.node(0, "vmstat")
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(vmstat, "drop_pagecache", 1 if mode & DROP_PAGECACHE else 0)
        pipe.hincrby(vmstat, "drop_slab", 1 if mode & DROP_SLAB else 0)
        res.drop_pagecache, res.drop_slab = await pipe.execute()
    return res


async def _drop_pagecache(redis, pc: PageCache, res: DropResult, free) -> None:
    """iterate_supers(drop_pagecache_sb): invalidate_mapping_pages on every mapping that has pages."""
    pending: list[Folio] = []
    batch: list[str] = []
    async for raw in redis.sscan_iter(keys.cluster("mappings"), count=SCAN_BATCH):
        batch.append(raw.decode())
        if len(batch) >= SCAN_BATCH:
            await _invalidate_batch(redis, pc, batch, res, pending, free)
            batch = []
    await _invalidate_batch(redis, pc, batch, res, pending, free)
    if pending:
        await free(pending)


async def _invalidate_batch(redis, pc: PageCache, mappings: list[str], res: DropResult, pending: list[Folio],
                            free) -> None:
    if not mappings:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for mapping in mappings:
            pipe.hget(keys.mapping(mapping, "inode"), "nrpages")
        nrpages = await pipe.execute()
    for mapping, n in zip(mappings, nrpages):
        if not n or int(n) == 0:      # drop_pagecache_sb skips inodes without pages
            continue
        try:
            removed, busy, freed = await pc.invalidate(mapping)
        except NotFound:              # evicted between the scan and the invalidate
            continue
        res.mappings_scanned += 1
        res.folios_removed += removed
        res.folios_busy += busy
        res.pages_freed += sum(1 << f.order for f in freed)
        pending.extend(freed)
        if len(pending) >= RELEASE_BATCH:
            await free(pending[:])
            pending.clear()
