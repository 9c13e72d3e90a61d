"""PageCacheService: thin gRPC wiring over mmsim.pagecache.filemap (models mm/filemap.c entry points)."""

from __future__ import annotations

import re

from mmsim.pagecache import drop_caches, huge_memory, xadump, xatree
from mmsim.pagecache.debug_vm import CacheCheck
from mmsim.pagecache.filemap import MAX_PAGECACHE_ORDER, MAX_WRITE, PAGE_SHIFT, Fill, Folio, Found, PageCache, Tag
from mmsim.runtime import locks, serve, tracing
from mmsim.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, require
from mmsim.runtime.vmfault import VmFault
from mmsim.runtime.wire import GFP_HIGHUSER_MOVABLE
from mmsim.v1 import common_pb2, filesystem_pb2, page_allocator_pb2, page_cache_pb2, page_cache_pb2_grpc, reverse_map_pb2

GFP_COMP_HIGHUSER_MOVABLE = common_pb2.GfpMask(flags=[*GFP_HIGHUSER_MOVABLE.flags, common_pb2.GFP_FLAG_COMP])


def _folio_pb(folio) -> common_pb2.Folio:
    return common_pb2.Folio(pfn=folio.pfn, order=folio.order, node=folio.node)


def _found_pb(found) -> page_cache_pb2.FindFolioResponse:
    resp = page_cache_pb2.FindFolioResponse(folio_index=found.index, zero_entry=found.zero, found=True,
                                            tags=[t.value for t in found.tags], shared=found.shared)
    if not found.zero:
        resp.folio.CopyFrom(_folio_pb(found.folio))
    return resp


def _tag(value: int) -> Tag:
    require(value in Tag._value2member_map_, f"tag must be PAGECACHE_TAG_DIRTY, _WRITEBACK or _TOWRITE, got {value}")
    return Tag(value)


_MAPPING_RE = re.compile(r"[a-z0-9_-]{1,32}/[0-9]+")


def _mapping(name: str) -> str:
    require(bool(name), "mapping must name a file as FS/INO, got an empty string")
    require(bool(_MAPPING_RE.fullmatch(name)), f"mapping must name a file as FS/INO (e.g. xfs0/1), got {name!r}")
    return name


class PageCacheServicer(page_cache_pb2_grpc.PageCacheServiceServicer):
    def __init__(self, ctx):
        self._ctx = ctx
        self._pc = PageCache(ctx.redis, ctx.settings)

    async def Fault(self, request, context):
        """filemap_fault: SIGBUS beyond EOF, a hit returns the folio, a miss asks the filesystem to populate.

        A read of a hole covered by a zero entry returns no folio and VM_FAULT_NOPAGE: the caller maps the
        shared zero page (as dax_load_hole does); a write to it populates a real folio that replaces it.
        """
        mapping = _mapping(request.mapping)
        write = page_cache_pb2.FAULT_FLAG_WRITE in request.flags
        around = 0 if write else request.around_pages   # do_fault_around is for read faults only
        require(around <= 512, f"around_pages must be at most 512 (one page table), got {around}")
        hit = await self._pc.fault_lookup(mapping, request.index, write, request.around_start, around)
        resp = page_cache_pb2.FaultResponse(i_size=hit.i_size, around=[_found_pb(f) for f in hit.around])
        found = hit.found
        if hit.beyond_eof:
            outcome, result = "beyond_eof", VmFault.SIGBUS
        elif found is not None and found.zero and not write:
            outcome, result = "zero_entry", VmFault.NOPAGE
            resp.folio_index = found.index
        elif found is not None and not found.zero:
            if write and found.shared:   # a write must not reach the other mappings' copy: unshare first
                found, _ = await self._unshare(mapping, request.index)
            # with fault-around the cached page is mapped by filemap_map_pages: do_read_fault answers NOPAGE
            outcome, result = "hit", VmFault.NOPAGE if around else VmFault.LOCKED
            resp.folio.CopyFrom(_folio_pb(found.folio))
            resp.folio_index = found.index
        else:
            populated = await self._ctx.peers.stub("filesystem").Populate(filesystem_pb2.PopulateRequest(
                mapping=mapping, index=request.index, gfp=GFP_HIGHUSER_MOVABLE, write=write))
            failed = VmFault.from_proto(populated.vm_fault)
            outcome, result = "miss", (failed or VmFault.MAJOR | VmFault.LOCKED)
            if populated.zero_entry and not failed:   # a hole: the filesystem inserted a zero entry, no page
                outcome, result = "miss_zero_entry", VmFault.MAJOR | VmFault.NOPAGE
                resp.folio_index = populated.folio_index
            elif not failed:
                resp.folio.CopyFrom(populated.folio)
                resp.folio_index = populated.folio_index
        tracing.annotate(page_cache=outcome, around_folios=len(hit.around))
        resp.vm_fault.extend(result.to_proto())
        return resp

    async def AddFolio(self, request, context):
        """filemap_add_folio; for a populate, also the read's completion (contents), the allocation's counts
        and the invalidate_lock's release, in the insert's one step."""
        mapping = _mapping(request.mapping)
        seq = request.data_seq if request.HasField("data_seq") else None
        if request.unlock and not any(h.name == locks.INVALIDATE_LOCK and h.mapping == mapping for h in locks.held()):
            raise FailedPrecondition(f"unlock: the call holds no invalidate_lock of {mapping} (held-locks metadata)")
        if request.zero_entry:
            require(not request.HasField("contents") and not request.count_alloc and not request.fallback_orders,
                    "a zero entry has no contents and no allocation to count")
            added = await self._pc.insert_zero(mapping, request.index, request.zero_order, seq, request.unlock)
        else:
            require(request.HasField("folio"), "AddFolio needs a folio (or zero_entry=true)")
            size = 1 << (PAGE_SHIFT + min(request.folio.order, 63))
            require(len(request.contents) <= size,
                    f"contents of {len(request.contents)} bytes do not fit the folio ({size} bytes)")
            require(request.count_alloc or not request.fallback_orders, "fallback_orders need count_alloc")
            require(len(request.fallback_orders) <= 2 * (MAX_PAGECACHE_ORDER + 1)
                    and all(request.folio.order <= o <= MAX_PAGECACHE_ORDER for o in request.fallback_orders),
                    f"fallback_orders must lie in [folio order {request.folio.order}, {MAX_PAGECACHE_ORDER}], "
                    f"at most {2 * (MAX_PAGECACHE_ORDER + 1)} of them")
            fill = Fill(request.contents if request.HasField("contents") else None, request.count_alloc,
                        tuple(request.fallback_orders), request.unlock, request.dirty)
            added = await self._pc.insert_folio(mapping, request.index, request.folio, seq, tracing.current_ids()[0],
                                                fill)
        return page_cache_pb2.AddFolioResponse(nrpages=added.nrpages, unlocked=added.unlocked,
                                               waiters_woken=added.woken, zero_pages_replaced=added.zero_replaced)

    async def FindFolio(self, request, context):
        """NOT_FOUND for a mapping that does not exist; found=false for an index nothing caches."""
        mapping = _mapping(request.mapping)
        try:
            found = await self._pc.lookup(mapping, request.index)
        except NotFound:
            raise NotFound(f"no such file {mapping} (never created, or unlinked and evicted)") from None
        tracing.annotate(found=found is not None)
        return page_cache_pb2.FindFolioResponse(found=False) if found is None else _found_pb(found)

    async def TagFolio(self, request, context):
        await self._pc.tag_folio(_mapping(request.mapping), request.index, _tag(request.tag), clear=request.clear)
        return page_cache_pb2.TagFolioResponse()

    async def WriteFolio(self, request, context):
        mapping = _mapping(request.mapping)
        require(len(request.data) <= MAX_WRITE, f"data must be at most {MAX_WRITE} bytes, got {len(request.data)}")
        w = await self._pc.write_folio(mapping, request.offset, request.data)
        tracing.annotate(written=w.written, found=w.found is not None)
        entry = page_cache_pb2.FindFolioResponse(found=False) if w.found is None else _found_pb(w.found)
        return page_cache_pb2.WriteFolioResponse(entry=entry, written=w.written)

    async def FindTagged(self, request, context):
        limit = request.limit or 256
        require(limit <= 4096, f"limit must be at most 4096, got {limit}")
        found = await self._pc.find_tagged(_mapping(request.mapping), _tag(request.tag), request.start, limit)
        return page_cache_pb2.FindTaggedResponse(folios=[_found_pb(f) for f in found])

    async def TruncateRange(self, request, context):
        if not request.to_eof and request.lend < request.lstart:
            raise InvalidArgument(f"lend {request.lend} is before lstart {request.lstart}")
        res = await self._pc.truncate_range(_mapping(request.mapping), request.lstart,
                                            None if request.to_eof else request.lend)
        await self._free(res.freed)
        return page_cache_pb2.TruncateRangeResponse(
            folios_removed=res.folios_removed, pages_freed=res.pages_freed, folios_split=res.folios_split,
            bytes_zeroed=res.bytes_zeroed, split_failed=res.split_failed, ptes_unmapped=res.ptes_unmapped,
            split_log=res.split_log)

    async def InvalidateMapping(self, request, context):
        removed, busy, freed = await self._pc.invalidate(_mapping(request.mapping))
        await self._free(freed)
        return page_cache_pb2.InvalidateMappingResponse(folios_removed=removed, folios_busy=busy,
                                                        pages_freed=sum(1 << f.order for f in freed))

    async def DropCaches(self, request, context):
        """echo MODE > /proc/sys/vm/drop_caches (mmsim.pagecache.drop_caches)."""
        res = await drop_caches.drop_caches(self._ctx.redis, self._pc, drop_caches.check_mode(request.mode), self._free)
        tracing.annotate(mode=request.mode, mappings=res.mappings_scanned, folios_removed=res.folios_removed,
                         folios_busy=res.folios_busy, pages_freed=res.pages_freed)
        if not request.mode & drop_caches.DROP_QUIET:
            self._ctx.log.info("drop_caches", mode=request.mode)   # the kernel's "comm (pid): drop_caches: N"
        return page_cache_pb2.DropCachesResponse(**vars(res))

    async def ShareFolios(self, request, context):
        stats = await self._pc.share_folios(_mapping(request.src_mapping), request.src_index,
                                            _mapping(request.dst_mapping), request.dst_index, request.nr_pages)
        return page_cache_pb2.ShareFoliosResponse(**stats)

    async def UnshareFolio(self, request, context):
        found, copied = await self._unshare(_mapping(request.mapping), request.index)
        return page_cache_pb2.UnshareFolioResponse(folio=_folio_pb(found.folio), folio_index=found.index, copied=copied)

    async def _unshare(self, mapping: str, index: int):
        """Copy a folio shared through PFN entries into a private one for this mapping (before a write).

        Zaps this mapping's PTEs of the folio before and after the switch (as truncation unmaps twice), so
        no process keeps writing through to the other mappings' copy."""
        alloc, rmap = self._ctx.peers.stub("allocator"), self._ctx.peers.stub("rmap")
        for _ in range(4):
            found = await self._pc.find_folio(mapping, index)
            if found.zero or not found.shared:
                return found, False
            start, length = found.index << 12, (1 << found.order) << 12
            unmap = reverse_map_pb2.UnmapMappingRangeRequest(mapping=mapping, start=start, length=length, even_cows=False)
            await rmap.UnmapMappingRange(unmap)
            gfp = GFP_COMP_HIGHUSER_MOVABLE if found.order else GFP_HIGHUSER_MOVABLE
            got = await alloc.AllocPages(page_allocator_pb2.AllocPagesRequest(order=found.order, gfp=gfp, node=-1,
                                                                              in_flight_for="unshare"))
            new = Folio(got.folio.node, got.folio.pfn, got.folio.order)
            done = await self._pc.replace_shared(mapping, index, found.folio, new, tracing.current_ids()[0])
            if done is None:
                await self._free([new])
                continue
            await self._free(done[1])
            await rmap.UnmapMappingRange(unmap)
            tracing.annotate(unshared_pfn=found.folio.pfn, copy_pfn=new.pfn)
            return Found(found.index, new, found.order), True
        raise FailedPrecondition(f"index {index} of {mapping} kept changing while it was being unshared")

    async def _free(self, folios) -> None:
        """release_pages for the folios whose last reference the page cache dropped (one hop for the batch)."""
        if folios:
            await self._ctx.peers.stub("allocator").ReleaseFolios(
                page_allocator_pb2.ReleaseFoliosRequest(folios=[_folio_pb(f) for f in folios]))

    async def XaStats(self, request, context):
        return page_cache_pb2.XaStatsResponse(**await self._pc.stats(_mapping(request.mapping)))

    async def ThpStats(self, request, context):
        sizes, events = await huge_memory.thp_stats(self._ctx.redis, self._ctx.settings.numa_nodes)
        return page_cache_pb2.ThpStatsResponse(
            sizes=[page_cache_pb2.ThpSizeStats(size_kb=s.size_kb, order=s.order, path=s.path, **s.counts) for s in sizes],
            vmstat=events)

    async def XaDump(self, request, context):
        mapping = _mapping(request.mapping)
        await self._pc.stats(mapping)   # NOT_FOUND for an unknown mapping
        dump = await self._pc.xarray(mapping).dump()
        return page_cache_pb2.XaDumpResponse(text=xadump.render(dump, mapping))

    async def XaTree(self, request, context):
        mapping = _mapping(request.mapping)
        await self._pc.stats(mapping)   # NOT_FOUND for an unknown mapping
        return xatree.tree(await self._pc.xarray(mapping).dump(), mapping, request.max_nodes)


async def register(server, ctx) -> list[str]:
    servicer = PageCacheServicer(ctx)
    ctx.checker = CacheCheck(servicer._pc, ctx.redis).check
    page_cache_pb2_grpc.add_PageCacheServiceServicer_to_server(servicer, server)
    return [page_cache_pb2.DESCRIPTOR.services_by_name["PageCacheService"].full_name]


if __name__ == "__main__":
    serve.run("pagecache", register)
