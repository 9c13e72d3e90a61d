"""The Python client: drive a running mmsim cluster over gRPC, in the kernel's vocabulary.

    from mmsim.client import Cluster
    with Cluster.connect() as mm:
        mm.reset()                                   # an empty machine (memmap and zones re-initialised)
        fs = mm.mkfs("xfs0", block_size=16384)
        f = fs.create("/data/a")
        f.write(0, b"hello" * 1000)
        f.fsync(); mm.drop_caches(1)                 # echo 1 > drop_caches: the next fault is a major fault
        proc = mm.spawn("reader")
        vma = proc.mmap(f, length=1 << 20, prot="r", shared=True)
        r = proc.fault(vma.start + 4096)             # FaultResult: vm_fault, pfn, folio, major/minor/spurious/...
        print(mm.trace(r.trace_id))                  # the span tree across services
        page = mm.allocator.alloc_pages(2, "GFP_KERNEL|__GFP_NOWARN")
        mm.allocator.free_pages(page.folio)
        a = mm.kvmalloc_struct(64, 8, 1 << 20, "GFP_KERNEL"); mm.kvfree(a.addr)

Every RPC has a method: ``mm.allocator``, ``mm.pagecache`` and ``mm.rmap`` wrap a service each (the
allocation calls are also on the cluster: ``mm.kvmalloc_struct``, ``mm.malloc``...); the FilesystemService and
per-process calls are on the handles :class:`Filesystem`, :class:`File` and :class:`Process`
(``mm.filesystem("xfs0")``, ``mm.file("xfs0/1")``, ``mm.process(1)`` reopen existing ones); traces are
``mm.trace(id)``, ``mm.traces()``, ``mm.last_trace()``; ``mm.reset()`` empties the machine. Results are
dataclasses with ``to_dict()`` (numbers as numbers); errors are :mod:`mmsim.errors` classes (``NotFound``,
``InvalidArgument``, ...). gfp masks are given as the kernel writes them ("GFP_KERNEL|__GFP_NOWARN", or an
int) and come back as text ("GFP_KERNEL|__GFP_NOWARN").

Every call starts a new W3C trace (a ``traceparent`` in the gRPC metadata); the id is kept on fault results
(``trace_id``) and in ``Cluster.last_trace_id``. Inspection calls (the RPCs marked NO_SIDE_EFFECTS in the
protos: GetPage, stats, /proc files, dumps, traces) are not traced unless ``Cluster(trace_inspection=True)``.
Every mutating call carries a request id (gRPC metadata ``mmsim-request-id``) so that the channel's retry
of UNAVAILABLE (grpc's service-config retry policy) is recognised by the service as the same request.
``Cluster.call`` is the raw escape hatch: a request message in, the response message out, grpc.RpcError.
"""

from __future__ import annotations

import base64
import enum
import time
import uuid
from dataclasses import dataclass, field, fields, is_dataclass
from typing import ClassVar

import grpc

from mmsim import errors
from mmsim.allocator.gfp import format_gfp, parse_gfp
from mmsim.runtime import channels, config, methods
from mmsim.runtime import errors as server_errors
from mmsim.runtime.vmfault import VM_FAULT_ERROR, VmFault
from mmsim.runtime.wire import gfp_from_proto, gfp_to_proto, indexing_from_proto, indexing_to_proto
from mmsim.traceview import TraceTree
from mmsim.v1 import (
    check_pb2,
    common_pb2,
    filesystem_pb2 as fs_pb,
    page_allocator_pb2 as pa_pb,
    page_cache_pb2 as pc_pb,
    reverse_map_pb2 as rm_pb,
    trace_pb2,
)

PAGE_SIZE = 4096
REQUEST_ID_KEY = "mmsim-request-id"
_PROT = {"r": rm_pb.PROT_READ, "w": rm_pb.PROT_WRITE, "x": rm_pb.PROT_EXEC}

# grpc's own retry (gRFC A6): UNAVAILABLE is retried with backoff by the channel, with the same metadata (so
# the same mmsim-request-id); nothing else is retried. A restarted service is reachable again within a second.
CHANNEL_OPTIONS = [*channels.CHANNEL_OPTIONS, ("grpc.enable_retries", 1)]


def new_traceparent(sampled: bool = True) -> tuple[str, str]:
    """(trace_id, traceparent header) for a fresh W3C trace (sampled: the services record its spans)."""
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return trace_id, f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def gfp_mask(gfp: int | str) -> common_pb2.GfpMask:
    """A gfp given as the kernel writes it ("GFP_KERNEL|__GFP_NOWARN", "0xcc0", an int) on the wire."""
    try:
        return gfp_to_proto(parse_gfp(gfp))
    except (server_errors.MMError, ValueError) as exc:
        raise errors.InvalidArgument(str(getattr(exc, "message", exc))) from None


def _indexing(mode: str) -> int:
    try:
        return indexing_to_proto(mode)
    except ValueError:
        raise errors.InvalidArgument(f"indexing must be multi-order, order-0 or hugetlb, got {mode!r}") from None


def _mapping(target: "File | str") -> str:
    return target.mapping if isinstance(target, File) else target


# ---- results ---------------------------------------------------------------------------------------------


def _plain(value):
    """JSON-ready form: dataclasses to dicts, VmFault to kernel names, bytes to base64 (as protobuf's JSON)."""
    if is_dataclass(value):
        return value.to_dict()
    if isinstance(value, VmFault):
        return value.names()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Result:
    """Base of every result: ``to_dict()`` gives plain JSON types; ``from_pb`` fills the fields from the
    response fields of the same names (Folio -> :class:`Folio`, GfpMask -> kernel text, VmFault -> flags)."""

    NESTED: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_pb(cls, msg, **extra):
        kw = {f.name: _field(msg, f.name, cls.NESTED.get(f.name)) for f in fields(cls) if f.name not in extra}  # type: ignore[arg-type]
        return cls(**kw, **extra)


def _field(msg, name: str, nested: type | None):
    fd = msg.DESCRIPTOR.fields_by_name[name]
    value = getattr(msg, name)
    if fd.message_type is not None:
        if fd.message_type.GetOptions().map_entry:
            return dict(value)
        kind = nested or {"Folio": Folio}.get(fd.message_type.name)
        if fd.message_type.name == "GfpMask":
            return format_gfp(gfp_from_proto(value)) if msg.HasField(name) else ""
        if fd.is_repeated:
            return [kind.from_pb(v) for v in value]
        return kind.from_pb(value) if msg.HasField(name) else None
    if fd.enum_type is not None:
        if fd.enum_type.name == "VmFault":
            return VmFault.from_proto(value)
        if fd.enum_type.name == "Indexing":
            return indexing_from_proto(value)
        names = [fd.enum_type.values_by_number[v].name for v in (value if fd.is_repeated else [value]) if v]
        return names if fd.is_repeated else (names[0] if names else "")
    return list(value) if fd.is_repeated else value


@dataclass(frozen=True)
class Folio(Result):
    pfn: int                    # head page frame number
    order: int                  # log2 pages (0 = 4 KiB, 9 = 2 MiB)
    node: int = 0               # NUMA node

    @property
    def nr_pages(self) -> int:
        return 1 << self.order

    def to_proto(self) -> common_pb2.Folio:
        return common_pb2.Folio(pfn=self.pfn, order=self.order, node=self.node)


@dataclass(frozen=True)
class PageAllocation(Result):
    """alloc_pages: the block and the gfp actually used (after the memalloc scopes)."""
    folio: Folio
    effective_gfp: str


@dataclass(frozen=True)
class KvAllocation(Result):
    """kmalloc / vmalloc / kvmalloc* / malloc: what was allocated and how."""
    addr: int                   # the address returned
    size: int                   # bytes asked for
    kind: str                   # "kmalloc", "vmalloc" or "zero" (ZERO_SIZE_PTR)
    node: int
    pfns: list[int]             # backing pages (one head pfn for kmalloc, every page for vmalloc)
    order: int                  # order of the kmalloc block
    gfp: str                    # the caller's gfp
    kmalloc_gfp: str            # gfp of kvmalloc's contiguous attempt ("" when none was made)
    fallback_reason: str        # why kvmalloc fell back to vmalloc ("" when it did not)
    steps: list[str]            # what was tried, in order


@dataclass(frozen=True)
class PageInfo(Result):
    """The decoded struct page of one pfn (GetPage)."""
    pfn: int
    node: int
    zone: str
    flags: list[str]            # PG_* names that are set
    page_type: str              # e.g. "buddy"
    union_member: str
    mapping: str
    index: int
    private: int
    compound_head: int
    order: int
    mapcount: int               # the raw _mapcount (-1 = unmapped; see ``mapped``)
    refcount: int
    memcg: int
    owner_words: list[int]
    text: str = ""              # as page-types/drgn print it

    @classmethod
    def from_response(cls, resp: pa_pb.GetPageResponse) -> "PageInfo":
        return cls.from_pb(resp.page, text=resp.text)

    @property
    def pg_flags(self) -> list[str]:
        """The flags by their kernel names (PG_uptodate, PG_lru, ...; mmsim's own marks stay as they are)."""
        return [f if "(" in f else f"PG_{f}" for f in self.flags]

    @property
    def mapped(self) -> int:
        """How many page tables map the page: page_mapcount() = _mapcount + 1; 0 when a page_type (buddy,
        ...) is stored in _mapcount instead."""
        return 0 if self.page_type else max(self.mapcount + 1, 0)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "pg_flags": self.pg_flags, "mapped": self.mapped}


@dataclass(frozen=True)
class ResetResult(Result):
    keys_deleted: int           # Redis keys removed
    nodes: int                  # NUMA nodes initialised again
    free_pages: int             # pages free afterwards


@dataclass(frozen=True)
class FragmentResult(Result):
    pinned: int                 # pages held by the fragmenter
    freed: int                  # pages left free, scattered
    zones: list[str]


@dataclass(frozen=True)
class ZoneWatermarks(Result):
    """One zone of /proc/zoneinfo: free pages against its watermarks (units: pages)."""
    node: int
    zone: str
    free: int
    min: int
    low: int                    # kswapd wakes below it
    high: int                   # kswapd sleeps again above it
    managed: int


@dataclass(frozen=True)
class ZoneInfo(Result):
    """/proc/zoneinfo: the text and every populated zone."""
    text: str
    zones: list[ZoneWatermarks]
    NESTED: ClassVar[dict[str, type]] = {"zones": ZoneWatermarks}

    @property
    def managed_pages(self) -> int:
        return sum(z.managed for z in self.zones)


@dataclass(frozen=True)
class CachedFolio(Result):
    """A page-cache entry (FindFolio): a folio, or a zero entry for a hole; ``found`` False when nothing
    caches the index (the mapping exists: a missing one is NotFound)."""
    folio: Folio | None         # None for a zero entry (or when nothing was found)
    folio_index: int            # file index of its first page
    zero_entry: bool            # a hole: reads as zeros, no page
    tags: list[str]             # PAGECACHE_TAG_* set on the folio
    shared: bool                # shared with other mappings through PFN entries
    found: bool = True          # something covers the index: a folio or a zero entry


@dataclass(frozen=True)
class FolioWrite(Result):
    """WriteFolio: what covers the offset and how many bytes went into it (0 for a zero entry, a shared
    folio or nothing: the writer makes a folio first)."""
    entry: CachedFolio
    written: int                # bytes copied into the folio, now PAGECACHE_TAG_DIRTY
    NESTED: ClassVar[dict[str, type]] = {"entry": CachedFolio}


@dataclass(frozen=True)
class PageCacheFault(Result):
    """filemap_fault: the vm_fault result and the folio covering index."""
    vm_fault: VmFault
    folio: Folio | None
    folio_index: int
    i_size: int
    around: list[CachedFolio]
    NESTED: ClassVar[dict[str, type]] = {"around": CachedFolio}


@dataclass(frozen=True)
class TruncateRangeResult(Result):
    folios_removed: int
    pages_freed: int
    folios_split: int
    bytes_zeroed: int


@dataclass(frozen=True)
class ThpSizeStats(Result):
    """One /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats directory (file folios)."""
    size_kb: int                # 4 << order
    order: int
    path: str
    file_alloc: int
    file_fallback: int
    split: int
    split_failed: int


@dataclass(frozen=True)
class ThpStats(Result):
    """The large-folio counters per size, and the THP events of /proc/vmstat."""
    sizes: list[ThpSizeStats]
    vmstat: dict[str, int]
    NESTED: ClassVar[dict[str, type]] = {"sizes": ThpSizeStats}

    @property
    def per_size(self) -> dict[int, ThpSizeStats]:
        """{size in KiB: its counters}."""
        return {s.size_kb: s for s in self.sizes}


@dataclass(frozen=True)
class InvalidateResult(Result):
    folios_removed: int         # clean, unmapped folios dropped
    folios_busy: int            # kept: dirty, under writeback, mapped
    pages_freed: int


@dataclass(frozen=True)
class DropCachesResult(Result):
    """echo MODE > /proc/sys/vm/drop_caches."""
    mappings_scanned: int       # inodes with cached pages that were invalidated
    folios_removed: int         # clean, unmapped folios dropped
    folios_busy: int            # kept: dirty, under writeback, mapped
    pages_freed: int
    slab_objects_freed: int     # always 0: mmsim models no slab caches
    drop_pagecache: int         # /proc/vmstat counters after this write
    drop_slab: int


@dataclass(frozen=True)
class PageoutResult(Result):
    """FilesystemService.Pageout: reclaim's writeback of chosen folios (pageout / writepage)."""
    folios_written: int         # written back and clean now (units: folios)
    blocks_written: int         # filesystem blocks written (units: blocks)


@dataclass(frozen=True)
class OomResult(Result):
    """pagefault_out_of_memory: the OOM killer's verdict (``killed`` False when reclaim is off or no process
    can be chosen)."""
    killed: bool
    pid: int
    message: str                # the kernel's "Out of memory: Killed process ..." line
    pages_freed: int


@dataclass(frozen=True)
class LruLists(Result):
    """The LRU lists of every node together (/proc/vmstat nr_inactive_anon ... nr_unevictable; units: pages) and
    which of them reclaim scans."""
    inactive_anon: int
    active_anon: int
    inactive_file: int
    active_file: int
    unevictable: int
    scan_balance: str           # get_scan_count's choice: SCAN_FILE, as there is no swap (anon pages stay)

    LISTS: ClassVar[tuple[str, ...]] = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")


@dataclass(frozen=True)
class ShareResult(Result):
    folios_shared: int
    pages_shared: int
    folios_skipped: int


@dataclass(frozen=True)
class UnshareResult(Result):
    folio: Folio | None
    folio_index: int
    copied: bool


@dataclass(frozen=True)
class XaStats(Result):
    mapping: str
    indexing: str               # multi-order, order-0 or hugetlb
    chunk_shift: int
    entries: int
    folio_entries: int
    zero_entries: int
    nodes: int
    height: int
    redis_bytes: int
    nrpages: int
    zero_pages: int
    tagged: list[str]           # PAGECACHE_TAG_* set on some folio (mapping_tagged: xa_marked)


@dataclass(frozen=True)
class XaSlot(Result):
    """One occupied slot of an xa_node (or the head): kind is node, folio, sibling, value, zero (a hole) or
    reserved (XA_ZERO_ENTRY); marks are DIRTY, WRITEBACK, TOWRITE."""
    offset: int
    index: int                  # first file index it covers (pages)
    kind: str
    folio: Folio | None
    order: int                  # order of the entry (log2 pages)
    value: int
    sibling_of: int             # canonical slot, for a sibling
    marks: list[str]

    @classmethod
    def from_pb(cls, msg, **extra):
        return cls(msg.offset, msg.index, pc_pb.XaEntryKind.Name(msg.kind).removeprefix("XA_ENTRY_KIND_").lower(),
                   Folio.from_pb(msg.folio) if msg.HasField("folio") else None, msg.order, msg.value,
                   msg.sibling_of, [pc_pb.PagecacheTag.Name(m).removeprefix("PAGECACHE_TAG_") for m in msg.marks])


@dataclass(frozen=True)
class XaNode(Result):
    """One xa_node: its shift, first index, slot in the parent, count, nr_values and occupied slots."""
    shift: int
    index: int
    offset: int
    count: int
    nr_values: int
    slots: list[XaSlot]
    NESTED: ClassVar[dict[str, type]] = {"slots": XaSlot}


@dataclass(frozen=True)
class XaTree(Result):
    """A mapping's XArray as data (XaTree): the head, the nodes of the first ``levels_shown`` of ``levels``
    levels (parents first), the marks set anywhere."""
    mapping: str
    chunk_shift: int
    head: XaSlot | None         # None: the array is empty
    root_shift: int
    total_nodes: int
    nodes: list[XaNode]
    levels: int
    levels_shown: int
    marks: list[str]
    NESTED: ClassVar[dict[str, type]] = {"head": XaSlot, "nodes": XaNode}

    @classmethod
    def from_pb(cls, msg, **extra):
        return super().from_pb(msg, marks=[pc_pb.PagecacheTag.Name(m).removeprefix("PAGECACHE_TAG_")
                                           for m in msg.marks])


@dataclass(frozen=True)
class FsInfo(Result):
    """A filesystem's superblock as mkfs made it."""
    name: str
    block_size: int             # bytes
    profile: str
    min_folio_order: int
    max_folio_order: int
    populate_policy: str
    indexing: str               # default indexing of its files: multi-order, order-0 or hugetlb
    alloc_context: str          # scope, gfp_nofs or none
    blocks_used: int            # allocated blocks


@dataclass(frozen=True)
class Stat(Result):
    """stat(2) of a file."""
    mapping: str
    path: str
    i_size: int                 # bytes
    blocks: int                 # allocated blocks
    block_size: int             # bytes
    nrpages: int                # pages in the page cache
    nlink: int
    profile: str
    min_folio_order: int
    shared_blocks: int          # blocks shared with another file (reflink)
    indexing: str               # multi-order, order-0 or hugetlb
    orphan: bool = False        # unlinked (nlink 0), kept alive by its mappings until the last unmap
    fs_orphans: int = 0         # orphan inodes of its filesystem


@dataclass(frozen=True)
class WriteResult(Result):
    written: int
    i_size: int


@dataclass(frozen=True)
class PopulateAttempt(Result):
    order: int
    ok: bool
    reason: str


@dataclass(frozen=True)
class PopulateResult(Result):
    folio: Folio | None
    folio_index: int
    attempts: list[PopulateAttempt]
    raced: bool
    vm_fault: VmFault
    zero_entry: bool
    zero_order: int
    policy: str
    memalloc_scope: str
    ra_order: int
    NESTED: ClassVar[dict[str, type]] = {"attempts": PopulateAttempt}


@dataclass(frozen=True)
class EvictResult(Result):
    """iput_final -> evict of an orphan (EvictInode)."""
    evicted: bool               # freed by this call (False: gone already, still linked or still mapped)
    blocks_freed: int
    pages_freed: int


@dataclass(frozen=True)
class MkcleanResult(Result):
    """folio_mkclean over a batch of one file's folios."""
    cleaned: list[int]          # per folio: PTEs write-protected and cleaned
    pte_dirty: list[bool]       # per folio: a PTE had its dirty bit set
    vmas: int                   # shared VMAs walked


@dataclass(frozen=True)
class ReleaseResult(Result):
    """release_pages: folios given back to the buddy lists in one call."""
    folios_freed: int
    pages_freed: int


@dataclass(frozen=True)
class UnlinkResult(Result):
    mapping: str
    orphaned: bool              # still mapped: the inode lives on with nlink 0
    blocks_freed: int


@dataclass(frozen=True)
class TruncateResult(Result):
    old_size: int
    i_size: int
    blocks_freed: int
    blocks_zeroed: int
    folios_removed: int
    folios_split: int
    bytes_zeroed: int
    ptes_unmapped: int


@dataclass(frozen=True)
class PunchHoleResult(Result):
    blocks_freed: int
    blocks_zeroed: int
    folios_removed: int
    folios_split: int
    bytes_zeroed: int
    ptes_unmapped: int


@dataclass(frozen=True)
class FsyncResult(Result):
    folios_written: int
    blocks_written: int
    blocks_cowed: int
    blocks_allocated: int


@dataclass(frozen=True)
class ReflinkResult(Result):
    blocks_shared: int
    i_size: int
    blocks_freed: int
    pages_shared: int


@dataclass(frozen=True)
class UnmapResult(Result):
    """munmap / unmap_mapping_range / exit_mmap."""
    pages_unmapped: int
    vmas: int = 0
    folios_freed: int = 0


@dataclass(frozen=True)
class MemoryAccess(Result):
    """access_process_vm through the page tables (ReadMemory / WriteMemory)."""
    data: bytes                 # bytes read (empty for a write)
    written: int                # bytes stored (0 for a read)
    vm_fault: VmFault           # the first fault that failed, if any
    faults: int                 # faults taken

    @property
    def ok(self) -> bool:
        return not (self.vm_fault & VM_FAULT_ERROR)


@dataclass(frozen=True)
class ProcStatus(Result):
    """/proc/PID/status and the fault counters of /proc/PID/stat."""
    pid: int
    comm: str
    state: str                  # "running" or "killed"
    killed_reason: str
    min_flt: int
    maj_flt: int
    rss_file: int               # pages
    rss_anon: int               # pages
    map_count: int
    max_map_count: int
    mapcount_limit: int
    mapcount_action: str
    nr_tasks: int = 1           # processes in this run (Spawn count)
    pins: int = 0               # get_user_pages references held


@dataclass(frozen=True)
class SmapsVma(Result):
    """One VMA of /proc/PID/smaps (fs/proc/task_mmu.c show_smap: the lines mmsim keeps)."""
    start: int
    end: int
    header: str                 # the /proc/PID/maps line
    size_kb: int
    rss_kb: int                 # pages mapped by PTEs and PMDs
    file_pmd_mapped_kb: int     # FilePmdMapped: file THPs mapped by PMDs
    pmds: int                   # PMD entries in the VMA


@dataclass(frozen=True)
class Smaps(Result):
    NESTED: ClassVar[dict[str, type]] = {"vmas": SmapsVma}

    vmas: list[SmapsVma]
    text: str                   # the file's content


@dataclass(frozen=True)
class FolioMapcount(Result):
    folio_mapcount: int         # PTEs mapping any page of the folio + PMDs mapping it (folio_mapcount())
    page_mapcount_raw: int      # the page's raw _mapcount (-1 = unmapped)
    refcount: int
    pinned: bool
    folio: Folio | None
    per_process: dict[int, int]  # pid -> PTEs and PMDs of that process mapping this page
    entire_mapcount: int = 0    # folio_entire_mapcount(): PMDs mapping the whole folio
    page_mapcount: int = 0      # page_mapcount(): _mapcount + 1 + entire_mapcount


@dataclass(frozen=True)
class EchoResult(Result):
    payload: bytes
    hops: int


@dataclass(frozen=True)
class Violation:
    """One broken invariant from ``Cluster.check()``: the rule, the service that found it, the pfn or key."""

    rule: str
    service: str
    pfn: int
    key: str
    message: str

    def to_dict(self) -> dict:
        return {"rule": self.rule, "service": self.service, "pfn": self.pfn, "key": self.key, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    violations: list[Violation]
    owners: dict[str, int]       # pages per owner kind (buddy, page_cache, anon, vmalloc, in_flight, caller)
    checked: dict[str, int]      # objects examined per kind
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {"violations": [v.to_dict() for v in self.violations], "owners": self.owners,
                "checked": self.checked, "truncated": self.truncated}


@dataclass(frozen=True)
class FaultResult(Result):
    """handle_mm_fault's answer. ``outcome`` names what happened in one word."""
    vm_fault: VmFault           # handle_mm_fault's result
    pfn: int                    # pfn mapped at the address (0 when nothing was mapped, or the zero page)
    folio_pfn: int              # head pfn of the folio
    folio_order: int            # order of the folio (0 = 4 KiB)
    pages_mapped: int           # PTEs this fault installed for the faulting folio
    pages_mapped_around: int    # PTEs fault-around installed for cached neighbours (filemap_map_pages)
    major: bool                 # counted in pgmajfault
    spurious: bool              # PTE was already present
    trace_id: str               # W3C trace id of this fault
    pinned: bool = False        # the mapcount leak policy pinned the folio
    zero_page: bool = False     # a hole mapped read-only to the shared zero page
    folio_node: int = 0
    pmd: bool = False           # one PMD entry maps the whole PMD-order folio (do_set_pmd)

    @property
    def ok(self) -> bool:
        return not (self.vm_fault & VM_FAULT_ERROR)

    @property
    def outcome(self) -> str:
        """"sigsegv", "sigbus", "oom", "error", "spurious", "zero-page", "pinned", "major" or "minor"."""
        for bit, word in ((VmFault.SIGSEGV, "sigsegv"), (VmFault.SIGBUS, "sigbus"), (VmFault.OOM, "oom")):
            if self.vm_fault & bit:
                return word
        if not self.ok:
            return "error"
        if self.spurious:
            return "spurious"
        if self.zero_page:
            return "zero-page"
        if self.pinned:
            return "pinned"
        return "major" if self.major else "minor"

    def to_dict(self) -> dict:
        return {**super().to_dict(), "outcome": self.outcome, "ok": self.ok}

    @classmethod
    def from_response(cls, resp: rm_pb.HandleFaultResponse, trace_id: str) -> "FaultResult":
        return cls(vm_fault=VmFault.from_proto(resp.vm_fault), pfn=resp.pfn, folio_pfn=resp.folio.pfn,
                   folio_order=resp.folio.order, pages_mapped=resp.pages_mapped,
                   pages_mapped_around=resp.pages_mapped_around, major=resp.major, spurious=resp.spurious,
                   trace_id=resp.trace_id or trace_id, pinned=resp.pinned, zero_page=resp.zero_page,
                   folio_node=resp.folio.node, pmd=resp.pmd)


# ---- object handles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vma:
    start: int                  # vm_start (bytes)
    end: int                    # vm_end (bytes, exclusive)
    file: "File"

    @property
    def length(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "mapping": self.file.mapping}


@dataclass
class File:
    """A regular file, named by its address_space id ``FS/INO`` (``mm.file("xfs0/1")`` reopens one)."""

    cluster: "Cluster"
    fs: "Filesystem"
    path: str
    mapping: str                # "FS/INO"

    def write(self, offset: int, data: bytes) -> int:
        """write(2): bytes written (``write_result`` also gives the new i_size)."""
        return self.write_result(offset, data).written

    def write_result(self, offset: int, data: bytes) -> WriteResult:
        return WriteResult.from_pb(self.cluster.fs_call("Write", fs_pb.WriteRequest(mapping=self.mapping, offset=offset, data=data)))

    def read(self, offset: int, length: int) -> bytes:
        return self.cluster.fs_call("Read", fs_pb.ReadRequest(mapping=self.mapping, offset=offset, length=length)).data

    def stat(self) -> Stat:
        return Stat.from_pb(self.cluster.fs_call("Stat", fs_pb.StatRequest(mapping=self.mapping)))

    def fsync(self) -> FsyncResult:
        return FsyncResult.from_pb(self.cluster.fs_call("Fsync", fs_pb.FsyncRequest(mapping=self.mapping)))

    def truncate(self, size: int) -> TruncateResult:
        return TruncateResult.from_pb(self.cluster.fs_call("Truncate", fs_pb.TruncateRequest(mapping=self.mapping, size=size)))

    def pageout(self, indices: list[int], gfp: int | str = "GFP_KERNEL") -> PageoutResult:
        """Reclaim's pageout of the dirty folios starting at ``indices`` (pages), under the reclaiming
        allocation's ``gfp``: refused when the call chain holds this file's inode lock (lockdep: recursive)."""
        return PageoutResult.from_pb(self.cluster.fs_call("Pageout", fs_pb.PageoutRequest(
            mapping=self.mapping, indices=indices, gfp=gfp_mask(gfp))))

    def punch_hole(self, offset: int, length: int) -> PunchHoleResult:
        """fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)."""
        return PunchHoleResult.from_pb(self.cluster.fs_call(
            "PunchHole", fs_pb.PunchHoleRequest(mapping=self.mapping, offset=offset, length=length)))

    def unlink(self) -> UnlinkResult:
        """unlink(2) of this file (by its mapping); a file still mapped lives on with nlink 0."""
        return UnlinkResult.from_pb(self.cluster.fs_call("Unlink", fs_pb.UnlinkRequest(mapping=self.mapping)))

    def reflink(self, dst: "File", src_offset: int = 0, dst_offset: int = 0, length: int = 0,
                share_folios: bool = False) -> ReflinkResult:
        """FICLONERANGE: ``dst`` shares this file's blocks; with share_folios (profiles with PFN entries)
        its page cache also shares this file's clean folios instead of reading its own copies."""
        return ReflinkResult.from_pb(self.cluster.fs_call("Reflink", fs_pb.ReflinkRequest(
            src_mapping=self.mapping, src_offset=src_offset, dst_mapping=dst.mapping, dst_offset=dst_offset,
            length=length, share_folios=share_folios)))

    def populate(self, index: int, gfp: int | str = "GFP_HIGHUSER_MOVABLE", write: bool = False) -> PopulateResult:
        """The filesystem populates the page cache around ``index`` (what a major fault asks it to do)."""
        return PopulateResult.from_pb(self.cluster.fs_call(
            "Populate", fs_pb.PopulateRequest(mapping=self.mapping, index=index, gfp=gfp_mask(gfp), write=write)))

    def fadvise(self, advice: str = "dontneed") -> InvalidateResult:
        """posix_fadvise(fd, 0, 0, advice). POSIX_FADV_DONTNEED (the one that changes the page cache) drops the
        clean, unmapped folios (invalidate_mapping_pages); fsync first so that dirty ones are clean."""
        name = advice.upper().removeprefix("POSIX_FADV_")
        if name != "DONTNEED":
            raise errors.InvalidArgument(f"advice {advice!r} is not modelled; only POSIX_FADV_DONTNEED is")
        return self.cluster.pagecache.invalidate_mapping(self)

    def fadvise_dontneed(self) -> InvalidateResult:
        return self.fadvise("dontneed")

    def evict(self) -> EvictResult:
        """EvictInode: finish the eviction of this orphan if it is due (idempotent; the reverse map asks for it
        at the last unmap, so a user needs it only after a crash)."""
        return EvictResult.from_pb(self.cluster.fs_call("EvictInode", fs_pb.EvictInodeRequest(mapping=self.mapping)))

    def unmap_mapping_range(self, start: int = 0, length: int = 0, even_cows: bool = False) -> UnmapResult:
        """unmap_mapping_range: zap every process's PTEs of this file over a byte range (0 = to EOF)."""
        return self.cluster.rmap.unmap_mapping_range(self, start, length, even_cows)

    def find_folio(self, index: int) -> CachedFolio:
        return self.cluster.pagecache.find_folio(self, index)

    def xa_stats(self) -> XaStats:
        return self.cluster.pagecache.xa_stats(self)

    def xa_dump(self) -> str:
        return self.cluster.pagecache.xa_dump(self)

    def xa_tree(self, max_nodes: int = 0) -> XaTree:
        return self.cluster.pagecache.xa_tree(self, max_nodes)

    def to_dict(self) -> dict:
        return {"mapping": self.mapping, "fs": self.fs.name, "path": self.path}


@dataclass
class Filesystem:
    """A filesystem made by ``mm.mkfs`` (``mm.filesystem("xfs0")`` reopens one)."""

    cluster: "Cluster"
    name: str
    block_size: int
    profile: str
    indexing: str = ""          # default indexing of its files

    def create(self, path: str, indexing: str = "") -> File:
        """A new regular file; indexing (multi-order, order-0, hugetlb) overrides the filesystem's."""
        resp = self.cluster.fs_call("Create", fs_pb.CreateRequest(fs=self.name, path=path, indexing=_indexing(indexing)))
        return File(self.cluster, self, path, resp.mapping)

    def statfs(self) -> FsInfo:
        return FsInfo.from_pb(self.cluster.fs_call("StatFs", fs_pb.StatFsRequest(name=self.name)))

    def file(self, mapping_or_ino: str | int) -> File:
        """Reopen a file of this filesystem by inode number or "FS/INO"."""
        mapping = mapping_or_ino if isinstance(mapping_or_ino, str) else f"{self.name}/{mapping_or_ino}"
        return self.cluster.file(mapping)

    def unlink(self, path: str) -> UnlinkResult:
        """unlink(2) by path (``File.unlink()`` does it by the mapping)."""
        return UnlinkResult.from_pb(self.cluster.fs_call("Unlink", fs_pb.UnlinkRequest(fs=self.name, path=path)))

    def to_dict(self) -> dict:
        return {"name": self.name, "block_size": self.block_size, "profile": self.profile, "indexing": self.indexing}


@dataclass(frozen=True)
class MapManyResult(Result):
    """What MapMany did: mappings (PTEs, all processes), the processes, and the mapcount policy's outcome."""

    address: int                # start of the first VMA in every process of the run
    mappings: int               # PTEs installed and still mapped (all processes)
    tasks: int                  # processes in the run
    killed: int                 # processes the kill policy killed
    pinned: bool                # the leak policy pinned the page
    saturated: int              # PTEs installed without raising _mapcount (leak)
    wraps: int                  # times _mapcount wrapped (none)
    mapcount_raw: int           # the page's _mapcount afterwards (-1 = looks unmapped)
    refcount: int               # the folio's _refcount afterwards
    folio: Folio | None
    killed_reason: str


@dataclass(frozen=True)
class RmapMapping(Result):
    pid: int                    # process (the first pid of a run)
    address: int                # virtual address mapping the page
    kind: str                   # "file" (a PTE), "pmd" (a PMD mapping the whole folio), "anon" or "run"
    vmas: int                   # VMAs of this entry mapping the page, per process
    tasks: int                  # processes the entry stands for


@dataclass(frozen=True)
class RmapWalk(Result):
    NESTED: ClassVar[dict[str, type]] = {"mappings": RmapMapping}

    mappings: list[RmapMapping]
    ptes: int                   # PTEs found in all


@dataclass(frozen=True)
class PinResult(Result):
    """get_user_pages pins: taken, refused by try_get_page, and the folio's _refcount after."""

    pinned: int
    refused: int
    refcount: int
    pfn: int


@dataclass(frozen=True)
class ForkResult(Result):
    """What fork copied: the child's pid, VMAs, PTEs and the anonymous pages now copy-on-write in both."""

    pid: int                    # the child
    vmas: int                   # VMAs copied (a MapMany run counts one)
    ptes_copied: int            # PTEs copied into the child
    cow_pages: int              # anonymous pages shared copy-on-write


@dataclass(frozen=True)
class MprotectResult(Result):
    """What mprotect changed: the VMAs split or merged away, the VMAs in their place, the PTEs changed."""

    vmas_replaced: int
    vmas_now: int
    ptes_changed: int


@dataclass
class Process:
    """A process (an mm_struct) made by ``mm.spawn`` (``mm.process(pid)`` reopens one)."""

    cluster: "Cluster"
    pid: int
    comm: str
    vmas: list[Vma] = field(default_factory=list)
    fork_result: ForkResult | None = None   # for a child made by fork(): what was copied

    def mmap(self, file: File, length: int, prot: str = "r", shared: bool = True, offset: int = 0, addr: int = 0,
             fixed: str = "") -> Vma:
        """mmap(2); ``fixed`` "fixed" (MAP_FIXED: replace what is at addr) or "noreplace" (MAP_FIXED_NOREPLACE:
        AlreadyExists when anything is there); empty = addr is a hint."""
        unknown = set(prot) - set(_PROT)
        if unknown:
            raise errors.InvalidArgument(f"prot letters must be from 'rwx', got {prot!r}")
        placements = {"": 0, "fixed": rm_pb.MMAP_PLACEMENT_FIXED, "noreplace": rm_pb.MMAP_PLACEMENT_FIXED_NOREPLACE}
        if fixed not in placements:
            raise errors.InvalidArgument(f"fixed must be '', 'fixed' or 'noreplace', got {fixed!r}")
        req = rm_pb.MmapRequest(pid=self.pid, mapping=file.mapping, length=length, offset=offset,
                                prot=[_PROT[c] for c in prot], shared=shared, addr=addr, placement=placements[fixed])
        resp = self.cluster.rmap_call("Mmap", req)
        vma = Vma(resp.start, resp.end, file)
        self.vmas.append(vma)
        return vma

    def munmap(self, addr: int | Vma, length: int | None = None) -> int:
        """munmap(2): PTEs zapped. ``proc.munmap(vma)`` unmaps a whole VMA."""
        if isinstance(addr, Vma):
            addr, length = addr.start, addr.length if length is None else length
        return self.cluster.rmap_call("Munmap", rm_pb.MunmapRequest(pid=self.pid, addr=addr, length=length or 0)).pages_unmapped

    def fault(self, address: int, write: bool = False) -> FaultResult:
        trace_id, resp = self.cluster._traced_call(
            "rmap", "HandleFault", rm_pb.HandleFaultRequest(pid=self.pid, address=address, write=write))
        return FaultResult.from_response(resp, trace_id)

    def read_memory(self, address: int, length: int) -> MemoryAccess:
        resp = self.cluster.rmap_call("ReadMemory", rm_pb.ReadMemoryRequest(pid=self.pid, address=address, length=length))
        return MemoryAccess(resp.data, 0, VmFault.from_proto(resp.vm_fault), resp.faults)

    def read(self, address: int, length: int) -> bytes:
        return self.read_memory(address, length).data

    def write_memory(self, address: int, data: bytes) -> MemoryAccess:
        resp = self.cluster.rmap_call("WriteMemory", rm_pb.WriteMemoryRequest(pid=self.pid, address=address, data=data))
        return MemoryAccess(b"", resp.written, VmFault.from_proto(resp.vm_fault), resp.faults)

    def map_many(self, file: "File", offset: int, count: int, prot: str = "r", shared: bool = True,
                 counter_bits: int = 0) -> MapManyResult:
        """``count`` one-page VMAs of the file page at ``offset`` in every process of this run, as one counted
        run (O(1) work): what the mapcount policy did (killed, pinned, saturated, wraps) and the counters after."""
        req = rm_pb.MapManyRequest(pid=self.pid, mapping=file.mapping, offset=offset, count=count,
                                   prot=[_PROT[c] for c in prot if c in _PROT], shared=shared, counter_bits=counter_bits)
        return MapManyResult.from_pb(self.cluster.rmap_call("MapMany", req))

    def pin_pages(self, address: int, count: int) -> PinResult:
        """get_user_pages(FOLL_GET) ``count`` times on the page at ``address``; try_get_page refuses the overflow."""
        return PinResult.from_pb(self.cluster.rmap_call("PinPages", rm_pb.PinPagesRequest(pid=self.pid, address=address,
                                                                                         count=count)))

    def fork(self) -> "Process":
        """fork(2): a child with this process's VMAs; private pages it wrote become copy-on-write in both
        (``fork_result`` says what was copied)."""
        res = ForkResult.from_pb(self.cluster.rmap_call("Fork", rm_pb.ForkRequest(pid=self.pid)))
        return Process(self.cluster, res.pid, self.comm, list(self.vmas), fork_result=res)

    def mprotect(self, addr: int | Vma, length: int | None = None, prot: str = "r") -> MprotectResult:
        """mprotect(2): ``prot`` letters from 'rwx' ('' = PROT_NONE); ``proc.mprotect(vma, prot="r")`` does a
        whole VMA. VMAs split at the range's ends and merge with alike neighbours."""
        if set(prot) - set(_PROT):
            raise errors.InvalidArgument(f"prot letters must be from 'rwx', got {prot!r}")
        if isinstance(addr, Vma):
            addr, length = addr.start, addr.length if length is None else length
        req = rm_pb.MprotectRequest(pid=self.pid, addr=addr, length=length or 0, prot=[_PROT[c] for c in prot])
        return MprotectResult.from_pb(self.cluster.rmap_call("Mprotect", req))

    def exit(self) -> UnmapResult:
        """exit_mmap: unmap everything and drop the mm (the pid is gone afterwards)."""
        return UnmapResult.from_pb(self.cluster.rmap_call("Exit", rm_pb.ExitRequest(pid=self.pid)))

    def maps(self) -> list[str]:
        """/proc/PID/maps, one line per VMA."""
        return list(self.cluster.rmap_call("ProcMaps", rm_pb.ProcMapsRequest(pid=self.pid)).lines)

    def smaps(self) -> Smaps:
        """/proc/PID/smaps: per VMA its Size, Rss and FilePmdMapped (the file THPs PMDs map)."""
        return Smaps.from_pb(self.cluster.rmap_call("ProcSmaps", rm_pb.ProcSmapsRequest(pid=self.pid)))

    def status(self) -> ProcStatus:
        return ProcStatus.from_pb(self.cluster.rmap_call("ProcStatus", rm_pb.ProcStatusRequest(pid=self.pid)))

    def to_dict(self) -> dict:
        return {"pid": self.pid, "comm": self.comm}


# ---- one namespace per service ---------------------------------------------------------------------------


class _Service:
    name = ""

    def __init__(self, cluster: "Cluster"):
        self._mm = cluster

    def _call(self, method: str, request):
        return self._mm._typed_call(self.name, method, request)


class Allocator(_Service):
    """PageAllocatorService: the buddy allocator, kmalloc/vmalloc/kvmalloc, /proc files."""

    name = "allocator"

    def alloc_pages(self, order: int, gfp: int | str = "GFP_KERNEL", node: int = -1) -> PageAllocation:
        return PageAllocation.from_pb(self._call("AllocPages", pa_pb.AllocPagesRequest(order=order, gfp=gfp_mask(gfp), node=node)))

    def release_folios(self, folios: list[Folio]) -> ReleaseResult:
        """release_pages: give several folios (each with its last reference) back to the buddy lists at once."""
        req = pa_pb.ReleaseFoliosRequest(folios=[f.to_proto() for f in folios])
        return ReleaseResult.from_pb(self._call("ReleaseFolios", req))

    def free_pages(self, page: int | Folio, order: int | None = None) -> int:
        """__free_pages(page, order): the order of the free block after merging with its buddies."""
        pfn, order = (page.pfn, page.order if order is None else order) if isinstance(page, Folio) else (page, order or 0)
        return self._call("FreePages", pa_pb.FreePagesRequest(pfn=pfn, order=order)).merged_order

    def get_page(self, pfn: int) -> PageInfo:
        return PageInfo.from_response(self._call("GetPage", pa_pb.GetPageRequest(pfn=pfn)))

    def kmalloc(self, size: int, gfp: int | str = "GFP_KERNEL", node: int = -1) -> KvAllocation:
        return self._kv("Kmalloc", pa_pb.KmallocRequest(size=size, gfp=gfp_mask(gfp), node=node))

    def vmalloc(self, size: int, gfp: int | str = "GFP_KERNEL", node: int = -1) -> KvAllocation:
        return self._kv("Vmalloc", pa_pb.VmallocRequest(size=size, gfp=gfp_mask(gfp), node=node))

    def kvmalloc(self, size: int, gfp: int | str = "GFP_KERNEL", node: int = -1) -> KvAllocation:
        return self._kv("Kvmalloc", pa_pb.KvmallocRequest(size=size, gfp=gfp_mask(gfp), node=node))

    def kvmalloc_array(self, n: int, size: int, gfp: int | str = "GFP_KERNEL") -> KvAllocation:
        return self._kv("KvmallocArray", pa_pb.KvmallocArrayRequest(n=n, size=size, gfp=gfp_mask(gfp)))

    def kvcalloc(self, n: int, size: int, gfp: int | str = "GFP_KERNEL") -> KvAllocation:
        return self._kv("KvmallocArray", pa_pb.KvmallocArrayRequest(n=n, size=size, gfp=gfp_mask(gfp), zero=True))

    def kvmalloc_struct(self, header: int, element: int, count: int, gfp: int | str = "GFP_KERNEL") -> KvAllocation:
        """kvmalloc(struct_size(p, member, count), gfp): saturates to SIZE_MAX (and fails) on overflow."""
        return self._kv("KvmallocStruct", pa_pb.KvmallocStructRequest(header=header, element=element, count=count, gfp=gfp_mask(gfp)))

    def kvfree(self, addr: int | KvAllocation) -> None:
        self._call("Kvfree", pa_pb.KvfreeRequest(addr=_addr(addr)))

    def malloc(self, size: int) -> KvAllocation:
        """malloc(size) = kvmalloc(size, GFP_KERNEL), the to-do list's proposal."""
        return self._kv("Malloc", pa_pb.MallocRequest(size=size))

    def free(self, addr: int | KvAllocation) -> None:
        self._call("Free", pa_pb.FreeRequest(addr=_addr(addr)))

    def _kv(self, method: str, request) -> KvAllocation:
        return KvAllocation.from_pb(self._call(method, request).allocation)

    def buddyinfo(self) -> str:
        """/proc/buddyinfo, byte for byte."""
        return self._call("BuddyInfo", pa_pb.BuddyInfoRequest()).text

    def pagetypeinfo(self) -> str:
        return self._call("PageTypeInfo", pa_pb.PageTypeInfoRequest()).text

    def vmstat(self) -> dict[str, int]:
        """/proc/vmstat by the kernel's counter names (pages or events)."""
        return dict(self._call("VmStat", pa_pb.VmStatRequest()).values)

    def vmstat_text(self) -> str:
        return self._call("VmStat", pa_pb.VmStatRequest()).text

    def lru(self) -> LruLists:
        """The LRU lists' sizes (anon and file, inactive and active) from /proc/vmstat, and get_scan_count's
        balance: SCAN_FILE (mmsim has no swap, so reclaim never scans the anon lists)."""
        v = self.vmstat()
        return LruLists(**{name: v.get(f"nr_{name}", 0) for name in LruLists.LISTS}, scan_balance="SCAN_FILE")

    def meminfo(self) -> dict[str, int]:
        """/proc/meminfo by name (units: kB)."""
        return dict(self._call("MemInfo", pa_pb.MemInfoRequest()).values_kb)

    def out_of_memory(self) -> OomResult:
        """pagefault_out_of_memory: run the OOM killer as a fault that ended in VM_FAULT_OOM does."""
        return OomResult.from_pb(self._call("OutOfMemory", pa_pb.OutOfMemoryRequest()))

    def zoneinfo(self) -> ZoneInfo:
        """/proc/zoneinfo: free pages, min/low/high watermarks and managed pages of every zone."""
        return ZoneInfo.from_pb(self._call("ZoneInfo", pa_pb.ZoneInfoRequest()))

    def meminfo_text(self) -> str:
        return self._call("MemInfo", pa_pb.MemInfoRequest()).text

    def fragment(self, node: int = 0, zone: str = "", max_free_order: int = 0, movable: bool = False) -> FragmentResult:
        """Pin pages so that no free block above max_free_order is left (high orders fail, order 0 works);
        ``movable``: the pages kept are movable, so compaction can move them and make blocks again."""
        return FragmentResult.from_pb(self._call("Fragment", pa_pb.FragmentRequest(
            node=node, zone=zone, max_free_order=max_free_order, movable=movable)))

    def unfragment(self, node: int = 0) -> int:
        """Undo fragment(): pages given back."""
        return self._call("Unfragment", pa_pb.UnfragmentRequest(node=node)).freed


def _addr(addr: int | KvAllocation) -> int:
    return addr.addr if isinstance(addr, KvAllocation) else addr


_TAGS = {"dirty": pc_pb.PAGECACHE_TAG_DIRTY, "writeback": pc_pb.PAGECACHE_TAG_WRITEBACK, "towrite": pc_pb.PAGECACHE_TAG_TOWRITE}
_FAULT_FLAGS = {"write": pc_pb.FAULT_FLAG_WRITE, "mkwrite": pc_pb.FAULT_FLAG_MKWRITE, "allow_retry": pc_pb.FAULT_FLAG_ALLOW_RETRY,
                "tried": pc_pb.FAULT_FLAG_TRIED, "user": pc_pb.FAULT_FLAG_USER}


def _enum_value(table: dict[str, int], name: str, what: str) -> int:
    key = name.lower().removeprefix("pagecache_tag_").removeprefix("fault_flag_")
    if key not in table:
        raise errors.InvalidArgument(f"unknown {what} {name!r}; known: {', '.join(table)}")
    return table[key]


class PageCache(_Service):
    """PageCacheService: the XArray of each mapping (``mapping`` is a File or "FS/INO")."""

    name = "pagecache"

    def fault(self, mapping: File | str, index: int, flags: tuple[str, ...] = (), around_start: int = 0,
              around_pages: int = 0) -> PageCacheFault:
        """filemap_fault at a file index; flags are FAULT_FLAG_* names ("write", "user", ...)."""
        req = pc_pb.FaultRequest(mapping=_mapping(mapping), index=index, around_start=around_start, around_pages=around_pages,
                                 flags=[_enum_value(_FAULT_FLAGS, f, "fault flag") for f in flags])
        return PageCacheFault.from_pb(self._call("Fault", req))

    def add_folio(self, mapping: File | str, index: int, folio: Folio | None = None, zero_order: int | None = None,
                  data_seq: int | None = None) -> int:
        """filemap_add_folio (or a zero entry of zero_order when folio is None): nrpages afterwards."""
        req = pc_pb.AddFolioRequest(mapping=_mapping(mapping), index=index, zero_entry=folio is None,
                                    zero_order=zero_order or 0, data_seq=data_seq)
        if folio is not None:
            req.folio.CopyFrom(folio.to_proto())
        return self._call("AddFolio", req).nrpages

    def find_folio(self, mapping: File | str, index: int) -> CachedFolio:
        """filemap_get_entry: the folio or zero entry covering index (``found`` False: nothing is cached
        there); NotFound when the mapping does not exist."""
        return CachedFolio.from_pb(self._call("FindFolio", pc_pb.FindFolioRequest(mapping=_mapping(mapping), index=index)))

    def truncate_range(self, mapping: File | str, lstart: int, lend: int | None = None) -> TruncateRangeResult:
        """truncate_inode_pages_range(mapping, lstart, lend); lend None = to EOF (the kernel's -1)."""
        req = pc_pb.TruncateRangeRequest(mapping=_mapping(mapping), lstart=lstart, lend=lend or 0, to_eof=lend is None)
        return TruncateRangeResult.from_pb(self._call("TruncateRange", req))

    def share_folios(self, src: File | str, dst: File | str, nr_pages: int, src_index: int = 0, dst_index: int = 0) -> ShareResult:
        req = pc_pb.ShareFoliosRequest(src_mapping=_mapping(src), src_index=src_index, dst_mapping=_mapping(dst),
                                       dst_index=dst_index, nr_pages=nr_pages)
        return ShareResult.from_pb(self._call("ShareFolios", req))

    def unshare_folio(self, mapping: File | str, index: int) -> UnshareResult:
        return UnshareResult.from_pb(self._call("UnshareFolio", pc_pb.UnshareFolioRequest(mapping=_mapping(mapping), index=index)))

    def drop_caches(self, mode: int = 3) -> DropCachesResult:
        """echo MODE > /proc/sys/vm/drop_caches: 1 drops every clean, unmapped page-cache folio (dirty,
        writeback and mapped ones stay: fsync first), 2 the reclaimable slab (none is modelled), 3 both."""
        return DropCachesResult.from_pb(self._call("DropCaches", pc_pb.DropCachesRequest(mode=mode)))

    def invalidate_mapping(self, mapping: File | str) -> InvalidateResult:
        """invalidate_mapping_pages: drop the clean, unmapped folios."""
        return InvalidateResult.from_pb(self._call("InvalidateMapping", pc_pb.InvalidateMappingRequest(mapping=_mapping(mapping))))

    def tag_folio(self, mapping: File | str, index: int, tag: str, clear: bool = False) -> None:
        """Set (or clear) PAGECACHE_TAG_DIRTY / _WRITEBACK / _TOWRITE on the folio covering index."""
        self._call("TagFolio", pc_pb.TagFolioRequest(mapping=_mapping(mapping), index=index, clear=clear,
                                                     tag=_enum_value(_TAGS, tag, "tag")))

    def write_folio(self, mapping: File | str, offset: int, data: bytes) -> FolioWrite:
        """generic_perform_write's step for one cached folio: the part of ``data`` that falls in the folio
        covering byte ``offset`` is copied in and the folio marked dirty, in one step (nothing is written
        where no folio of this mapping alone covers the offset). What write(2) does folio by folio."""
        req = pc_pb.WriteFolioRequest(mapping=_mapping(mapping), offset=offset, data=data)
        return FolioWrite.from_pb(self._call("WriteFolio", req))

    def find_tagged(self, mapping: File | str, tag: str, start: int = 0, limit: int = 0) -> list[CachedFolio]:
        req = pc_pb.FindTaggedRequest(mapping=_mapping(mapping), tag=_enum_value(_TAGS, tag, "tag"), start=start, limit=limit)
        return [CachedFolio.from_pb(f) for f in self._call("FindTagged", req).folios]

    def xa_stats(self, mapping: File | str) -> XaStats:
        return XaStats.from_pb(self._call("XaStats", pc_pb.XaStatsRequest(mapping=_mapping(mapping))))

    def xa_dump(self, mapping: File | str) -> str:
        return self._call("XaDump", pc_pb.XaDumpRequest(mapping=_mapping(mapping))).text

    def xa_tree(self, mapping: File | str, max_nodes: int = 0) -> XaTree:
        """The XArray as data for drawing: nodes, slots, entry kinds, marks; at most ``max_nodes`` nodes
        (0 = 64, at most 4096), whole levels from the root down."""
        return XaTree.from_pb(self._call("XaTree", pc_pb.XaTreeRequest(mapping=_mapping(mapping),
                                                                       max_nodes=max_nodes)))

    def thp_stats(self) -> ThpStats:
        """Large-folio counters: per size, /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats
        (file_alloc, file_fallback, split, split_failed), and the THP events of /proc/vmstat (``vmstat``)."""
        return ThpStats.from_pb(self._call("ThpStats", pc_pb.ThpStatsRequest()))


class ReverseMap(_Service):
    """ReverseMapService calls that are not about one process (those are on :class:`Process`)."""

    name = "rmap"

    def unmap_mapping_range(self, mapping: File | str, start: int = 0, length: int = 0, even_cows: bool = False) -> UnmapResult:
        req = rm_pb.UnmapMappingRangeRequest(mapping=_mapping(mapping), start=start, length=length, even_cows=even_cows)
        return UnmapResult.from_pb(self._call("UnmapMappingRange", req))

    def rmap_walk(self, pfn: int, node: int = 0) -> RmapWalk:
        """rmap_walk: every process and address mapping the page (i_mmap for file pages, anon_vma for COW pages)."""
        return RmapWalk.from_pb(self._call("RmapWalk", rm_pb.RmapWalkRequest(pfn=pfn, node=node)))

    def folio_mapcount(self, pfn: int, node: int = 0) -> FolioMapcount:
        """folio_mapcount(), the page's _mapcount and _refcount, and who maps it."""
        return FolioMapcount.from_pb(self._call("FolioMapcount", rm_pb.FolioMapcountRequest(pfn=pfn, node=node)))

    def folio_mkclean(self, mapping: File | str, folios: list[tuple[Folio, int]]) -> MkcleanResult:
        """folio_mkclean for (folio, file index of its first page) pairs of one file: every shared PTE mapping
        them is write-protected and cleaned (what writeback does before it writes them)."""
        req = rm_pb.FolioMkcleanRequest(mapping=_mapping(mapping), folios=[
            rm_pb.MkcleanFolio(folio=f.to_proto(), index=index) for f, index in folios])
        return MkcleanResult.from_pb(self._call("FolioMkclean", req))


WHOLE_MACHINE = frozenset({"Fragment", "Unfragment", "Check", "Recover", "Reset"})
"""RPCs whose work grows with the simulated machine's memory (every page, in bounded chunks): their deadline
is ten times the client's timeout, so a large machine on a loaded host is slow, not DEADLINE_EXCEEDED."""


class Cluster:
    """A connection to the four services (addresses from MMSIM_*_ADDR or the defaults of `mmsim up`)."""

    def __init__(self, settings: config.Settings, timeout: float = 30.0, trace_inspection: bool = False,
                 runner=None):
        self.settings = settings
        self.timeout = timeout
        self.trace_inspection = trace_inspection
        self._runner = runner   # mmsim.runtime.inproc.Runner: the services run in this process
        self._channels: dict[str, grpc.Channel] = {}
        self.stubs = _Stubs(self)
        self.last_trace_id = ""
        self.allocator = Allocator(self)
        self.pagecache = PageCache(self)
        self.rmap = ReverseMap(self)
        # the allocation calls of the to-do list, straight on the cluster: mm.kvmalloc_struct(...), mm.malloc(...)
        a = self.allocator
        self.kmalloc, self.vmalloc, self.kvmalloc, self.kvfree = a.kmalloc, a.vmalloc, a.kvmalloc, a.kvfree
        self.kvmalloc_array, self.kvcalloc, self.kvmalloc_struct = a.kvmalloc_array, a.kvcalloc, a.kvmalloc_struct
        self.malloc, self.free, self.alloc_pages, self.free_pages = a.malloc, a.free, a.alloc_pages, a.free_pages

    @classmethod
    def connect(cls, settings: config.Settings | None = None, timeout: float = 30.0, target: str | None = None,
                trace_inspection: bool = False) -> "Cluster":
        """``target``: a host whose services listen on the default ports (a compose or k8s stack), or
        "allocator=H:P,pagecache=H:P,..." for each address; default: the MMSIM_*_ADDR settings."""
        try:
            settings = (settings or config.load()).with_target(target or "")
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        if settings.transport == "inproc":
            return cls.inproc(settings, timeout, trace_inspection)
        return cls(settings, timeout, trace_inspection)

    @classmethod
    def inproc(cls, settings: config.Settings | None = None, timeout: float = 30.0,
               trace_inspection: bool = False) -> "Cluster":
        """The four services started in this process (MMSIM_TRANSPORT=inproc), against the Redis at
        MMSIM_REDIS_URL (which must answer), wired by direct calls instead of gRPC: the same service code,
        protos, Redis state and traces, without the hops' cost (mmsim.runtime.inproc). They stop with
        close(); their JSON logs go to STATE_DIR/logs/inproc.log."""
        from mmsim.runtime import inproc  # noqa: PLC0415

        settings = settings or config.load()
        return cls(settings, timeout, trace_inspection, runner=inproc.Runner(settings))

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()
        if self._runner is not None:
            self._runner.stop()

    def channel(self, service: str) -> grpc.Channel:
        """The channel to ``service`` (opened at its first call; in-process, the runner's)."""
        if service not in self._channels:
            self._channels[service] = (self._runner.channel(service) if self._runner is not None else
                                       grpc.insecure_channel(self.settings.addrs[service], options=CHANNEL_OPTIONS))
        return self._channels[service]

    # Calls ---------------------------------------------------------------------------------------------
    def _traced_call(self, service: str, method: str, request, timeout: float | None = None):
        """(trace_id, response) of a raw call; raises grpc.RpcError."""
        inspection = methods.is_inspection(methods.full_name(service, method))
        trace_id, traceparent = new_traceparent(sampled=self.trace_inspection or not inspection)
        metadata = [("traceparent", traceparent)]
        if not inspection:
            self.last_trace_id = trace_id
            metadata.append((REQUEST_ID_KEY, uuid.uuid4().hex))
        timeout = timeout or self.timeout * (10 if method in WHOLE_MACHINE else 1)
        resp = getattr(self.stubs[service], method)(request, timeout=timeout, metadata=metadata)
        return trace_id, resp

    def _typed_call(self, service: str, method: str, request, timeout: float | None = None):
        try:
            return self._traced_call(service, method, request, timeout)[1]
        except grpc.RpcError as exc:
            raise errors.from_rpc_error(exc) from None

    def fs_call(self, method: str, request):
        return self._typed_call("filesystem", method, request)

    def rmap_call(self, method: str, request):
        return self._typed_call("rmap", method, request)

    def call(self, service: str, method: str, request):
        """Any RPC of any service, raw: the request message in, the response message out, grpc.RpcError on
        failure (the typed methods raise mmsim.errors instead)."""
        return self._traced_call(service, method, request)[1]

    # Filesystems, files and processes ------------------------------------------------------------------
    def mkfs(self, name: str, block_size: int = 4096, profile: str = "", alloc_context: str = "",
             max_folio_order: int | None = None, indexing: str = "") -> Filesystem:
        """alloc_context: "scope" (memalloc_nofs_save), "gfp_nofs" or "none"; empty = the profile's.
        max_folio_order caps the folios the filesystem asks for (0 = small pages only). indexing: how its
        files' page caches are indexed, "multi-order", "order-0" or "hugetlb" (empty = the profile's)."""
        resp = self.fs_call("Mkfs", fs_pb.MkfsRequest(
            name=name, block_size=block_size, profile=profile, alloc_context=alloc_context,
            max_folio_order=max_folio_order, indexing=_indexing(indexing)))
        return Filesystem(self, resp.name, resp.block_size, resp.profile, indexing_from_proto(resp.indexing))

    def filesystem(self, name: str) -> Filesystem:
        """Reopen an existing filesystem by name (NotFound when there is none)."""
        info = Filesystem(self, name, 0, "").statfs()
        return Filesystem(self, info.name, info.block_size, info.profile, info.indexing)

    def file(self, mapping: str) -> File:
        """Reopen an existing file by its "FS/INO" (NotFound when there is none)."""
        fs = mapping.split("/", 1)[0]
        st = File(self, Filesystem(self, fs, 0, ""), "", mapping).stat()
        return File(self, Filesystem(self, fs, st.block_size, st.profile), st.path, mapping)

    def spawn(self, comm: str, mapcount_limit: int = 0, mapcount_action: str = "", max_map_count: int = 0,
              count: int = 1) -> Process:
        """A new process. mapcount_action: "none", "kill" or "leak" (empty = the profile's). count > 1 creates
        that many processes in bulk as one run (consecutive pids, one mm record: MapMany maps in each)."""
        action = 0
        if mapcount_action:
            name = f"MAPCOUNT_ACTION_{mapcount_action.upper()}"
            if name not in rm_pb.MapcountAction.keys():
                raise errors.InvalidArgument(f"mapcount_action must be none, kill or leak, got {mapcount_action!r}")
            action = rm_pb.MapcountAction.Value(name)
        resp = self.rmap_call("Spawn", rm_pb.SpawnRequest(comm=comm, mapcount_limit=mapcount_limit,
                                                          mapcount_action=action, max_map_count=max_map_count,
                                                          count=count))
        return Process(self, resp.pid, comm)

    def process(self, pid: int) -> Process:
        """Reopen an existing process (NotFound when there is none)."""
        return Process(self, pid, Process(self, pid, "").status().comm)

    def vmstat(self) -> dict[str, int]:
        """/proc/vmstat as a dict of the kernel's counter names (pages or events)."""
        return self.allocator.vmstat()

    def echo(self, hops: list[tuple[str, int]] = (), redis_round_trips: int = 0, payload: bytes = b"",
             writes: bool = False) -> EchoResult:
        """The bare echo chain of the fault-path baseline, entering at the reverse map: ``hops`` is
        [(addr, redis_round_trips), ...] of the services to visit after it; ``writes``: every round trip is
        a durable write (the AOF's fsync paid, as by a fault's writing scripts) instead of a PING."""
        req = trace_pb2.EchoRequest(redis_round_trips=redis_round_trips, payload=payload, writes=writes,
                                    hops=[trace_pb2.EchoHop(addr=a, redis_round_trips=n, writes=writes)
                                          for a, n in hops])
        return EchoResult.from_pb(self._typed_call("trace", "Echo", req))

    # Traces --------------------------------------------------------------------------------------------
    def _trace_stub(self):
        return self.stubs["trace"]

    def trace(self, trace_id: str, timeout: float = 60.0) -> TraceTree:
        """The span tree of one trace, once it is complete (its entry span is in and every span has the
        children it called: ``TraceTree.complete``). The services export spans in the background, so
        this polls GetTrace; after ``timeout`` s it returns what there is (``complete`` False). The bound
        is for a span that will never come (its service was killed), not a wait: a complete trace returns
        at once, and on a loaded machine an exporter thread may lag by seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                tree = TraceTree(self._typed_call("trace", "GetTrace", trace_pb2.GetTraceRequest(trace_id=trace_id)).spans)
            except errors.NotFound:
                if time.monotonic() > deadline:
                    raise
                tree = TraceTree([])
            if tree.complete or time.monotonic() > deadline:
                return tree
            time.sleep(0.02)

    def traces(self, limit: int = 20, kind: str = "any") -> list[str]:
        """Recent trace ids, newest first: kind "any" (every stored trace) or "fault" (started by a fault)."""
        name = f"TRACE_KIND_{kind.upper()}"
        if name not in trace_pb2.TraceKind.keys():
            raise errors.InvalidArgument(f"trace kind must be any or fault, got {kind!r}")
        req = trace_pb2.ListTracesRequest(limit=limit, kind=trace_pb2.TraceKind.Value(name))
        return list(self._typed_call("trace", "ListTraces", req).trace_ids)

    def last_trace(self, kind: str = "fault") -> TraceTree:
        """`mmsim trace last`: the newest fault's trace (kind "any": the newest trace of any user operation;
        inspection calls make none). NotFound when there is none."""
        ids = self.traces(1, kind)
        if not ids:
            raise errors.NotFound(f"no {'fault ' if kind == 'fault' else ''}trace recorded yet")
        return self.trace(ids[0])

    def drop_caches(self, mode: int = 3) -> DropCachesResult:
        """/proc/sys/vm/drop_caches (mm.pagecache.drop_caches): ``mm.drop_caches(1)`` after an fsync makes the
        next fault on any file a major one."""
        return self.pagecache.drop_caches(mode)

    def thp_stats(self) -> ThpStats:
        """The large-folio counters (mm.pagecache.thp_stats)."""
        return self.pagecache.thp_stats()

    # CONFIG_DEBUG_VM ---------------------------------------------------------------------------------------
    def mapcount_overflow(self, policy: str, counter_bits: int = 32, keep: bool = False):
        """The LSFMM 2018 four-billion-mappings workload under ``policy`` (none, kill, leak): an
        mmsim.mapcount_overflow.OverflowReport of what happened, its running time and the kernel's bill."""
        from mmsim import mapcount_overflow  # noqa: PLC0415  (it builds on this module)

        return mapcount_overflow.run(self, policy, counter_bits, keep)

    def check(self, max_violations: int = 0) -> CheckReport:
        """Every service's invariants (CheckService.Check with cluster=true: the allocator asks the others)."""
        req = check_pb2.CheckRequest(cluster=True, max_violations=max_violations)
        r = self._typed_call("check", "Check", req)
        return CheckReport([Violation(v.rule, v.service, v.pfn, v.key, v.message) for v in r.violations],
                           dict(r.owners), dict(r.checked), r.truncated)

    def recover(self, older_than_ms: int = 0) -> int:
        """Run every service's recovery passes now (CheckService.Recover, cluster-wide); returns the pages given
        back to the buddy."""
        req = check_pb2.RecoverRequest(older_than_ms=older_than_ms, cluster=True)   # every service's passes
        return self._typed_call("check", "Recover", req).pages_reclaimed

    # The machine -----------------------------------------------------------------------------------------
    def reset(self) -> ResetResult:
        """Flush the simulated machine (every file, process, page and trace) and boot its memory again."""
        return ResetResult.from_pb(self.allocator._call("Reset", pa_pb.ResetRequest()))


class _Stubs(dict):
    """The stub of each service by its short name, made (with its channel and generated modules) at its first
    use; "trace" goes to the reverse map and "check" to the allocator (every service serves both)."""

    _SERVED_BY = {"trace": "rmap", "check": "allocator"}

    def __init__(self, cluster: Cluster):
        super().__init__()
        self._cluster = cluster

    def __missing__(self, service: str):
        stub = self[service] = channels.stub_class(service)(self._cluster.channel(self._SERVED_BY.get(service, service)))
        return stub
