"""The page cache over the XArray: models mm/filemap.c (filemap_fault's lookup, __filemap_add_folio,
filemap_get_folio, the PAGECACHE_TAG_* marks) and the 2018 to-do list's zero entries for holes.

Each operation is one Lua script (one Redis round trip) made of the XArray library
(``xarray.lua``), the page-cache library (``filemap.lua``) and a short body; truncation adds the reverse
map's PTE walk, the folio split (``huge_memory.lua``) and mm/truncate.c (``truncate.lua``), so a large folio
cut by a truncate, hole punch or reflink is split -- XArray entry, struct pages and every PTE -- in that step. A mapping's keys all carry
its hash tag ``{m:FS/INO}``: the inode hash the filesystem writes (i_size, indexing) and the XArray.

Indexing modes (the hugetlbfs-vs-THP item; chosen per file by the inode's ``indexing`` field):
``multi-order`` one entry of order N per folio (THP with the XArray), ``order-0`` 2**N order-0 entries
per folio (the radix-tree layout the article rejects), ``hugetlb`` one entry per 2 MiB folio at index
``page_index >> 9`` (hugetlbfs's huge-page units). A lookup by byte offset gives the same folio in all three.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from mmsim.allocator.vmemmap import MAPPING_SHARED, PG, node_spans
from mmsim.allocator.zones import Layout
from mmsim.pagecache import xarray
from mmsim.pagecache.filemap_lua import FILEMAP_LUA
from mmsim.rmap.lua import RMAP_LUA_LIB, RMAP_WALK_LUA_LIB
from mmsim.runtime import config, keys, locks, profiles
from mmsim.runtime.errors import Aborted, AlreadyExists, NotFound, require
from mmsim.runtime.lua import Spec, SpecScript, source

PAGE_SHIFT = 12
_ADDED_FLAGS = PG["uptodate"] | PG["lru"]   # filemap_add_folio -> folio_add_lru; the read completed
MAX_PAGECACHE_ORDER = 9          # include/linux/pagemap.h with THP: min(MAX_XAS_ORDER, PMD order)
MAX_WRITE = 1 << (PAGE_SHIFT + MAX_PAGECACHE_ORDER)   # bytes one WriteFolio takes: the largest folio's size
MAX_FILE_INDEX = (1 << 52) - 1   # MAX_LFS_FILESIZE >> PAGE_SHIFT on 64-bit, rounded to what Lua holds exactly
TRUNCATE_LUA = "\n".join([FILEMAP_LUA, f"local MAPPING_SHARED = {MAPPING_SHARED}", RMAP_LUA_LIB, RMAP_WALK_LUA_LIB,
                          Path(__file__).with_name("huge_memory.lua").read_text(),
                          Path(__file__).with_name("truncate.lua").read_text()])
"""The truncation scripts: the page cache's libraries, the reverse map's PTE walk, the split (huge_memory.lua) and
mm/truncate.c (truncate.lua). They cross hash tags: ``{m:…}``, ``{node:N}`` and every mapper's ``{mm:PID}``."""
TRUNCATE = SpecScript(Spec("filemap_truncate", keys=("inode", "xa"), args=(
    "chunk_shift", "lstart", "lend", "spans", "mapping", "nonuniform"), replies={"truncated": (
        "removed:int", "zeroed:int", "split:int", "failed:int", "unmapped:int", "split_log", "*freed:int")}),
    __file__, TRUNCATE_LUA, fenced=True)
"""filemap_truncate.lua. KEY inode, xa; ARG chunk_shift, lstart, lend (bytes, inclusive; -1 = to EOF), spans,
mapping, nonuniform (the profiles whose truncation splits non-uniformly, ','). Reply: truncated
(TruncateResult's counts and split log, then (node, pfn, order) of the folios to free)."""


class Tag(enum.IntEnum):
    """PAGECACHE_TAG_* (include/linux/fs.h); the value is the wire enum, the mark is value - 1."""

    DIRTY = 1      # XA_MARK_0
    WRITEBACK = 2  # XA_MARK_1
    TOWRITE = 3    # XA_MARK_2

    @property
    def mark(self) -> int:
        return self.value - 1


@dataclass(frozen=True)
class Folio:
    node: int
    pfn: int
    order: int


@dataclass(frozen=True)
class Found:
    """What covers a file index: a folio, or a zero entry (a hole)."""

    index: int                    # first file index the entry covers (units: pages)
    folio: Folio | None           # None for a zero entry
    order: int                    # order of the folio or of the zero entry
    tags: tuple[Tag, ...] = ()
    shared: bool = False          # cached by several mappings through PFN entries

    @property
    def zero(self) -> bool:
        return self.folio is None


@dataclass(frozen=True)
class Written:
    """A write_folio's answer: what covers the offset (None: nothing) and the bytes copied into it (0 unless
    a folio of this mapping alone covers it)."""

    found: Found | None
    written: int                  # bytes


@dataclass(frozen=True)
class FaultLookup:
    index: int                    # the faulting file index (units: pages)
    i_size: int                   # bytes
    found: Found | None
    around: tuple[Found, ...] = ()  # folios cached in the fault-around window (filemap_map_pages)

    @property
    def beyond_eof(self) -> bool:
        """filemap_fault's first check: pgoff >= DIV_ROUND_UP(i_size, PAGE_SIZE)."""
        return self.index >= (self.i_size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT


# Each script is a .lua file beside this module (filemap_*.lua), declared with a Spec below: it reads its KEY
# and ARG by name and its replies are decoded by kind. The fenced ones get their caller's lock checked first, and
# all of them follow the XArray and filemap libraries.
_FOUND = ("i_size:int", "node:int", "pfn:int", "order:int", "index:int", "tags", "*around:int")
LOOKUP = SpecScript(Spec("filemap_lookup", keys=("inode", "xa", "vmstat"), args=(
    "chunk_shift", "index", "marks", "spans", "fault", "around_start", "around_pages"),
    replies={kind: _FOUND for kind in ("folio", "shared", "hole", "none")}), __file__, FILEMAP_LUA)
"""filemap_lookup.lua. KEY inode, xa (the mapping's XArray prefix), vmstat (node 0's); ARG chunk_shift, index
(pages), marks ('1': return the entry's marks), spans, fault ('read' | 'write': a fault, counting pgmajfault on
a miss; '': a lookup), around_start, around_pages (the fault-around window). Replies by what covers the index
(folio, shared, hole, none): i_size, the entry (node, pfn, order, first index, marks) and around: (node, pfn,
order, index) per folio cached in the window."""
STATS = SpecScript(Spec("filemap_stats", keys=("inode", "xa"), args=("chunk_shift",), replies={"stats": (
    "entries:int", "folio_entries:int", "zero_entries:int", "nodes:int", "height:int", "nrpages:int",
    "zero_pages:int", "indexing", "tagged")}), __file__, FILEMAP_LUA)
"""filemap_stats.lua. KEY inode, xa; ARG chunk_shift. Reply: stats (the XArray's shape; tagged: '1'/'0' per
mark)."""
FIND_TAGGED = SpecScript(Spec("filemap_find_tagged", keys=("inode", "xa"), args=("chunk_shift", "start", "mark", "limit"),
                              replies={"tagged": ("*folios:int",)}), __file__, FILEMAP_LUA)
"""filemap_find_tagged.lua. KEY inode, xa; ARG chunk_shift, start (first index), mark, limit (folios). Reply:
tagged ((node, pfn, order, index) per folio)."""
_FREES = ("*freed:int",)
INVALIDATE = SpecScript(Spec("filemap_invalidate", keys=("inode", "xa"), args=("chunk_shift", "spans"),
                             replies={"invalidated": ("removed:int", "skipped:int", *_FREES)}), __file__, FILEMAP_LUA,
                        fenced=True)
"""filemap_invalidate.lua. KEY inode, xa; ARG chunk_shift, spans. Reply: invalidated (folios removed, kept
busy, and freed: (node, pfn, order) of the folios to free)."""
SHARE = SpecScript(Spec("filemap_share", keys=("src_inode", "src_xa", "dst_inode", "dst_xa"), args=(
    "chunk_shift", "src_index", "dst_index", "nr_pages", "spans", "allowed"),
    replies={"shared": ("folios_shared:int", "pages_shared:int", "folios_skipped:int")}), __file__, FILEMAP_LUA,
    fenced=True)
"""filemap_share.lua (PFN entries). KEY the source's and destination's inode and xa; ARG chunk_shift, src_index,
dst_index, nr_pages, spans, allowed (the profiles with PFN entries, ','). Reply: shared (the counts)."""
REPLACE = SpecScript(Spec("filemap_replace", keys=("inode", "xa"), args=(
    "chunk_shift", "spans", "index", "old_pfn", "node", "pfn", "flags", "mapping", "trace"),
    replies={"replaced": ("index:int", "order:int", *_FREES), "changed": ()}), __file__, FILEMAP_LUA, fenced=True)
"""filemap_replace.lua. KEY inode, xa; ARG chunk_shift, spans, index, old_pfn (the shared folio), node and pfn
(the private copy), flags (its page flags), mapping, trace (the copy's ledger trace). Replies: replaced (the
folio's index and order, the folios to free) | changed (the shared folio is no longer there)."""

# The scripts below change a mapping's cache: each is fenced (it checks the fencing token of the lock its caller
# holds on the mapping, mmsim.runtime.locks.fence_for, from the held locks in the call's metadata, before any
# write). The inserts may release that lock in their own step (fm_unlocked, filemap_unlock.lua).
_INSERT_LUA = FILEMAP_LUA + "\n" + source(__file__, "filemap_unlock")
_STALE = ("now:int", "seen:int")   # fm_stale: the blocks' data_seq now and the one the caller read
_UNLOCKED = ("released:int", "woken:int")   # fm_unlocked: whether the lock was still held, the waiters woken
ADD_FOLIO = SpecScript(Spec("filemap_add_folio", keys=("inode", "xa", "vmstat"), args=(
    "chunk_shift", "index", "order", "node", "pfn", "spans", "flags", "mapping", "data_seq", "trace", "fill",
    "contents", "count_alloc", "fallback_orders", "unlock", "dirty"), replies={
        "added": ("nrpages:int", "zero_replaced:int", *_UNLOCKED),
        "exists": ("node:int", "pfn:int", "order:int", "index:int"), "stale": _STALE}),
    __file__, _INSERT_LUA, fenced=True)
"""filemap_add_folio.lua. KEY inode, xa, vmstat (the folio's node's); ARG chunk_shift, index (pages), order, node,
pfn, spans, flags (page flags to set), mapping, data_seq (what the caller read; '' = unchecked), trace (its
ledger trace id), fill ('1': store contents, bytes), count_alloc ('1': count the allocation and fallback_orders,
','), unlock ('1': release the caller's lock), dirty ('1': mark the folio DIRTY). Replies: added (nrpages, the
zero-entry pages replaced; with unlock: released, woken) | exists (the folio that won: node, pfn, order, index) |
stale (data_seq now and read)."""
ADD_ZERO = SpecScript(Spec("filemap_add_zero", keys=("inode", "xa", "vmstat"), args=(
    "chunk_shift", "index", "order", "data_seq", "unlock"), replies={
        "added": ("zero_pages:int", *_UNLOCKED), "stale": _STALE}), __file__, _INSERT_LUA, fenced=True)
"""filemap_add_zero.lua. KEY inode, xa, vmstat (node 0's); ARG chunk_shift, index, order, data_seq, unlock (as
ADD_FOLIO's). Replies: added (the mapping's zero pages; with unlock: released, woken) | stale."""
TAG = SpecScript(Spec("filemap_tag", keys=("inode", "xa"), args=("chunk_shift", "index", "mark", "clear", "spans"),
                      replies={"tagged": ()}), __file__, FILEMAP_LUA, fenced=True)
"""filemap_tag.lua. KEY inode, xa; ARG chunk_shift, index, mark (the tag's XArray mark), clear ('1': clear it,
else set), spans. Reply: tagged."""
WRITE = SpecScript(Spec("filemap_write", keys=("inode", "xa"), args=("chunk_shift", "offset", "data", "spans"),
                        replies={kind: ("node:int", "pfn:int", "order:int", "index:int", "written:int")
                                 for kind in ("folio", "shared", "hole", "none")}), __file__, FILEMAP_LUA, fenced=True)
"""filemap_write.lua. KEY inode, xa; ARG chunk_shift, offset (bytes), data, spans. Replies by what covers the
offset (folio, shared, hole, none): node, pfn, order, first index (pages) and the bytes written (0 unless folio)."""


@dataclass(frozen=True)
class TruncateResult:
    """What one truncate_inode_pages_range did (the TRUNCATE script's reply)."""

    folios_removed: int           # folios deleted from the page cache
    bytes_zeroed: int             # bytes zeroed inside partial folios
    folios_split: int             # large folios split (each split counts once)
    split_failed: int             # splits refused (the folio was unmapped instead)
    ptes_unmapped: int            # PTEs zapped by truncate_cleanup_folio / a refused split
    split_log: str                # one line per split attempt: pfn, order, the new orders or the refusal
    freed: tuple[Folio, ...]      # folios whose last reference went (the caller frees them)

    @property
    def pages_freed(self) -> int:
        return sum(1 << f.order for f in self.freed)


@dataclass(frozen=True)
class Fill:
    """What a populate's AddFolio does in the insert's step besides the insert (AddFolioRequest's fields)."""

    contents: bytes | None = None           # the folio's bytes (None: the caller stored them)
    count_alloc: bool = False               # count the allocation (and fallback_orders' failures)
    fallback_orders: tuple[int, ...] = ()   # orders whose allocation failed first
    unlock: bool = False                    # release the caller's lock (the fence) once the folio is in
    dirty: bool = False                     # mark the folio DIRTY (a write's new folio)


@dataclass(frozen=True)
class Added:
    """An insert's answer: mapping->nrpages after it (zero pages for a zero entry) and, when it released the
    caller's lock, whether that lock was still held and the waiters it woke."""

    nrpages: int
    unlocked: bool = False
    woken: int = 0
    zero_replaced: int = 0        # pages of zero entries the folio replaced (their zero-page PTEs must go)


def _seq(data_seq: int | None) -> str:
    return "" if data_seq is None else str(data_seq)


def _check_stale(mapping: str, r) -> None:
    if r.kind == "stale":
        raise Aborted(f"{mapping}'s blocks changed since the caller read them (a truncate, hole punch or "
                      f"writeback; data_seq {r.seen} -> {r.now}): free the folio and read them again")


def _freed(rec) -> list[Folio]:
    return [Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])) for i in range(0, len(rec), 3)]


def _found(kind: str, node: int, pfn: int, order: int, index: int, tags: str = "") -> Found | None:
    """What covers an index: kind 'folio', 'shared' or 'hole' (None for anything else); tags: '1'/'0' per
    mark ('' when not asked for)."""
    if kind not in ("folio", "shared", "hole"):
        return None
    tag_set = tuple(t for t in Tag if tags[t.mark:t.mark + 1] == "1")
    folio = Folio(node, pfn, order) if kind in ("folio", "shared") else None
    return Found(index, folio, order, tag_set, shared=kind == "shared")


def _entry(r) -> Found | None:
    """The entry of a LOOKUP reply."""
    return _found(r.kind, r.node, r.pfn, r.order, r.index, r.tags)


def check_index(index: int) -> int:
    require(0 <= index <= MAX_FILE_INDEX, f"index {index} is beyond the largest file index {MAX_FILE_INDEX}")
    return index


class PageCache:
    """The page cache of every mapping, over one Redis (models struct address_space->i_pages)."""

    def __init__(self, client, settings: config.Settings):
        self._redis = client
        self._cs = settings.xa_chunk_shift
        self.layout = Layout.build(settings.memory_bytes, settings.numa_nodes, settings.movable_bytes)
        self._spans = node_spans(self.layout)
        self._nonuniform = ",".join(p.name for p in profiles.PROFILES.values() if p.folio_split == "non-uniform")

    @staticmethod
    def _names(mapping: str) -> dict[str, str]:
        """The KEY names inode and xa of a mapping's scripts."""
        return {"inode": keys.mapping(mapping, "inode"), "xa": keys.mapping(mapping, "xa")}

    def xarray(self, mapping: str) -> xarray.XArray:
        return xarray.XArray(self._redis, keys.mapping(mapping, "xa"), self._cs)

    async def fault_lookup(self, mapping: str, index: int, write: bool = False, around_start: int = 0,
                           around_pages: int = 0) -> FaultLookup:
        """filemap_fault's EOF check and filemap_get_folio, and filemap_map_pages's look at the fault-around
        window, in one round trip; a miss (or a write to a zero entry) counts pgmajfault, as filemap_fault does."""
        r = await self._lookup(mapping, index, 0, "write" if write else "read", around_start, around_pages)
        a = r.around
        around = tuple(Found(a[i + 3], Folio(a[i], a[i + 1], a[i + 2]), a[i + 2]) for i in range(0, len(a), 4))
        return FaultLookup(index, r.i_size, _entry(r), around)

    async def _lookup(self, mapping: str, index: int, marks: int, fault: str, around_start: int = 0,
                      around_pages: int = 0):
        return await LOOKUP(self._redis, **self._names(mapping), vmstat=keys.node(0, "vmstat"), chunk_shift=self._cs,
                            index=check_index(index), marks=marks, spans=self._spans, fault=fault,
                            around_start=around_start, around_pages=around_pages)

    async def lookup(self, mapping: str, index: int) -> Found | None:
        """models filemap_get_entry: what covers index, None when nothing does (NOT_FOUND: no such mapping)."""
        return _entry(await self._lookup(mapping, index, 1, ""))

    async def find_folio(self, mapping: str, index: int) -> Found:
        """:meth:`lookup`, NOT_FOUND when nothing covers index."""
        found = await self.lookup(mapping, index)
        if found is None:
            raise NotFound(f"no folio at index {index} of {mapping}")
        return found

    async def add_folio(self, mapping: str, index: int, folio, data_seq: int | None = None, trace: str = "") -> int:
        """:meth:`insert_folio` without a fill: mapping->nrpages after the insert."""
        return (await self.insert_folio(mapping, index, folio, data_seq, trace)).nrpages

    async def add_zero_entry(self, mapping: str, index: int, order: int, data_seq: int | None = None) -> int:
        """:meth:`insert_zero`: the mapping's zero pages after the insert."""
        return (await self.insert_zero(mapping, index, order, data_seq)).nrpages

    async def insert_folio(self, mapping: str, index: int, folio, data_seq: int | None = None, trace: str = "",
                           fill: Fill | None = None) -> Added:
        """models __filemap_add_folio: ALREADY_EXISTS (the kernel's -EEXIST) when another folio is there;
        ABORTED when ``data_seq`` is given and the blocks changed since the caller read it. An in-flight folio
        (the allocator's ledger) is taken over in the same step; FAILED_PRECONDITION when it is in flight for
        another trace or was reclaimed (free) meanwhile. ``fill``: a populate's contents, allocation counts
        and lock release, in the same step."""
        require(0 <= folio.order <= MAX_PAGECACHE_ORDER,
                f"folio order {folio.order} is above MAX_PAGECACHE_ORDER {MAX_PAGECACHE_ORDER}")
        f = fill or Fill()
        r = await ADD_FOLIO(
            self._redis, **self._names(mapping), vmstat=keys.node(folio.node, "vmstat"), chunk_shift=self._cs,
            index=check_index(index), order=folio.order, node=folio.node, pfn=folio.pfn, spans=self._spans,
            flags=_ADDED_FLAGS, mapping=mapping, data_seq=_seq(data_seq), trace=trace,
            fill=int(f.contents is not None), contents=f.contents or b"", count_alloc=int(f.count_alloc),
            fallback_orders=",".join(map(str, f.fallback_orders)), unlock=int(f.unlock), dirty=int(f.dirty),
            fence=locks.fence_for(mapping))
        _check_stale(mapping, r)
        if r.kind == "exists":
            raise AlreadyExists(f"index {index} of {mapping} is already cached: folio pfn {r.pfn} "
                                f"order {r.order} at index {r.index} won the race; free yours")
        return Added(r.nrpages, bool(r.released), r.woken or 0, r.zero_replaced)

    async def insert_zero(self, mapping: str, index: int, order: int, data_seq: int | None = None,
                          unlock: bool = False) -> Added:
        """Insert a zero entry (a known hole, no page) covering 2**order pages; ``nrpages`` of the answer is the
        mapping's zero pages. ``unlock``: release the caller's lock in the same step."""
        require(0 <= order <= MAX_PAGECACHE_ORDER, f"zero entry order {order} is above {MAX_PAGECACHE_ORDER}")
        r = await ADD_ZERO(self._redis, **self._names(mapping), vmstat=keys.node(0, "vmstat"), chunk_shift=self._cs,
                           index=check_index(index), order=order, data_seq=_seq(data_seq), unlock=int(unlock),
                           fence=locks.fence_for(mapping))
        _check_stale(mapping, r)
        return Added(r.zero_pages, bool(r.released), r.woken or 0)

    async def tag_folio(self, mapping: str, index: int, tag: Tag, clear: bool = False) -> None:
        """folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks."""
        await TAG(self._redis, **self._names(mapping), chunk_shift=self._cs, index=check_index(index), mark=tag.mark,
                  clear=int(clear), spans=self._spans, fence=locks.fence_for(mapping))

    async def write_folio(self, mapping: str, offset: int, data: bytes) -> Written:
        """generic_perform_write for the folio covering byte ``offset``: its part of ``data`` copied in and the
        folio marked dirty, in one step (filemap_write.lua); nothing written unless a folio of this mapping
        alone covers the offset."""
        check_index(offset >> PAGE_SHIFT)
        r = await WRITE(self._redis, **self._names(mapping), chunk_shift=self._cs, offset=offset, data=data,
                        spans=self._spans, fence=locks.fence_for(mapping))
        return Written(_found(r.kind, r.node, r.pfn, r.order, r.index), r.written)

    async def find_tagged(self, mapping: str, tag: Tag, start: int, limit: int) -> list[Found]:
        r = await FIND_TAGGED(self._redis, **self._names(mapping), chunk_shift=self._cs, start=check_index(start),
                              mark=tag.mark, limit=limit)
        f = r.folios
        out = [Found(f[i + 3], Folio(f[i], f[i + 1], f[i + 2]), f[i + 2], (tag,)) for i in range(0, len(f), 4)]
        return out[:limit]

    async def truncate_range(self, mapping: str, lstart: int, lend: int | None) -> TruncateResult:
        """truncate_inode_pages_range(mapping, lstart, lend); lend None = to EOF: whole folios deleted (and
        unmapped), partial ones zeroed and split (PTEs retargeted) or, where the split is refused, unmapped
        and deleted if clean. One round trip. The caller gives ``freed`` back to the allocator."""
        require(lstart >= 0 and (lend is None or lend >= lstart), f"bad range {lstart}..{lend}")
        r = await TRUNCATE(self._redis, **self._names(mapping), chunk_shift=self._cs, lstart=lstart,
                           lend=-1 if lend is None else lend, spans=self._spans, mapping=mapping,
                           nonuniform=self._nonuniform, fence=locks.fence_for(mapping))
        return TruncateResult(r.removed, r.zeroed, r.split, r.failed, r.unmapped, r.split_log, tuple(_freed(r.freed)))

    async def invalidate(self, mapping: str) -> tuple[int, int, list[Folio]]:
        """invalidate_mapping_pages(mapping, 0, -1): (folios removed, folios kept busy, folios to free)."""
        r = await INVALIDATE(self._redis, **self._names(mapping), chunk_shift=self._cs, spans=self._spans,
                             fence=locks.fence_for(mapping))
        return r.removed, r.skipped, _freed(r.freed)

    async def share_folios(self, src: str, src_index: int, dst: str, dst_index: int, nr_pages: int) -> dict:
        """PFN entries: give ``dst`` entries for ``src``'s clean folios in the range (one atomic step)."""
        require(nr_pages > 0, f"nr_pages must be positive, got {nr_pages}")
        check_index(src_index + nr_pages - 1)
        check_index(dst_index + nr_pages - 1)
        allowed = ",".join(p.name for p in profiles.PROFILES.values() if p.pfn_entries)
        s, d = self._names(src), self._names(dst)
        r = await SHARE(self._redis, src_inode=s["inode"], src_xa=s["xa"], dst_inode=d["inode"], dst_xa=d["xa"],
                        chunk_shift=self._cs, src_index=src_index, dst_index=dst_index, nr_pages=nr_pages,
                        spans=self._spans, allowed=allowed, fence=locks.fence_for(dst))
        return dict(r.fields)

    async def replace_shared(self, mapping: str, index: int, old: Folio, new: Folio,
                             trace: str = "") -> tuple[int, list[Folio]] | None:
        """Put the private copy ``new`` (same order, already allocated) where the shared ``old`` was, copying
        its bytes; returns (folio index, folios to free) or None when ``old`` is no longer there."""
        r = await REPLACE(self._redis, **self._names(mapping), chunk_shift=self._cs, spans=self._spans,
                          index=check_index(index), old_pfn=old.pfn, node=new.node, pfn=new.pfn, flags=_ADDED_FLAGS,
                          mapping=mapping, trace=trace, fence=locks.fence_for(mapping))
        if r.kind == "changed":
            return None
        return r.index, _freed(r.freed)

    async def stats(self, mapping: str) -> dict:
        """Entries, nodes, height, Redis bytes and the tags set anywhere (mapping_tagged: xa_marked) of the
        mapping's XArray (`mmsim xa stats`)."""
        r = await STATS(self._redis, **self._names(mapping), chunk_shift=self._cs)
        return {"mapping": mapping, "indexing": r.indexing, "chunk_shift": self._cs, "entries": r.entries,
                "folio_entries": r.folio_entries, "zero_entries": r.zero_entries, "nodes": r.nodes, "height": r.height,
                "redis_bytes": await self.xarray(mapping).memory_bytes(), "nrpages": r.nrpages,
                "zero_pages": r.zero_pages, "tagged": [t.value for t in Tag if r.tagged[t.mark] == "1"]}

