"""The page cache's CONFIG_DEBUG_VM: every cached folio is a live allocation owned by its mapping, below EOF.

Models the VM_BUG_ON_FOLIO checks of mm/filemap.c (__filemap_add_folio, page_cache_delete: a folio in the
cache has folio->mapping == mapping and folio->index == its index, and is not free) over every mapping of
``{cluster}:mappings``, ``debug_vm.lua`` walking each XArray 256 entries per script. Rules:
``cache_folio_misaligned`` (an order-N entry at a pfn not aligned to 2^N), ``cache_folio_not_allocated`` /
``cache_folio_order`` (the entry's pfn is not an allocation of that order), ``cache_folio_mapping`` /
``cache_folio_index`` (struct page says another owner), ``cache_folio_refcount`` (the cache's reference is
missing), ``cached_past_eof`` (a folio starting at or past EOF: truncation did not remove it) and
``nrpages`` (the inode's nrpages differs from the pages its XArray holds).

The file LRU lists (mm/vmscan.c, mm/swap.c) are checked too: every cached folio is on exactly one of its node's
lists, the one its PG_active names (``lru_folio_on_two_lists``, ``lru_folio_not_on_lru``,
``lru_folio_active_flag``, in the mapping walk), except a hugetlbfs folio, which is on none
(``lru_hugetlb_folio``); every member of a list is a live page-cache folio
(``lru_freed_page``, ``lru_not_cached``: ``lru_check.lua`` walks each list 1024 members per script); and each
list's pages equal its vmstat counter (``lru_size``: nr_inactive_file, nr_active_file, as lruvec_add_folio /
lruvec_del_folio keep them). The anonymous lists (inactive_anon, active_anon) are walked the same way: each
member is a live anonymous page (``lru_freed_page``; ``lru_list_type`` for a page-cache folio on an anon list or
an anonymous page on a file list) with PG_lru and PG_swapbacked set (``lru_anon_flags``), PG_active as its list
says and on one list only (``lru_folio_active_flag``, ``lru_folio_on_two_lists``), and nr_inactive_anon /
nr_active_anon equal the lists (``lru_size``). That every mapped anonymous page is on a list is the reverse
map's check (``lru_anon_not_on_lru``: it finds them through their PTEs).
"""

from __future__ import annotations

import json

from mmsim.allocator.vmemmap import PG
from mmsim.pagecache.filemap import FILEMAP_LUA, PageCache
from mmsim.runtime import keys
from mmsim.runtime.errors import NotFound
from mmsim.runtime.lua import Spec, SpecScript

ENTRIES_PER_SCRIPT = 256
LRU_MEMBERS_PER_SCRIPT = 1024
LRU_LISTS = ("inactive_file", "active_file", "inactive_anon", "active_anon")


WALK = SpecScript(Spec("debug_vm", keys=("inode", "xa"), args=("chunk_shift", "spans", "start", "budget", "mapping"),
                       replies={"walked": ("json",)}), __file__, FILEMAP_LUA)
"""debug_vm.lua. KEY inode, xa; ARG chunk_shift, spans, start (the page index to start at), budget (entries at
most), mapping. Reply: walked (its findings and where to resume, JSON)."""
LRU_CHECK = SpecScript(Spec("lru_check", args=("spans", "node", "list", "first", "budget"), replies={"walked": ("json",)}),
                       __file__, "\n".join([FILEMAP_LUA, f"local LRU_CHECK = {{lru = {PG['lru']}, swapbacked = {PG['swapbacked']}}}"]))
"""lru_check.lua. ARG spans, node, list (one of LRU_LISTS), first (the rank to start at), budget (members at
most). Reply: walked (its findings and where to resume, JSON)."""


class CacheCheck:
    def __init__(self, pc: PageCache, redis):
        self._pc, self._redis = pc, redis

    async def check(self, report) -> None:
        async for raw in self._redis.sscan_iter(keys.cluster("mappings"), count=200):
            mapping = raw.decode()
            try:
                await self._mapping(mapping, report)
            except NotFound:   # unlinked and destroyed between the SSCAN and the walk
                continue
        for node in self._pc.layout.nodes:
            for lru in LRU_LISTS:
                await self._lru_list(node.nid, lru, report)

    async def _lru_list(self, nid: int, lru: str, report) -> None:
        start, pages = 0, 0
        key = keys.node(nid, f"lru:{lru}")
        while start >= 0:
            res = json.loads((await LRU_CHECK(self._redis, spans=self._pc._spans, node=nid, list=lru, first=start,
                                              budget=LRU_MEMBERS_PER_SCRIPT)).json)
            for rule, pfn, msg in res["bad"] or []:
                report.add(rule, f"node {nid}: {msg}", pfn=int(pfn), key=key)
            pages, start = pages + res["pages"], int(res["next"])
        counted = int(await self._redis.hget(keys.node(nid, "vmstat"), f"nr_{lru}") or 0)
        if counted != pages:
            report.add("lru_size", f"node {nid}: nr_{lru} = {counted}, the {lru} list holds {pages} pages of folios",
                       key=keys.node(nid, "vmstat"))
        report.checked["lru_pages"] += pages

    async def _mapping(self, mapping: str, report) -> None:
        start, folios, pages = 0, 0, 0
        while start >= 0:
            res = json.loads((await WALK(self._redis, **self._pc._names(mapping), chunk_shift=self._pc._cs,
                                         spans=self._pc._spans, start=start, budget=ENTRIES_PER_SCRIPT,
                                         mapping=mapping)).json)
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
