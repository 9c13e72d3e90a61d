"""struct page in Redis: fixed 56-byte records packed into chunk strings, plus the Lua library that edits them.

Models include/linux/mm_types.h ``struct page`` after the 2018 reorganisation (Wilcox, "Rearrange
struct page", merged for 4.18): a flags word, ONE five-word union, ``_mapcount``/``page_type``,
``_refcount`` and the memcg word.

Record layout (little endian, 56 bytes, ``RECORD_FMT``)::

    off  size  field
      0     4  flags       u32  PG_* bits in the kernel's enum order (PG_FLAGS). Node and zone, which
                                the kernel keeps in the top bits of page->flags, are derived from the pfn.
      4     4  _mapcount   i32  -1 = not mapped; a *typed* page (PageBuddy, PageTable...) stores page_type
                                here with the 4.18 encoding: PAGE_TYPE_BASE 0xf0000000 with the type's
                                bit CLEARED (PageBuddy: -1 & ~0x80 = 0xffffff7f).
      8     8  w0          i64  union word 1 \
     16     8  w1          i64  union word 2  |  the five-word union; which member is in use is named by
     24     8  w2          i64  union word 3  |  decode_page() (UNION_MEMBERS): page cache/anon
     32     8  w3          i64  union word 4  |  {lru.next, lru.prev, mapping, index, private}; buddy
     40     8  w4          i64  union word 5 /   {buddy_list, -, -, private = order}; compound tail
                                                 {compound_head = head_pfn*2+1, ...}; slab; page table;
                                                 or the five words an owner uses freely.
     48     4  _refcount   i32
     52     4  memcg       u32  memcg id (0 = none); the kernel's memcg_data is a pointer.

Words hold pfns, interned mapping ids (``mapping_intern``; the table is the node's ``intern`` hash) and
file indices; Lua numbers are doubles, so every value must stay below 2**53.

Records live in ``mmsim:{node:N}:vmemmap:C`` strings, PAGES_PER_CHUNK (4096) records each, C =
(pfn - node_start_pfn) // 4096. 4096 * 56 bytes = 224 KiB per string: about 56 bytes of Redis memory
per page (measured by benchmarks/bench_alloc.py), under the kernel's 64.

Lua calling convention (``VMEMMAP_LUA_LIB``; compose with ``build_script(body)``)
-------------------------------------------------------------------------------
The library is a block of ``local`` functions to be prepended to a script body. The body must first
call ``vm_init(prefix, node_start_pfn, node_end_pfn)`` where prefix is ``mmsim:{node:N}:`` (pass it as
KEYS[1]; all keys the library touches are built from it, so they share the node's hash tag). Then:

* ``page_get(pfn) -> p`` table {flags, mapcount, w0..w4, refcount, memcg}; ``page_put(pfn, p)``
* ``page_get_field(pfn, name)`` / ``page_set_field(pfn, name, value)``; names: flags, mapcount,
  page_type, w0..w4, refcount, memcg and the aliases lru_next=w0, lru_prev=w1, mapping=w2, index=w3,
  private=w4, compound_head=w0. 32-bit fields are range checked.
* ``page_flags_set(pfn, mask)`` / ``page_flags_clear(pfn, mask)`` -> new flags; ``page_test_flag``.
* ``page_ref_add(pfn, delta) -> new _refcount``: fails (OutOfRange) past INT_MAX, (FailedPrecondition)
  below 0 or on a PageBuddy page. ``page_try_get(pfn) -> 1|0``: try_get_page semantics: 0 (refused,
  nothing changed) when the count is <= 0 or is INT_MAX. ``page_ref_freeze(pfn, expected) -> 1|0``.
* ``page_mapcount_add(pfn, delta) -> new _mapcount``: refuses typed pages; fails past INT_MAX (the
  32-bit wrap of section 6.3 is refused, not performed) and below -1.
* ``page_is_type(p, PT_BUDDY)``, ``page_compound_head(pfn) -> head pfn`` (itself if not a tail).
* ``mapping_intern(name) -> id`` / ``mapping_name(id)``; ids are multiples of 4 so that bit 0
  (PAGE_MAPPING_ANON) and bit 1 (PAGE_MAPPING_MOVABLE) keep their kernel meaning.
* ``vm_spans('0:START:END,1:START:END')`` then ``vm_node(nid)`` switches the library to another node (for
  scripts that touch folios of several nodes; ``node_spans(layout)`` builds the spec). Such a script
  crosses hash tags: it runs on one Redis, not on a Redis Cluster.
* ``mm_fail(code, msg)`` raises ``error('MMSIM <Code> <msg>', 0)``; Python turns it into the
  mmsim.runtime.errors class ``<Code>`` (mmsim.runtime.lua.raise_from_redis). Redis does not roll back a script's
  writes on error, so every check must come before the first write.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mmsim.runtime import lua

PAGES_PER_CHUNK = 4096
RECORD_SIZE = 56
RECORD_FMT = "<Iiqqqqqii"
assert struct.calcsize(RECORD_FMT) == RECORD_SIZE
INT_MAX = 2**31 - 1

# include/linux/page-flags.h enum pageflags, current order (fact sheet 7.3)
PG_FLAGS = (
    "locked", "writeback", "referenced", "uptodate", "dirty", "lru", "head", "waiters", "active",
    "workingset", "owner_priv_1", "owner_2", "arch_1", "reserved", "private", "private_2", "reclaim",
    "swapbacked", "unevictable", "dropbehind", "mlocked", "hwpoison",
)  # fmt: skip
PG = {name: 1 << bit for bit, name in enumerate(PG_FLAGS)}
PG_ZEROED = 1 << 30
MAPPING_SHARED = 2
"""->mapping of a page-cache folio shared by several mappings through PFN entries (the LSFMM 2018 idea);
->index then counts the mappings, as fs/dax.c keeps a shared DAX folio (PAGE_MAPPING_DAX_SHARED, ->share);
at a count of 1 the remaining mapping owns the folio alone (it stays marked until it leaves the cache).
Interned mapping ids are multiples of 4, so 2 is never a real mapping."""
"""Simulator-only flag: the page was handed out zeroed (__GFP_ZERO). There is no page data to clear in the
allocator, so zeroing is recorded; the page cache treats a zeroed page as all-zero content."""

PRINT_ORDER = (
    "locked", "waiters", "referenced", "uptodate", "dirty", "lru", "active", "workingset", "owner_priv_1",
    "owner_2", "arch_1", "reserved", "private", "private_2", "writeback", "head", "reclaim", "swapbacked",
    "unevictable", "dropbehind", "mlocked", "hwpoison",
)  # fmt: skip
"""%pGp order (include/trace/events/mmflags.h __def_pageflag_names), not the enum order."""

PAGE_FLAGS_CHECK_AT_FREE = (
    PG["lru"] | PG["locked"] | PG["private"] | PG["private_2"] | PG["writeback"] | PG["reserved"]
    | PG["active"] | PG["unevictable"] | PG["mlocked"]
)  # fmt: skip
"""include/linux/page-flags.h PAGE_FLAGS_CHECK_AT_FREE (without LRU_GEN_MASK)."""

PAGE_TYPE_BASE = 0xF0000000
PT_BUDDY = 0x80
PT_OFFLINE = 0x100
PT_TABLE = 0x200
PT_GUARD = 0x400
PT_SLAB = 0x800
PAGE_TYPES = {PT_BUDDY: "buddy", PT_OFFLINE: "offline", PT_TABLE: "table", PT_GUARD: "guard", PT_SLAB: "slab"}

FIELD_OFFSETS = {
    "flags": (0, "I4"), "mapcount": (4, "i4"), "page_type": (4, "i4"),
    "w0": (8, "i8"), "w1": (16, "i8"), "w2": (24, "i8"), "w3": (32, "i8"), "w4": (40, "i8"),
    "refcount": (48, "i4"), "memcg": (52, "I4"),
}  # fmt: skip
ALIASES = {"lru_next": "w0", "lru_prev": "w1", "mapping": "w2", "index": "w3", "private": "w4", "compound_head": "w0"}


def _signed32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def page_type_value(pt: int) -> int:
    """_mapcount value of a page with page type ``pt`` (4.18 encoding: the bit is cleared)."""
    return _signed32(0xFFFFFFFF & ~pt)


def is_page_type(mapcount: int, pt: int) -> bool:
    return (mapcount & 0xFFFFFFFF) & (PAGE_TYPE_BASE | pt) == PAGE_TYPE_BASE


def pack_record(flags=0, mapcount=-1, w=(0, 0, 0, 0, 0), refcount=0, memcg=0) -> bytes:
    return struct.pack(RECORD_FMT, flags, mapcount, *w, refcount, memcg)


FREE_RECORD = pack_record()
"""A page inside a free block, or a never-used page: no flags, _mapcount -1, _refcount 0."""


def buddy_record(order: int, migratetype: int) -> bytes:
    """Head of a free block: PageBuddy, private = order, w1 = the migratetype list it is on."""
    return pack_record(mapcount=page_type_value(PT_BUDDY), w=(0, migratetype, 0, 0, order))


VMEMMAP_LUA_LIB = lua.source(__file__, "vmemmap", "ledger")
"""The library ends with the in-flight allocation ledger (ledger.lua): ledger_put, ledger_check_take, ledger_drop."""


def node_spans(layout) -> str:
    """The vm_spans() argument for a Layout: 'nid:start_pfn:end_pfn,...'."""
    return ",".join(f"{n.nid}:{n.start_pfn}:{n.end_pfn}" for n in layout.nodes)


def build_script(body: str) -> str:
    """A script = the vmemmap library followed by ``body`` (which calls vm_init first)."""
    return VMEMMAP_LUA_LIB + "\n" + body


Script = lua.ShaScript
"""An EVALSHA wrapper that loads on NOSCRIPT and maps MMSIM errors (one round trip when cached)."""


# ---- decoding (page-types / drgn style) --------------------------------------------------------


@dataclass
class PageDescriptor:
    pfn: int
    node: int
    zone: str
    flags: int
    mapcount: int
    words: tuple[int, int, int, int, int]
    refcount: int
    memcg: int
    member: str = ""
    fields: dict = field(default_factory=dict)
    flag_names: list[str] = field(default_factory=list)
    page_type: str = ""
    folio_order: int = 0
    owner: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "pfn": self.pfn, "node": self.node, "zone": self.zone, "flags": self.flags,
            "flag_names": self.flag_names, "page_type": self.page_type, "_mapcount": self.mapcount,
            "_refcount": self.refcount, "memcg": self.memcg, "union": self.member, "fields": self.fields,
            "folio_order": self.folio_order, "owner": self.owner, "words": list(self.words),
        }  # fmt: skip

    def format(self) -> str:
        """drgn-like dump: the flags by %pGp names, then only the union member in use."""
        names = "|".join(self.flag_names) or "none"
        lines = [
            f"*(struct page *)pfn_to_page({self.pfn}) = {{  /* node {self.node}, zone {self.zone} */",
            f"\t.flags = {self.flags:#x} ({names}),",
            f"\t/* union member in use: {self.member} */",
        ]
        for k, v in self.fields.items():
            lines.append(f"\t.{k} = {v},")
        if self.page_type:
            lines.append(f"\t.page_type = {self.mapcount & 0xFFFFFFFF:#x} ({self.page_type}),")
        else:
            lines.append(f"\t._mapcount = {self.mapcount},")
        lines.append(f"\t._refcount = {self.refcount},")
        lines.append(f"\t.memcg_data = {self.memcg},")
        lines.append("}")
        if self.owner:
            o = self.owner
            lines.append(f"Page allocated via order {o['order']}, mask {o['mode']}")
        lines.append(f"folio order: {self.folio_order}")
        return "\n".join(lines)


def flag_names(flags: int) -> list[str]:
    out = [n for n in PRINT_ORDER if flags & PG[n]]
    if flags & PG_ZEROED:
        out.append("zeroed(mmsim)")
    return out


def decode_page(pfn: int, raw: bytes, node: int, zone: str, mapping_names: dict[int, str] | None = None,
                migratetype_names=("Unmovable", "Movable", "Reclaimable")) -> PageDescriptor:  # fmt: skip
    """Decode one record and name the union member in use (page-types / drgn view)."""
    flags, mapcount, w0, w1, w2, w3, w4, refcount, memcg = struct.unpack(RECORD_FMT, raw)
    d = PageDescriptor(pfn, node, zone, flags, mapcount, (w0, w1, w2, w3, w4), refcount, memcg)
    d.flag_names = flag_names(flags)
    ptype = next((name for bit, name in PAGE_TYPES.items() if is_page_type(mapcount, bit)), "")
    if mapcount == -1:
        ptype = ""
    d.page_type = ptype
    if ptype == "buddy":
        d.member = "buddy"
        mt = migratetype_names[w1] if 0 <= w1 < len(migratetype_names) else str(w1)
        d.fields = {"buddy_list": f"free_list[order {w4}][{mt}]", "private": f"{w4} /* buddy order */"}
    elif w0 & 1:
        d.member = "compound_tail"
        d.fields = {"compound_head": f"{w0:#x} /* pfn {w0 >> 1} | 1 */"}
        if w1:
            d.fields.update({"compound_order": w1, "compound_mapcount": w2, "_nr_pages_mapped": w3, "_pincount": w4})
    elif ptype == "table":
        d.member = "page_table"
        d.fields = {"_pt_pad_1": w0, "pmd_huge_pte": w1, "_pt_pad_2": w2, "pt_mm": w3, "ptl": w4}
    elif ptype == "slab":
        d.member = "slab"
        d.fields = {"slab_list.next": w0, "slab_list.prev": w1, "slab_cache": w2, "freelist": w3, "counters": w4}
    elif refcount == 0:
        d.member = "none (free page inside a buddy block)" if not any(d.words) else "none (free)"
        d.fields = {}
    elif w2 or flags & (PG["lru"] | PG["uptodate"] | PG["dirty"] | PG["swapbacked"]):
        d.member = "page_cache" if not (w2 & 1) else "anon"
        name = (mapping_names or {}).get(w2)
        mapping = f"{w2} /* {name} */" if name else (f"{w2:#x} /* anon_vma | PAGE_MAPPING_ANON */" if w2 & 1 else w2)
        d.fields = {"lru.next": w0, "lru.prev": w1, "mapping": mapping, "index": w3, "private": w4}
        if w2 == MAPPING_SHARED:
            d.member = "page_cache_shared"
            d.fields.update(mapping=f"{w2:#x} /* shared through PFN entries */", share=w3)
            del d.fields["index"]
    else:
        d.member = "owner_words"
        d.fields = {"_w0": w0, "_w1": w1, "_w2": w2, "_w3": w3, "_w4": w4}
    return d
