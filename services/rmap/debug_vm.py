"""The reverse map's CONFIG_DEBUG_VM: page tables against _mapcount, _refcount and EOF.

Models what mm/debug_vm_pgtable.c and the VM_BUG_ON_FOLIO checks of mm/rmap.c assume (folio_add_file_rmap /
folio_remove_rmap: every PTE of a page raised its _mapcount once; every mapped folio holds a reference per PTE)
and what truncation guarantees (mm/truncate.c: nothing is mapped past EOF once truncate_pagecache returned).
Every process of ``{cluster}:procs`` is read with HSCAN (1000 PTEs a call), then the struct pages of the
mapped folios in pipelines of 500 GETRANGEs. Rules:

* ``mapcount_mismatch``: a page's _mapcount + 1 differs from the PTEs (of all processes) that raised it;
* ``entire_mapcount_mismatch``: a PMD-order folio's _entire_mapcount + 1 differs from the PMDs (of all processes)
  mapping it (folio_add_file_rmap_pmd; page_mapcount() = _mapcount + 1 + that);
* ``pte_under_pmd``: a PTE inside the 2 MiB a PMD of the same process maps (a PMD entry has no page table);
* ``refcount_too_low``: a folio's _refcount is below its PTEs + the page cache's references + the mapcount
  policy's pin (``_refcount`` covers mapcount + cache + pins);
* ``anon_page_owner``: an anonymous PTE's page is not owned by that process's anon_vma (->mapping; fork shares
  the root's: ``{mm:PID}:mm`` field anon_root);
* ``lru_anon_not_on_lru``: a mapped anonymous page on neither anon LRU list of its node (folio_add_lru_vma puts
  it on one when it is created; no swap, so nothing takes it off while it is mapped);
* ``file_pte_not_cached``: a file PTE maps a folio that left the page cache (->mapping cleared);
* ``mapped_past_eof``: a PTE of a file VMA maps an index at or past the file's EOF;
* ``pte_past_vma``: a PTE (or a PMD's 2 MiB) outside every VMA of its process.

A PMD (``{mm:PID}:pmd``) holds one reference and counts in _entire_mapcount, not in the pages' _mapcount.
"""

from __future__ import annotations

import bisect
import json
import struct
from collections import Counter

from mmsim.allocator.vmemmap import MAPPING_SHARED, PAGES_PER_CHUNK, RECORD_FMT, RECORD_SIZE
from mmsim.allocator.zones import Layout
from mmsim.rmap import lua
from mmsim.rmap.mm import Vma
from mmsim.runtime import keys

BATCH = 500


class RmapCheck:
    def __init__(self, redis, layout: Layout):
        self._redis, self._layout = redis, layout

    def _record(self, pipe, node: int, pfn: int) -> None:
        start = self._layout.nodes[node].start_pfn
        rel = pfn - start
        off = (rel % PAGES_PER_CHUNK) * RECORD_SIZE
        pipe.getrange(keys.node(node, f"vmemmap:{rel // PAGES_PER_CHUNK}"), off, off + RECORD_SIZE - 1)

    async def _records(self, pfns: list[tuple[int, int]]) -> dict[tuple[int, int], tuple]:
        out = {}
        for i in range(0, len(pfns), BATCH):
            part = pfns[i:i + BATCH]
            pipe = self._redis.pipeline(transaction=False)
            for node, pfn in part:
                self._record(pipe, node, pfn)
            for key, raw in zip(part, await pipe.execute()):
                if len(raw) == RECORD_SIZE:
                    out[key] = struct.unpack(RECORD_FMT, raw)
        return out

    async def _runs(self, pid: int, raised: Counter, refs: Counter, file_heads: dict) -> None:
        """MapMany's counted runs count as the PTEs they stand for; GUP pins as references (one HGETALL each)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(keys.mm(pid, "runs"))
        pipe.hgetall(keys.mm(pid, "pins"))
        runs, pins = await pipe.execute()
        for k, v in runs.items():
            if b":" in k:
                continue
            r, counted = json.loads(v), int(runs[k + b":c"])
            raised[(r["node"], r["pfn"])] += counted
            refs[(r["node"], r["head"])] += counted
            file_heads[(r["node"], r["head"])] = f"pid {pid}'s run of {r['n']} VMAs at {r['s']:#x}"
        for k, n in pins.items():
            node, head, _order = (int(x) for x in k.split(b":"))
            refs[(node, head)] += int(n)

    async def _pmds(self, pid: int, vmas: list[Vma], report, refs: Counter, pmds: Counter, file_heads: dict,
                    isize: dict) -> set[int]:
        """The process's PMD mappings: each one reference and one _entire_mapcount of its folio. Returns the
        PMD indices (every vpn >> 9 a PMD maps)."""
        out = set()
        for idx_raw, raw in (await self._redis.hgetall(keys.mm(pid, "pmd"))).items():
            idx = int(idx_raw)
            _pfn, head, _order, node, _bits = (int(x) for x in raw.split(b":"))
            out.add(idx)
            first, end = idx << 21, (idx + 1) << 21
            vma = next((v for v in vmas if v.start <= first and end <= v.end), None)
            report.checked["pmds"] += 1
            if vma is None:
                report.add("pte_past_vma", f"pid {pid}: PMD at {first:#x} not inside one VMA", pfn=head,
                           key=keys.mm(pid, "pmd"))
            elif vma.mapping:
                size = isize.get(vma.mapping)
                if size is None:
                    size = isize[vma.mapping] = int(await self._redis.hget(keys.mapping(vma.mapping, "inode"), "i_size") or 0)
                last = vma.pgoff + ((end - vma.start) >> 12) - 1
                if last >= -(-size // 4096):
                    report.add("mapped_past_eof", f"pid {pid}'s PMD at {first:#x} maps index {last} of {vma.mapping}, "
                               f"past EOF (i_size {size} bytes)", pfn=head, key=keys.mm(pid, "pmd"))
            refs[(node, head)] += 1
            pmds[(node, head)] += 1
            file_heads[(node, head)] = f"pid {pid}'s PMD at {first:#x}"
        return out

    async def check(self, report) -> None:
        raised: Counter = Counter()     # (node, pfn) -> PTEs that raised its _mapcount
        pmds: Counter = Counter()       # (node, head) -> PMDs mapping the folio
        large: set = set()              # (node, head) of PMD-order folios PTEs map
        refs: Counter = Counter()       # (node, head) -> PTEs holding a reference to the folio
        anon: dict[tuple[int, int], int] = {}    # (node, pfn) -> the anon_vma root of a process mapping it
        file_heads: dict[tuple[int, int], str] = {}
        isize: dict[str, int] = {}
        async for raw_pid in self._redis.sscan_iter(keys.cluster("procs"), count=200):
            pid = int(raw_pid)
            vmas = [Vma.from_json(m) for m in await self._redis.zrange(keys.mm(pid, "vmas"), 0, -1)]
            root = int(await self._redis.hget(keys.mm(pid, "mm"), "anon_root") or pid)   # fork's shared anon_vma
            starts = [v.start for v in vmas]
            huge = await self._pmds(pid, vmas, report, refs, pmds, file_heads, isize)
            async for vpn_raw, pte_raw in self._redis.hscan_iter(keys.mm(pid, "pte"), count=1000):
                vpn = int(vpn_raw)
                pfn, head, order, node, bits = (int(x) for x in pte_raw.split(b":"))
                report.checked["ptes"] += 1
                if vpn >> 9 in huge:
                    report.add("pte_under_pmd", f"pid {pid}: PTE at vpn {vpn:#x} inside the 2 MiB its PMD maps", pfn=pfn,
                               key=keys.mm(pid, "pte"))
                if order == 9 and not bits & lua.PTE_ZERO:
                    large.add((node, head))
                i = bisect.bisect_right(starts, vpn << 12) - 1
                vma = vmas[i] if i >= 0 and vmas[i].end > vpn << 12 else None
                if vma is None:
                    report.add("pte_past_vma", f"pid {pid}: PTE at vpn {vpn:#x} outside every VMA", pfn=pfn,
                               key=keys.mm(pid, "pte"))
                elif vma.mapping:
                    if vma.mapping not in isize:
                        got = await self._redis.hget(keys.mapping(vma.mapping, "inode"), "i_size")
                        isize[vma.mapping] = int(got) if got is not None else 0
                    index = vma.pgoff + (vpn - (vma.start >> 12))
                    if index >= -(-isize[vma.mapping] // 4096):
                        report.add("mapped_past_eof", f"pid {pid} maps index {index} of {vma.mapping} (vpn {vpn:#x}), "
                                   f"past EOF (i_size {isize[vma.mapping]} bytes)", pfn=pfn, key=keys.mm(pid, "pte"))
                if bits & lua.PTE_ZERO:
                    continue
                if not bits & lua.PTE_NOMC:
                    raised[(node, pfn)] += 1
                refs[(node, head)] += 1
                if bits & lua.PTE_ANON:
                    anon[(node, pfn)] = root
                else:
                    file_heads[(node, head)] = f"pid {pid} vpn {vpn:#x}"
            await self._runs(pid, raised, refs, file_heads)
        report.checked["ptes_raising_mapcount"] += sum(raised.values())
        large |= set(pmds)
        tails = {(n, h + 1) for n, h in large}
        recs = await self._records(sorted(set(raised) | set(refs) | tails))
        for node, head in sorted(large):
            r = recs.get((node, head + 1))
            if r is not None and r[4] + 1 != pmds[(node, head)]:
                report.add("entire_mapcount_mismatch", f"_entire_mapcount {r[4]} (+1 = {r[4] + 1} PMD mappings), "
                           f"{pmds[(node, head)]} PMDs map the folio", pfn=head)
        pinned = set()
        for n in self._layout.nodes:
            pinned |= {(n.nid, int(x)) for x in await self._redis.smembers(keys.node(n.nid, "rmap_pinned"))}
        for key, n in raised.items():
            r = recs.get(key)
            if r is not None and r[1] + 1 != n:
                report.add("mapcount_mismatch", f"_mapcount {r[1]} (+1 = {r[1] + 1} mappings), {n} PTEs map it",
                           pfn=key[1])
        for key, n in refs.items():
            r = recs.get(key)
            if r is None:
                continue
            _flags, _mc, _w0, _w1, mapping, index, _w4, refcount, _memcg = r
            cache = index if mapping == MAPPING_SHARED else (1 if mapping and not mapping & 1 else 0)
            need = n + cache + (1 if key in pinned else 0)
            if refcount < need:
                report.add("refcount_too_low", f"_refcount {refcount} < {n} PTEs + {cache} page-cache reference(s) "
                           f"+ {int(key in pinned)} pin", pfn=key[1])
            if key in file_heads and mapping == 0:
                report.add("file_pte_not_cached", f"{file_heads[key]} maps a file folio that left the page cache "
                           "(->mapping is NULL)", pfn=key[1])
        for key, root in anon.items():
            r = recs.get(key)
            if r is not None and r[4] != root * 2 + 1:
                report.add("anon_page_owner", f"an anonymous PTE of anon_vma {root}'s processes maps a page whose "
                           f"->mapping is {r[4]}, not their anon_vma ({root * 2 + 1})", pfn=key[1])
        await self._anon_lru(sorted(anon), report)
        report.checked["mapped_folios"] += len(refs)

    async def _anon_lru(self, pages: list[tuple[int, int]], report) -> None:
        """Every mapped anonymous page is on one of its node's anon LRU lists (two ZSCOREs a page, pipelined)."""
        for i in range(0, len(pages), BATCH):
            part = pages[i:i + BATCH]
            pipe = self._redis.pipeline(transaction=False)
            for node, pfn in part:
                for lst in ("inactive_anon", "active_anon"):
                    pipe.zscore(keys.node(node, f"lru:{lst}"), str(pfn))
            got = await pipe.execute()
            for j, (node, pfn) in enumerate(part):
                if got[2 * j] is None and got[2 * j + 1] is None:
                    report.add("lru_anon_not_on_lru", f"node {node}: a mapped anonymous page on no anon LRU list "
                               "(reclaim and compaction cannot find it)", pfn=pfn)
        report.checked["anon_pages"] += len(pages)
