"""The page cache's CONFIG_DEBUG_VM: every cached folio is a live allocation owned by its mapping, below EOF.

Models the VM_BUG_ON_FOLIO checks of mm/filemap.c (__filemap_add_folio, page_cache_delete: a folio in the
cache has folio->mapping == mapping and folio->index == its index, and is not free) over every mapping of
``{cluster}:mappings``, ``debug_vm.lua`` walking each XArray 256 entries per script. Rules:
``cache_folio_misaligned`` (an order-N entry at a pfn not aligned to 2^N), ``cache_folio_not_allocated`` /
``cache_folio_order`` (the entry's pfn is not an allocation of that order), ``cache_folio_mapping`` /
``cache_folio_index`` (struct page says another owner), ``cache_folio_refcount`` (the cache's reference is
missing), ``cached_past_eof`` (a folio starting at or past EOF: truncation did not remove it) and
``nrpages`` (the inode's nrpages differs from the pages its XArray holds).
"""

from __future__ import annotations

import json
from pathlib import Path

from mmsim.pagecache.filemap import FILEMAP_LUA, PageCache
from mmsim.runtime import keys
from mmsim.runtime.errors import NotFound
from mmsim.runtime.lua import Script

ENTRIES_PER_SCRIPT = 256


class CacheCheck:
    def __init__(self, pc: PageCache, redis):
        self._pc, self._redis = pc, redis
        self._walk = Script(redis, FILEMAP_LUA + Path(__file__).with_name("debug_vm.lua").read_text())

    async def check(self, report) -> None:
        async for raw in self._redis.sscan_iter(keys.cluster("mappings"), count=200):
            mapping = raw.decode()
            try:
                await self._mapping(mapping, report)
            except NotFound:   # unlinked and destroyed between the SSCAN and the walk
                continue

    async def _mapping(self, mapping: str, report) -> None:
        start, folios, pages = 0, 0, 0
        while start >= 0:
            res = json.loads(await self._walk(self._pc._keys(mapping),
                                              [self._pc._cs, self._pc._spans, start, ENTRIES_PER_SCRIPT, mapping]))
            for rule, pfn, msg in res["bad"] or []:
                report.add(rule, f"{mapping}: {msg}", pfn=int(pfn), key=keys.mapping(mapping, "xa"))
            folios, pages, start = folios + res["folios"], pages + res["pages"], int(res["next"])
        nrpages = int(await self._redis.hget(keys.mapping(mapping, "inode"), "nrpages") or 0)
        if nrpages != pages:
            report.add("nrpages", f"{mapping}: inode nrpages = {nrpages}, its XArray holds {pages} pages of folios",
                       key=keys.mapping(mapping, "inode"))
        report.checked["mappings"] += 1
        report.checked["folios"] += folios
        report.checked["cached_pages"] += pages
