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
from mmsim.runtime.lua import Script, source

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


# Each script is a .lua file beside this module (filemap_*.lua: its KEYS, ARGV and reply in its header); the
# fenced ones get their caller's lock checked first, and all of them follow the XArray and filemap libraries.
_LOOKUP = source(__file__, "filemap_lookup")
_UNLOCK = source(__file__, "filemap_unlock")   # fm_unlocked: the insert scripts' lock release
_ADD_FOLIO = _UNLOCK + source(__file__, "filemap_add_folio")
_ADD_ZERO = _UNLOCK + source(__file__, "filemap_add_zero")
_TAG = source(__file__, "filemap_tag")
_WRITE = source(__file__, "filemap_write")
_FIND_TAGGED = source(__file__, "filemap_find_tagged")
_STATS = source(__file__, "filemap_stats")


_TRUNCATE = source(__file__, "filemap_truncate")


@dataclass(frozen=True)
class TruncateResult:
    """What one truncate_inode_pages_range did (the _TRUNCATE script's reply)."""

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


_INVALIDATE = source(__file__, "filemap_invalidate")
_SHARE = source(__file__, "filemap_share")
_REPLACE = source(__file__, "filemap_replace")


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


def _unlocked(rest) -> tuple[bool, int]:
    return (bool(int(rest[0])), int(rest[1])) if rest else (False, 0)


def _seq(data_seq: int | None) -> str:
    return "" if data_seq is None else str(data_seq)


def _check_stale(mapping: str, rec) -> None:
    if isinstance(rec, list) and rec and rec[0] == b"STALE":
        raise Aborted(f"{mapping}'s blocks changed since the caller read them (a truncate, hole punch or "
                      f"writeback; data_seq {int(rec[2])} -> {int(rec[1])}): free the folio and read them again")


def _freed(rec) -> list[Folio]:
    return [Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])) for i in range(0, len(rec), 3)]


def _found(rec, with_tags: bool) -> Found | None:
    _, kind, node, pfn, order, index, tags = rec
    if not kind:
        return None
    tag_set = tuple(t for t in Tag if tags and tags[t.mark:t.mark + 1] == b"1") if with_tags else ()
    folio = Folio(int(node), int(pfn), int(order)) if kind in (b"folio", b"shared") else None
    return Found(int(index), folio, int(order), tag_set, shared=kind == b"shared")


def check_index(index: int) -> int:
    require(0 <= index <= MAX_FILE_INDEX, f"index {index} is beyond the largest file index {MAX_FILE_INDEX}")
    return index


_FENCED = frozenset({"add_folio", "add_zero", "tag", "write", "truncate", "invalidate", "share", "replace"})
"""Scripts that change a mapping's cache: each checks the fencing token of the lock its caller holds on the
mapping (mmsim.runtime.locks.fence_for, from the held locks in the call's metadata) before any write."""


class PageCache:
    """The page cache of every mapping, over one Redis (models struct address_space->i_pages)."""

    def __init__(self, client, settings: config.Settings):
        self._redis = client
        self._cs = settings.xa_chunk_shift
        self.layout = Layout.build(settings.memory_bytes, settings.numa_nodes, settings.movable_bytes)
        self._spans = node_spans(self.layout)
        self._scripts = {name: Script(client, FILEMAP_LUA + body, fenced=name in _FENCED) for name, body in (
            ("lookup", _LOOKUP), ("add_folio", _ADD_FOLIO), ("add_zero", _ADD_ZERO), ("tag", _TAG), ("write", _WRITE),
            ("find_tagged", _FIND_TAGGED), ("stats", _STATS),
            ("invalidate", _INVALIDATE), ("share", _SHARE), ("replace", _REPLACE))}
        self._scripts["truncate"] = Script(client, TRUNCATE_LUA + _TRUNCATE, fenced=True)
        self._nonuniform = ",".join(p.name for p in profiles.PROFILES.values() if p.folio_split == "non-uniform")

    @staticmethod
    def _keys(mapping: str) -> list[str]:
        return [keys.mapping(mapping, "inode"), keys.mapping(mapping, "xa")]

    def xarray(self, mapping: str) -> xarray.XArray:
        return xarray.XArray(self._redis, keys.mapping(mapping, "xa"), self._cs)

    async def fault_lookup(self, mapping: str, index: int, write: bool = False, around_start: int = 0,
                           around_pages: int = 0) -> FaultLookup:
        """filemap_fault's EOF check and filemap_get_folio, and filemap_map_pages's look at the fault-around
        window, in one round trip; a miss (or a write to a zero entry) counts pgmajfault, as filemap_fault does."""
        rec = await self._scripts["lookup"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                            [self._cs, check_index(index), 0, self._spans, "write" if write else "read",
                                             around_start, around_pages])
        around = tuple(Found(int(rec[i + 3]), Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])), int(rec[i + 2]))
                       for i in range(7, len(rec), 4))
        return FaultLookup(index, int(rec[0]), _found(rec[:7], False), around)

    async def lookup(self, mapping: str, index: int) -> Found | None:
        """models filemap_get_entry: what covers index, None when nothing does (NOT_FOUND: no such mapping)."""
        rec = await self._scripts["lookup"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                            [self._cs, check_index(index), 1, self._spans, ""])
        return _found(rec, True)

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
        rec = await self._scripts["add_folio"](
            [*self._keys(mapping), keys.node(folio.node, "vmstat")],
            [self._cs, check_index(index), folio.order, folio.node, folio.pfn, self._spans, _ADDED_FLAGS, mapping,
             _seq(data_seq), trace, int(f.contents is not None), f.contents or b"", int(f.count_alloc),
             ",".join(map(str, f.fallback_orders)), int(f.unlock), int(f.dirty)], fence=locks.fence_for(mapping))
        _check_stale(mapping, rec)
        if rec[0] == b"EEXIST":
            raise AlreadyExists(f"index {index} of {mapping} is already cached: folio pfn {int(rec[2])} "
                                f"order {int(rec[3])} at index {int(rec[4])} won the race; free yours")
        return Added(int(rec[1]), *_unlocked(rec[2:]))

    async def insert_zero(self, mapping: str, index: int, order: int, data_seq: int | None = None,
                          unlock: bool = False) -> Added:
        """Insert a zero entry (a known hole, no page) covering 2**order pages; ``nrpages`` of the answer is the
        mapping's zero pages. ``unlock``: release the caller's lock in the same step."""
        require(0 <= order <= MAX_PAGECACHE_ORDER, f"zero entry order {order} is above {MAX_PAGECACHE_ORDER}")
        rec = await self._scripts["add_zero"]([*self._keys(mapping), keys.node(0, "vmstat")],
                                              [self._cs, check_index(index), order, _seq(data_seq), int(unlock)],
                                              fence=locks.fence_for(mapping))
        _check_stale(mapping, rec)
        return Added(int(rec[0]), *_unlocked(rec[1:]))

    async def tag_folio(self, mapping: str, index: int, tag: Tag, clear: bool = False) -> None:
        """folio_mark_dirty / __folio_start_writeback / folio_end_writeback on the XArray marks."""
        await self._scripts["tag"](self._keys(mapping), [self._cs, check_index(index), tag.mark, int(clear), self._spans],
                                   fence=locks.fence_for(mapping))

    async def write_folio(self, mapping: str, offset: int, data: bytes) -> Written:
        """generic_perform_write for the folio covering byte ``offset``: its part of ``data`` copied in and the
        folio marked dirty, in one step (filemap_write.lua); nothing written unless a folio of this mapping
        alone covers the offset."""
        check_index(offset >> PAGE_SHIFT)
        rec = await self._scripts["write"](self._keys(mapping), [self._cs, offset, data, self._spans],
                                           fence=locks.fence_for(mapping))
        found = _found([b"0", *rec[:5], b""], False)
        return Written(found, int(rec[5]))

    async def find_tagged(self, mapping: str, tag: Tag, start: int, limit: int) -> list[Found]:
        rec = await self._scripts["find_tagged"](self._keys(mapping), [self._cs, check_index(start), tag.mark, limit])
        out = [Found(int(rec[i + 3]), Folio(int(rec[i]), int(rec[i + 1]), int(rec[i + 2])), int(rec[i + 2]), (tag,))
               for i in range(0, len(rec), 4)]
        return out[:limit]

    async def truncate_range(self, mapping: str, lstart: int, lend: int | None) -> TruncateResult:
        """truncate_inode_pages_range(mapping, lstart, lend); lend None = to EOF: whole folios deleted (and
        unmapped), partial ones zeroed and split (PTEs retargeted) or, where the split is refused, unmapped
        and deleted if clean. One round trip. The caller gives ``freed`` back to the allocator."""
        require(lstart >= 0 and (lend is None or lend >= lstart), f"bad range {lstart}..{lend}")
        rec = await self._scripts["truncate"](self._keys(mapping), [self._cs, lstart, -1 if lend is None else lend,
                                                                    self._spans, mapping, self._nonuniform],
                                              fence=locks.fence_for(mapping))
        return TruncateResult(*(int(x) for x in rec[:5]), rec[5].decode(), tuple(_freed(rec[6:])))

    async def invalidate(self, mapping: str) -> tuple[int, int, list[Folio]]:
        """invalidate_mapping_pages(mapping, 0, -1): (folios removed, folios kept busy, folios to free)."""
        rec = await self._scripts["invalidate"](self._keys(mapping), [self._cs, self._spans], fence=locks.fence_for(mapping))
        return int(rec[0]), int(rec[1]), _freed(rec[2:])

    async def share_folios(self, src: str, src_index: int, dst: str, dst_index: int, nr_pages: int) -> dict:
        """PFN entries: give ``dst`` entries for ``src``'s clean folios in the range (one atomic step)."""
        require(nr_pages > 0, f"nr_pages must be positive, got {nr_pages}")
        check_index(src_index + nr_pages - 1)
        check_index(dst_index + nr_pages - 1)
        allowed = ",".join(p.name for p in profiles.PROFILES.values() if p.pfn_entries)
        rec = await self._scripts["share"]([*self._keys(src), *self._keys(dst)],
                                           [self._cs, src_index, dst_index, nr_pages, self._spans, allowed],
                                           fence=locks.fence_for(dst))
        return {"folios_shared": int(rec[0]), "pages_shared": int(rec[1]), "folios_skipped": int(rec[2])}

    async def replace_shared(self, mapping: str, index: int, old: Folio, new: Folio,
                             trace: str = "") -> tuple[int, list[Folio]] | None:
        """Put the private copy ``new`` (same order, already allocated) where the shared ``old`` was, copying
        its bytes; returns (folio index, folios to free) or None when ``old`` is no longer there."""
        rec = await self._scripts["replace"](self._keys(mapping), [self._cs, self._spans, check_index(index), old.pfn,
                                                                   new.node, new.pfn, _ADDED_FLAGS, mapping, trace],
                                             fence=locks.fence_for(mapping))
        if rec[0] == b"changed":
            return None
        return int(rec[0]), _freed(rec[2:])

    async def stats(self, mapping: str) -> dict:
        """Entries, nodes, height, Redis bytes and the tags set anywhere (mapping_tagged: xa_marked) of the
        mapping's XArray (`mmsim xa stats`)."""
        rec = await self._scripts["stats"](self._keys(mapping), [self._cs])
        entries, folios, holes, nodes, height, nrpages, zero_pages, mode, tagged = rec
        return {"mapping": mapping, "indexing": mode.decode(), "chunk_shift": self._cs, "entries": entries,
                "folio_entries": folios, "zero_entries": holes, "nodes": nodes, "height": height,
                "redis_bytes": await self.xarray(mapping).memory_bytes(), "nrpages": nrpages,
                "zero_pages": zero_pages, "tagged": [t.value for t in Tag if tagged[t.mark] == ord("1")]}

