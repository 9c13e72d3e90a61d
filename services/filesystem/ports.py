"""The filesystem's view of the other services: the page allocator, the page cache and the reverse map.

Logic modules talk to a ``Ports`` object only; ``GrpcPorts`` implements it over the services' gRPC
contracts (protos/mmsim/v1). Unit tests may pass an in-process fake with the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from mmsim.runtime import wire
from mmsim.runtime.errors import Aborted, MMError
from mmsim.v1 import common_pb2, page_allocator_pb2, page_cache_pb2, reverse_map_pb2

# Tag numbers of mmsim.v1.PagecacheTag (include/linux/fs.h PAGECACHE_TAG_*).
TAG_DIRTY = page_cache_pb2.PAGECACHE_TAG_DIRTY
TAG_WRITEBACK = page_cache_pb2.PAGECACHE_TAG_WRITEBACK
TAG_TOWRITE = page_cache_pb2.PAGECACHE_TAG_TOWRITE

F = common_pb2
GFP_HIGHUSER_MOVABLE = list(wire.GFP_HIGHUSER_MOVABLE.flags)
GFP_NORETRY_NOWARN = [F.GFP_FLAG_NORETRY, F.GFP_FLAG_NOWARN]


@dataclass(frozen=True)
class FolioRef:
    pfn: int
    order: int
    node: int = 0

    @property
    def nr_pages(self) -> int:
        return 1 << self.order


@dataclass
class Found:
    """What the page cache holds at an index: a folio (or a zero entry) starting at ``index``."""

    index: int
    folio: FolioRef | None
    zero: bool = False
    tags: set[int] = field(default_factory=set)
    shared: bool = False          # the folio is also cached by other mappings (PFN entries)


@dataclass(frozen=True)
class Fill:
    """What a populate's insert also does in its step (AddFolioRequest): store the folio's bytes, count its
    allocation (with the orders that failed first) and release the caller's invalidate_lock."""

    contents: bytes | None = None
    fallback_orders: tuple[int, ...] = ()
    unlock: bool = False
    dirty: bool = False           # a write's new folio: inserted DIRTY


@dataclass(frozen=True)
class Added:
    """The page cache took the entry; ``woken``: the waiters the unlock woke (``unlocked``)."""

    unlocked: bool = False
    woken: int = 0
    zero_replaced: int = 0        # pages of zero entries it replaced: their zero-page PTEs must be zapped


class PeerError(MMError):
    """A peer answered with an unexpected status; passed on with the same code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _peer_error(service: str, rpc: str, exc: grpc.aio.AioRpcError) -> PeerError:
    return PeerError(exc.code().name, f"{service}.{rpc}: {exc.code().name}: {exc.details()}")


def _found(msg) -> Found:
    folio = None if msg.zero_entry else FolioRef(msg.folio.pfn, msg.folio.order, msg.folio.node)
    return Found(index=msg.folio_index, folio=folio, zero=msg.zero_entry, tags=set(msg.tags), shared=msg.shared)


class GrpcPorts:
    def __init__(self, peers):
        self._peers = peers

    async def alloc_pages(self, order: int, gfp: list[int], mapping: str, index: int) -> tuple[FolioRef | None, str]:
        try:
            r = await self._peers.stub("allocator").AllocPages(page_allocator_pb2.AllocPagesRequest(
                order=order, gfp=common_pb2.GfpMask(flags=gfp), node=-1,   # AddFolio sets mapping/index
                in_flight_for="pagecache"))   # owned by this request's trace until AddFolio takes it over
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return None, exc.details() or "RESOURCE_EXHAUSTED"
            raise _peer_error("allocator", "AllocPages", exc) from None
        return FolioRef(r.folio.pfn, r.folio.order, r.folio.node), ""

    async def free_pages(self, folio: FolioRef) -> None:
        try:
            await self._peers.stub("allocator").FreePages(page_allocator_pb2.FreePagesRequest(pfn=folio.pfn, order=folio.order))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("allocator", "FreePages", exc) from None

    async def add_folio(self, mapping: str, index: int, folio: FolioRef | None, zero_order: int = 0,
                        data_seq: int | None = None, fill: Fill | None = None) -> Added | None:
        """filemap_add_folio; None on ALREADY_EXISTS (-EEXIST: another entry overlaps). Raises Aborted when
        the file's blocks changed since the caller read ``data_seq`` (a truncate, a hole punch or a writeback);
        our folio is then freed here. ``fill``: a populate's contents, counts and unlock, in the same step."""
        f = fill or Fill()
        req = page_cache_pb2.AddFolioRequest(mapping=mapping, index=index, data_seq=data_seq, unlock=f.unlock,
                                             dirty=f.dirty)
        if folio is None:
            req.zero_entry, req.zero_order = True, zero_order
        else:
            req.folio.CopyFrom(common_pb2.Folio(pfn=folio.pfn, order=folio.order, node=folio.node))
            if f.contents is not None:
                req.contents, req.count_alloc = f.contents, True
                req.fallback_orders.extend(f.fallback_orders)
        try:
            resp = await self._peers.stub("pagecache").AddFolio(req)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return None
            if exc.code() == grpc.StatusCode.ABORTED:
                if folio is not None:
                    await self.free_pages(folio)
                raise Aborted(exc.details()) from None
            raise _peer_error("pagecache", "AddFolio", exc) from None
        return Added(resp.unlocked, resp.waiters_woken, resp.zero_pages_replaced)

    async def find_folio(self, mapping: str, index: int) -> Found | None:
        try:
            r = await self._peers.stub("pagecache").FindFolio(page_cache_pb2.FindFolioRequest(mapping=mapping, index=index))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:   # the mapping went (evicted meanwhile): nothing cached
                return None
            raise _peer_error("pagecache", "FindFolio", exc) from None
        return _found(r) if r.found else None

    async def share_folios(self, src: str, src_index: int, dst: str, dst_index: int, nr_pages: int) -> int:
        """PFN entries: the destination caches the source's clean folios too; returns the pages shared."""
        req = page_cache_pb2.ShareFoliosRequest(src_mapping=src, src_index=src_index, dst_mapping=dst,
                                                dst_index=dst_index, nr_pages=nr_pages)
        try:
            return (await self._peers.stub("pagecache").ShareFolios(req)).pages_shared
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "ShareFolios", exc) from None

    async def unshare_folio(self, mapping: str, index: int) -> Found:
        """A private copy of a shared folio for a write (the page cache copies and replaces it)."""
        try:
            r = await self._peers.stub("pagecache").UnshareFolio(page_cache_pb2.UnshareFolioRequest(mapping=mapping, index=index))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "UnshareFolio", exc) from None
        return Found(index=r.folio_index, folio=FolioRef(r.folio.pfn, r.folio.order, r.folio.node))

    async def truncate_range(self, mapping: str, lstart: int, lend: int | None) -> dict:
        req = page_cache_pb2.TruncateRangeRequest(mapping=mapping, lstart=lstart, lend=lend or 0, to_eof=lend is None)
        try:
            r = await self._peers.stub("pagecache").TruncateRange(req)
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "TruncateRange", exc) from None
        return {"folios_removed": r.folios_removed, "pages_freed": r.pages_freed,
                "folios_split": r.folios_split, "bytes_zeroed": r.bytes_zeroed}

    async def tag_folio(self, mapping: str, index: int, tag: int, clear: bool = False) -> None:
        try:
            await self._peers.stub("pagecache").TagFolio(
                page_cache_pb2.TagFolioRequest(mapping=mapping, index=index, tag=tag, clear=clear))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "TagFolio", exc) from None

    async def write_folio(self, mapping: str, offset: int, data: bytes) -> tuple[Found | None, int]:
        """WriteFolio: (what covers ``offset``, the bytes of ``data`` copied into it and marked dirty)."""
        try:
            r = await self._peers.stub("pagecache").WriteFolio(
                page_cache_pb2.WriteFolioRequest(mapping=mapping, offset=offset, data=data))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "WriteFolio", exc) from None
        return (_found(r.entry) if r.entry.found else None), r.written

    async def find_tagged(self, mapping: str, tag: int, start: int, limit: int = 256) -> list[Found]:
        try:
            r = await self._peers.stub("pagecache").FindTagged(
                page_cache_pb2.FindTaggedRequest(mapping=mapping, tag=tag, start=start, limit=limit))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("pagecache", "FindTagged", exc) from None
        return [_found(f) for f in r.folios]

    async def unmap_mapping_range(self, mapping: str, start: int, length: int, even_cows: bool) -> int:
        """unmap_mapping_range through the reverse map; returns the PTEs zapped."""
        try:
            r = await self._peers.stub("rmap").UnmapMappingRange(reverse_map_pb2.UnmapMappingRangeRequest(
                mapping=mapping, start=start, length=length, even_cows=even_cows))
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("rmap", "UnmapMappingRange", exc) from None
        return r.pages_unmapped

    async def folio_mkclean(self, mapping: str, folios: list[Found]) -> int:
        """folio_mkclean for a batch of folios through the reverse map (one hop, one script); returns the
        PTEs write-protected."""
        req = reverse_map_pb2.FolioMkcleanRequest(mapping=mapping, folios=[reverse_map_pb2.MkcleanFolio(
            folio=common_pb2.Folio(pfn=f.folio.pfn, order=f.folio.order, node=f.folio.node), index=f.index)
            for f in folios])  # fmt: skip
        try:
            r = await self._peers.stub("rmap").FolioMkclean(req)
        except grpc.aio.AioRpcError as exc:
            raise _peer_error("rmap", "FolioMkclean", exc) from None
        return sum(r.cleaned)


async def find_all_tagged(ports, mapping: str, tag: int, start: int = 0, end: int | None = None) -> list[Found]:
    """Every folio carrying ``tag`` with index range meeting [start, end) (pages), paging through FindTagged."""
    out: list[Found] = []
    pos, limit = start, 256
    # A folio that starts before `start` but covers it is also wanted: look from the largest folio's start.
    first = max(0, start - (start % 512))
    pos = first
    while True:
        batch = await ports.find_tagged(mapping, tag, pos, limit)
        for f in batch:
            f_end = f.index + (f.folio.nr_pages if f.folio else 1)
            if f_end > start and (end is None or f.index < end):
                out.append(f)
        if len(batch) < limit:
            break
        last = batch[-1]
        pos = last.index + (last.folio.nr_pages if last.folio else 1)
        if end is not None and pos >= end:
            break
    return out
