"""Large-folio counters (mm/huge_memory.c, mm/vmstat.c): the per-size mTHP statistics of
``/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats`` and the THP events of /proc/vmstat.

The split itself (``__folio_split``) is ``huge_memory.lua``, run inside the page cache's truncation script
(filemap.py ``TRUNCATE_LUA``) so that the XArray, the struct pages and the PTEs change in one step. It counts
``<size>kB:split`` / ``<size>kB:split_failed`` in each node's ``mthp_stats`` hash (where the filesystem
counts ``file_alloc`` / ``file_fallback``) and ``thp_split_page`` / ``thp_split_page_failed`` (PMD-sized
folios only, as count_vm_event does) in its ``vmstat``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsim.runtime import keys

MAX_PAGECACHE_ORDER = 9
SYSFS = "/sys/kernel/mm/transparent_hugepage"
MTHP_ITEMS = ("file_alloc", "file_fallback", "split", "split_failed")
"""The file-folio items of enum mthp_stat_item (include/linux/huge_mm.h) that mmsim counts."""
THP_EVENTS = ("thp_file_alloc", "thp_file_fallback", "thp_file_mapped", "thp_split_page", "thp_split_page_failed")
"""The THP events of /proc/vmstat the page cache and the filesystem count (mm/vmstat.c vmstat_text order)."""
FILE_ORDERS = range(1, MAX_PAGECACHE_ORDER + 1)
"""THP_ORDERS_ALL_FILE_DEFAULT: orders 1..MAX_PAGECACHE_ORDER have a hugepages-<size>kB directory."""


@dataclass(frozen=True)
class SizeStats:
    order: int
    counts: dict[str, int]

    @property
    def size_kb(self) -> int:
        return 4 << self.order

    @property
    def path(self) -> str:
        return f"{SYSFS}/hugepages-{self.size_kb}kB/stats"


async def thp_stats(redis, nodes: int) -> tuple[list[SizeStats], dict[str, int]]:
    """(per-size stats smallest first, vmstat THP events), summed over the NUMA nodes, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for nid in range(nodes):
        pipe.hgetall(keys.node(nid, "mthp_stats"))
        pipe.hmget(keys.node(nid, "vmstat"), THP_EVENTS)
    replies = await pipe.execute()
    mthp: dict[str, int] = {}
    events = dict.fromkeys(THP_EVENTS, 0)
    for per_size, vm in zip(replies[::2], replies[1::2]):
        for k, v in per_size.items():
            mthp[k.decode()] = mthp.get(k.decode(), 0) + int(v)
        for name, v in zip(THP_EVENTS, vm):
            events[name] += int(v or 0)
    sizes = [SizeStats(o, {item: mthp.get(f"{4 << o}kB:{item}", 0) for item in MTHP_ITEMS}) for o in FILE_ORDERS]
    return sizes, events
