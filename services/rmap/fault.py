"""The page-fault path: handle_mm_fault -> do_fault -> do_read_fault / do_shared_fault / do_cow_fault
-> finish_fault, and do_wp_page for writes to read-only PTEs (models mm/memory.c; semantics ported, no
code copied).

Per fault, from this service (counted by the RPC interceptor and visible in the trace):

| case                                   | gRPC hops from rmap                  | Redis round trips in rmap |
|----------------------------------------|--------------------------------------|---------------------------|
| PTE present (spurious, minor)          | 0                                    | 1 (FAULT_BEGIN)           |
| read, PTE none, folio cached (minor)   | 0: filemap_map_pages in FAULT_BEGIN  | 1 (FAULT_BEGIN)           |
| same, fault-around off                 | 1 PageCache.Fault                    | 2 (BEGIN + FINISH_FAULT)  |
| PTE none, cache miss (major)           | 1 PageCache.Fault (-> FS -> alloc)   | 2                         |
| shared write, PTE none                 | + 1 PageCache.TagFolio(DIRTY)        | 2                         |
| shared write, PTE read-only, clean     | 1 PageCache.TagFolio(DIRTY)          | 2 (BEGIN + WP_SHARED)     |
| shared write, PTE read-only, dirty     | 0                                    | 2 (BEGIN + WP_SHARED)     |
| private write (COW), PTE none/RO       | + 1 PageAllocator.AllocPages(order 0) | 2                         |
| write, COW page mapped once (reuse)    | 0: wp_page_reuse in FAULT_BEGIN      | 1 (FAULT_BEGIN)           |
| fault fails after the page cache       | 1                                    | 3 (+ ACCOUNT_FAILED)      |

A read fault begins as do_read_fault does, with do_fault_around: FAULT_BEGIN reads the page cache's XArray
in place (filemap_map_pages reads i_pages under RCU, without ->fault) and, when an uptodate folio is cached
at the faulting index, finishes the fault in the same step (VM_FAULT_NOPAGE). A miss, a hole's zero entry,
a write, or fault-around off (fault_around_bytes 4096) goes to ->fault, PageCache.Fault, then FINISH_FAULT.
None of it depends on the folio's order: finish_fault maps a whole large folio in the one FINISH_FAULT
script. Folios whose last reference went with an unmap are handed back with PageAllocator.FreePages
(one hop per freed folio, off the fault path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from mmsim.allocator.vmemmap import node_spans
from mmsim.allocator.zones import Layout
from mmsim.rmap import lua
from mmsim.rmap.mm import PAGE_SHIFT, PAGE_SIZE, Vma, linear_page_index
from mmsim.runtime import keys, tracing
from mmsim.runtime.errors import Aborted
from mmsim.runtime.vmfault import VM_FAULT_ERROR, VmFault
from mmsim.runtime.wire import GFP_HIGHUSER_MOVABLE
from mmsim.v1 import filesystem_pb2, page_allocator_pb2, page_cache_pb2

MAX_RETRIES = 3




@dataclass
class FaultResult:
    vm_fault: VmFault = VmFault(0)
    pfn: int = 0
    folio: tuple[int, int, int] | None = None  # (head pfn, order, node)
    pages_mapped: int = 0
    first_vpn: int = 0
    major: bool = False
    spurious: bool = False
    pinned: bool = False
    zero_page: bool = False
    around_mapped: int = 0      # PTEs filemap_map_pages installed around the fault
    pmd: bool = False           # one PMD maps the whole folio (do_set_pmd)
    message: str = ""
    freed: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.vm_fault & VM_FAULT_ERROR)


def mm_keys(pid: int, names=lua.MM_KEYS) -> dict[str, str]:
    """The process's keys a script names (KEY.mm, KEY.pte, ...), by name."""
    return {n: keys.mm(pid, n) for n in names}


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def decode_pte(text: str) -> dict:
    pfn, head, order, node, bits = (int(x) for x in text.split(":"))
    return {"pfn": pfn, "head": head, "order": order, "node": node, "bits": bits}


def mapped_result(vmf: VmFault, pte: str, major: bool) -> FaultResult:
    """A fault that found the address already mapped (spurious, or another thread's fault won the PTE:
    finish_fault's VM_FAULT_NOPAGE) reports what is mapped there: pfn, folio or the zero page."""
    if not pte:
        return FaultResult(vmf, major=major)
    p = decode_pte(pte)
    zero = bool(p["bits"] & lua.PTE_ZERO)
    return FaultResult(vmf, pfn=p["pfn"], folio=None if zero else (p["head"], p["order"], p["node"]), major=major,
                       zero_page=zero, pmd=bool(p["bits"] & lua.PTE_PMD))  # fmt: skip


def resolve_policy(vma: Vma, proc_limit: str, proc_action: str) -> tuple[int, str]:
    """The mapcount limit and action in force: the process's override, else the mapping's profile."""
    limit = int(proc_limit or 0) or vma.limit
    action = proc_action or vma.action
    return limit, action


def _fault_bound(length: int) -> int:
    """How many faults one access_process_vm of ``length`` bytes may take before it gives up (each page may
    fault twice: read then write, plus the retries of races lost)."""
    return 2 * (length // PAGE_SIZE + 2) + MAX_RETRIES


class FaultHandler:
    def __init__(self, ctx):
        self.ctx = ctx
        self.redis = ctx.redis
        layout = Layout.build(ctx.settings.memory_bytes, ctx.settings.numa_nodes, ctx.settings.movable_bytes)
        self.fault_around_bytes = ctx.settings.fault_around_bytes
        self.chunk_shift = ctx.settings.xa_chunk_shift
        self.spans = node_spans(layout)   # the vmemmap library's vm_spans() argument

    # ---- the fault ----------------------------------------------------------------------------

    async def handle_mm_fault(self, pid: int, address: int, write: bool) -> FaultResult:
        tried = False
        last = FaultResult()
        for _ in range(MAX_RETRIES):
            res = await self._attempt(pid, address, write, tried)
            if res.vm_fault & VmFault.OOM and await self.pagefault_out_of_memory(pid):
                await self.free_folios(res.freed)
                res = await self._attempt(pid, address, write, tried)   # the access is made again
            if not (res.vm_fault & VmFault.RETRY):
                await self.free_folios(res.freed)
                return res
            tried, last = True, res
            await self.free_folios(res.freed)
        # still racing after MAX_RETRIES: report the RETRY the way the arch handler would give up, with
        # whatever another thread's fault mapped at the address meanwhile (one more round trip, only here)
        pte = await self.redis.hget(keys.mm(pid, "pte"), str(address >> PAGE_SHIFT))
        return mapped_result(last.vm_fault, _s(pte), last.major) if pte else last

    async def _attempt(self, pid: int, address: int, write: bool, tried: bool) -> FaultResult:
        r = await lua.FAULT_BEGIN(self.redis, **mm_keys(pid), spans=self.spans, pid=pid, address=address,
                                  write=int(write), fault_around_bytes=self.fault_around_bytes,
                                  chunk_shift=self.chunk_shift)  # fmt: skip
        if r.kind == "ok":   # do_fault_around: filemap_map_pages mapped the cached folio, no ->fault
            tracing.annotate(page_cache="filemap_map_pages")
            return self._finished(r, VmFault.NOPAGE, "file", False)
        await self._gone(r, pid)
        if r.kind == "segv":
            tracing.annotate(segv=r.why)
            return FaultResult(VmFault.SIGSEGV, message=r.why)
        if r.kind == "spurious":
            res = mapped_result(VmFault(0), r.pte, False)
            res.spurious = True
            return res
        if r.kind == "reused":   # wp_page_reuse: the COW page was this PTE's alone
            res = mapped_result(VmFault(0), r.pte, False)
            res.pages_mapped, res.first_vpn = 1, address >> PAGE_SHIFT
            return res
        vma = Vma.from_json(r.vma)
        if r.kind == "wp":
            old = r.pte
            p = decode_pte(old)
            if not (p["bits"] & lua.PTE_ZERO):
                if vma.shared:
                    return await self._wp_shared(pid, vma, address, old, p, r.state)
                return await self._cow(pid, vma, address, (p["head"], p["order"], p["node"]),
                                       linear_page_index(vma, address) - (p["pfn"] - p["head"]), 0, False,
                                       r.limit, r.action, old, VmFault(0))  # fmt: skip
            # a write to the zero page: the page cache must now give a real folio (below), replacing it
            return await self._do_fault(pid, vma, address, write, tried, r.limit, r.action, old, (0, 0))
        return await self._do_fault(pid, vma, address, write, tried, r.limit, r.action, "",
                                    (r.around_first, r.around_pages))

    async def _gone(self, r, pid: int) -> None:
        """The process is gone or killed (lua.live raises); a kill by the mapcount policy in this very step
        first hands back the folios the teardown freed and evicts the orphans it left."""
        if r.kind == "killed":
            await self.free_folios(lua.freed(r.freed))
            await self.evict_inodes(r.evict)
        lua.live(r, pid)

    async def _do_fault(self, pid, vma: Vma, address, write, tried, limit, action, old, window) -> FaultResult:
        """do_fault: __do_fault (PageCache.Fault) then do_read_fault / do_shared_fault / do_cow_fault."""
        index = linear_page_index(vma, address)
        around_start, around_pages = window
        flags = [page_cache_pb2.FAULT_FLAG_USER, page_cache_pb2.FAULT_FLAG_ALLOW_RETRY]
        if write:
            flags.append(page_cache_pb2.FAULT_FLAG_WRITE)
        if tried:
            flags.append(page_cache_pb2.FAULT_FLAG_TRIED)
        resp = await self.ctx.peers.stub("pagecache").Fault(page_cache_pb2.FaultRequest(
            mapping=vma.mapping, index=index, flags=flags, around_start=around_start, around_pages=around_pages))
        vmf = VmFault.from_proto(resp.vm_fault)
        if vmf & VmFault.RETRY:
            return FaultResult(vmf)
        if vmf & VM_FAULT_ERROR:
            node = resp.folio.node if resp.HasField("folio") else 0
            await lua.ACCOUNT_FAILED(self.redis, node=node)
            return FaultResult(vmf, message="page cache fault failed")
        major = bool(vmf & VmFault.MAJOR) or tried
        if not resp.HasField("folio"):
            if write:
                return FaultResult(VmFault.SIGBUS, message="the page cache gave no folio for a write fault")
            return await self._finish(pid, vma, address, "zero", False, (0, 0, 0), index, resp.i_size, major,
                                      limit, action, old, vmf)  # fmt: skip
        folio = (resp.folio.pfn, resp.folio.order, resp.folio.node)
        if write and not vma.shared:
            return await self._cow(pid, vma, address, folio, resp.folio_index, resp.i_size, major, limit, action,
                                   old, vmf)  # fmt: skip
        if write:
            # do_shared_fault -> do_page_mkwrite: the folio is dirtied before its PTE is made writable;
            # FINISH_FAULT installs the writable PTE only if no writeback cleaned the folio meanwhile
            await self._tag_dirty(vma.mapping, index)
        around = ";".join(f"{a.folio.node}:{a.folio.pfn}:{a.folio.order}:{a.folio_index}" for a in resp.around)
        return await self._finish(pid, vma, address, "file", write, folio, resp.folio_index, resp.i_size, major,
                                  limit, action, old, vmf, around=(around, around_start, around_pages))  # fmt: skip

    async def _cow(self, pid, vma, address, folio, folio_index, i_size, major, limit, action, old, vmf) -> FaultResult:
        """do_cow_fault / wp_page_copy: a new order-0 anonymous page, a copy of the file page, mapped privately."""
        try:
            got = await self.ctx.peers.stub("allocator").AllocPages(
                page_allocator_pb2.AllocPagesRequest(order=0, gfp=GFP_HIGHUSER_MOVABLE, node=-1, in_flight_for="anon"))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            # alloc_anon_folio failed even after reclaim and the OOM killer: do_cow_fault's VM_FAULT_OOM
            await lua.ACCOUNT_FAILED(self.redis, [], [0])
            return FaultResult(VmFault.OOM, message=exc.details() or "")
        anon = (got.folio.pfn, got.folio.node)   # in flight (the ledger) until FINISH_FAULT installs it
        res = await self._finish(pid, vma, address, "cow", False, folio, folio_index, i_size, major, limit, action,
                                 old, vmf, anon=anon)  # fmt: skip
        if not res.pages_mapped:
            res.freed.append((anon[1], anon[0], 0))  # the copy was not used: give it back
        return res

    async def _wp_shared(self, pid, vma, address, old, p, state: str) -> FaultResult:
        """wp_page_shared: do_page_mkwrite dirties the folio (folio_mark_dirty), then the PTE is made
        writable and dirty (wp_page_reuse) in a step that checks the folio is still dirty, as the folio
        lock guarantees in the kernel: a folio a writeback cleaned in between makes the fault retry.
        An already dirty folio (FAULT_BEGIN looked) costs no page-cache hop. A folio shared with other
        files through PFN entries is first copied for this file by the page cache, which zaps our PTE:
        the fault is then retried and maps the copy."""
        index = linear_page_index(vma, address)
        if state == "clean":
            await self._tag_dirty(vma.mapping, index)
        r = lua.live(await lua.WP_SHARED(self.redis, **mm_keys(pid, ("mm", "pte")), spans=self.spans,
                                         vpn=address >> PAGE_SHIFT, expected=old), pid)  # fmt: skip
        if r.kind == "shared":
            await self.ctx.peers.stub("pagecache").UnshareFolio(
                page_cache_pb2.UnshareFolioRequest(mapping=vma.mapping, index=index))
            return FaultResult(VmFault.RETRY)
        if r.kind in ("retry", "clean"):
            return FaultResult(VmFault.RETRY)
        return FaultResult(VmFault(0), pfn=p["pfn"], folio=(p["head"], p["order"], p["node"]), pages_mapped=1,
                           first_vpn=address >> PAGE_SHIFT)  # fmt: skip

    async def _tag_dirty(self, mapping: str, index: int) -> None:
        """folio_mark_dirty through the page cache. A folio truncated away meanwhile (NOT_FOUND) is left to
        the PTE step, which sees it is gone or clean and has the fault retried."""
        try:
            await self.ctx.peers.stub("pagecache").TagFolio(
                page_cache_pb2.TagFolioRequest(mapping=mapping, index=index, tag=page_cache_pb2.PAGECACHE_TAG_DIRTY))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            tracing.annotate(dirty_tag="the folio left the page cache")

    async def _finish(self, pid, vma: Vma, address, kind, write_shared, folio, folio_index, i_size, major, limit,
                      action, old, vmf, anon=(0, 0), around=("", 0, 0)) -> FaultResult:  # fmt: skip
        head, order, node = folio
        r = await lua.FINISH_FAULT(
            self.redis, **mm_keys(pid), spans=self.spans, pid=pid, vma=vma.to_json(), address=address, kind=kind,
            write_shared=int(write_shared), node=node, head=head, order=order, folio_index=folio_index, i_size=i_size,
            major=int(major), limit=limit, action=action, anon_node=anon[1], anon_pfn=anon[0], old_pte=old,
            around=around[0], around_first=around[1], around_pages=around[2], trace=tracing.current_ids()[0])
        if r.kind == "ok":
            return self._finished(r, vmf, kind, major)
        if r.kind == "retry":
            tracing.annotate(retry=r.why)
            return FaultResult(vmf | VmFault.RETRY, message=r.why)
        if r.kind == "sigbus":
            return FaultResult(VmFault.SIGBUS, message=r.why)
        if r.kind == "nopage":
            return mapped_result(vmf | VmFault.NOPAGE, r.pte, major)
        if r.kind == "lost":   # the recovery pass gave the COW page back meanwhile: it is not ours to free
            raise Aborted(f"copy-on-write fault of pid {pid}: {r.why}; retry the access")
        await self._gone(r, pid)
        raise AssertionError(f"FINISH_FAULT reply {r.kind!r} not handled")

    @staticmethod
    def _finished(r, vmf: VmFault, kind: str, major: bool) -> FaultResult:
        """finish_fault's 'ok' (either fault script): what was mapped, the folios to free."""
        tracing.annotate(pages_mapped=r.nr, fault_around_mapped=r.around_mapped, fault_kind=kind, pmd=bool(r.pmd))
        return FaultResult(vmf, pfn=r.pfn, folio=None if kind == "zero" else (r.head, r.order, r.node),
                           pages_mapped=r.nr, first_vpn=r.first_vpn, major=major, pinned=bool(r.pinned),
                           zero_page=kind == "zero", freed=lua.freed(r.freed), around_mapped=r.around_mapped,
                           pmd=bool(r.pmd))

    async def pagefault_out_of_memory(self, pid: int) -> bool:
        """VM_FAULT_OOM reached the fault handler (an allocation failed, e.g. under the filesystem's NOFS scope,
        where the allocator's slow path may not kill): the global OOM killer runs (PageAllocator.OutOfMemory).
        True when a process other than the faulting one was killed (the access is worth making again)."""
        r = await self.ctx.peers.stub("allocator").OutOfMemory(page_allocator_pb2.OutOfMemoryRequest())
        tracing.annotate(pagefault_out_of_memory=r.message or "no victim")
        return r.killed and r.pid != pid

    async def free_folios(self, freed: list[tuple[int, int, int]]) -> None:
        """Give folios whose _refcount reached 0 back to the buddy allocator (__free_pages)."""
        for node, head, order in freed:
            await self.ctx.peers.stub("allocator").FreePages(page_allocator_pb2.FreePagesRequest(pfn=head, order=order))

    async def evict_inodes(self, names: str) -> None:
        """iput_final for the orphans whose last mapping an unmap script just removed: the filesystem frees
        their page cache and blocks (FilesystemService.EvictInode, one hop each, off the fault path)."""
        for mapping in names.split():
            await self.ctx.peers.stub("filesystem").EvictInode(filesystem_pb2.EvictInodeRequest(mapping=mapping))

    # ---- access_process_vm ----------------------------------------------------------------------

    async def read_memory(self, pid: int, address: int, length: int) -> tuple[bytes, VmFault, int]:
        k = mm_keys(pid, ("mm", "pte", "pmd"))
        data, addr, stop, faults = b"", address, address + length, 0
        while addr < stop:
            r = lua.live(await lua.READ_MEM(self.redis, **k, address=addr, length=stop - addr), pid)
            data += r.data
            addr += len(r.data)
            if not r.missing:
                break
            vpn = int(r.missing)
            res = await self.handle_mm_fault(pid, max(addr, vpn << PAGE_SHIFT), False)
            faults += 1
            # get_user_pages: an error ends the access; VM_FAULT_RETRY (a race lost, e.g. with reclaim) is
            # made again, within a bound
            if not res.ok or (res.vm_fault & VmFault.RETRY and faults > _fault_bound(length)):
                return data, res.vm_fault, faults
        return data, VmFault(0), faults

    async def write_memory(self, pid: int, address: int, data: bytes) -> tuple[int, VmFault, int]:
        k = mm_keys(pid, ("mm", "pte", "pmd"))
        faults, limit = 0, len(data)
        while True:
            r = lua.live(await lua.WRITE_MEM(self.redis, **k, address=address, data=data[:limit]), pid)
            if r.kind == "ok":
                return limit, VmFault(0), faults
            vpn = r.vpn
            res = await self.handle_mm_fault(pid, max(address, vpn << PAGE_SHIFT), True)
            faults += 1
            if not res.ok or (res.vm_fault & VmFault.RETRY and faults > _fault_bound(len(data))):
                # store what lies before the failing page, then report the failure
                limit = max(0, (vpn << PAGE_SHIFT) - address)
                if limit:
                    r = await lua.WRITE_MEM(self.redis, **k, address=address, data=data[:limit])
                    if r.kind != "ok":
                        limit = 0
                return limit, res.vm_fault, faults
            if faults > _fault_bound(len(data)):
                return 0, VmFault.RETRY, faults
