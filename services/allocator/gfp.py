"""GFP flags, their composites, scoped constraints and what the allocator derives from them.

Models include/linux/gfp_types.h (bit values of a v6.8 tree, x86-64 without CONFIG_KASAN_HW_TAGS,
with CONFIG_LOCKDEP so __GFP_NOLOCKDEP is 0x4000000), include/linux/gfp.h (gfp_zone,
gfp_migratetype), include/linux/sched/mm.h (current_gfp_context), mm/page_alloc.c
(gfp_to_alloc_flags) and the %pGg printing of lib/vsprintf.c with the name table of
include/trace/events/mmflags.h (__def_gfpflag_names: composites first, most bits first).

GFP_NOWAIT follows current kernels (__GFP_KSWAPD_RECLAIM | __GFP_NOWARN); v6.8 had no __GFP_NOWARN in it.
"""

from __future__ import annotations

import enum

from mmsim.runtime.errors import InvalidArgument


_GFP_BITS = [
    ("__GFP_DMA", 0x01),
    ("__GFP_HIGHMEM", 0x02),
    ("__GFP_DMA32", 0x04),
    ("__GFP_MOVABLE", 0x08),
    ("__GFP_RECLAIMABLE", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_ZERO", 0x100),
    ("__GFP_DIRECT_RECLAIM", 0x400),
    ("__GFP_KSWAPD_RECLAIM", 0x800),
    ("__GFP_WRITE", 0x1000),
    ("__GFP_NOWARN", 0x2000),
    ("__GFP_RETRY_MAYFAIL", 0x4000),
    ("__GFP_NOFAIL", 0x8000),
    ("__GFP_NORETRY", 0x10000),
    ("__GFP_MEMALLOC", 0x20000),
    ("__GFP_COMP", 0x40000),
    ("__GFP_NOMEMALLOC", 0x80000),
    ("__GFP_HARDWALL", 0x100000),
    ("__GFP_THISNODE", 0x200000),
    ("__GFP_ACCOUNT", 0x400000),
    ("__GFP_ZEROTAGS", 0x800000),
    ("__GFP_NOLOCKDEP", 0x4000000),
]

GFP = enum.IntFlag("GFP", _GFP_BITS)
GFP.__doc__ = "The __GFP_* modifiers (kernel names, v6.8 bit values). Index as GFP['__GFP_ZERO']."


# Names with two leading underscores are mangled inside class bodies, hence the functional enum
# above; at module level the kernel spellings work as plain names.
__GFP_DMA = GFP["__GFP_DMA"]
__GFP_HIGHMEM = GFP["__GFP_HIGHMEM"]
__GFP_DMA32 = GFP["__GFP_DMA32"]
__GFP_MOVABLE = GFP["__GFP_MOVABLE"]
__GFP_RECLAIMABLE = GFP["__GFP_RECLAIMABLE"]
__GFP_HIGH = GFP["__GFP_HIGH"]
__GFP_IO = GFP["__GFP_IO"]
__GFP_FS = GFP["__GFP_FS"]
__GFP_ZERO = GFP["__GFP_ZERO"]
__GFP_DIRECT_RECLAIM = GFP["__GFP_DIRECT_RECLAIM"]
__GFP_KSWAPD_RECLAIM = GFP["__GFP_KSWAPD_RECLAIM"]
__GFP_WRITE = GFP["__GFP_WRITE"]
__GFP_NOWARN = GFP["__GFP_NOWARN"]
__GFP_RETRY_MAYFAIL = GFP["__GFP_RETRY_MAYFAIL"]
__GFP_NOFAIL = GFP["__GFP_NOFAIL"]
__GFP_NORETRY = GFP["__GFP_NORETRY"]
__GFP_MEMALLOC = GFP["__GFP_MEMALLOC"]
__GFP_COMP = GFP["__GFP_COMP"]
__GFP_NOMEMALLOC = GFP["__GFP_NOMEMALLOC"]
__GFP_HARDWALL = GFP["__GFP_HARDWALL"]
__GFP_THISNODE = GFP["__GFP_THISNODE"]
__GFP_ACCOUNT = GFP["__GFP_ACCOUNT"]
__GFP_ZEROTAGS = GFP["__GFP_ZEROTAGS"]
__GFP_NOLOCKDEP = GFP["__GFP_NOLOCKDEP"]

__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM
GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE
GFP_MOVABLE_SHIFT = 3

GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE
GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM

COMPOSITES: dict[str, int] = {
    "GFP_TRANSHUGE": GFP_TRANSHUGE,
    "GFP_TRANSHUGE_LIGHT": GFP_TRANSHUGE_LIGHT,
    "GFP_HIGHUSER_MOVABLE": GFP_HIGHUSER_MOVABLE,
    "GFP_HIGHUSER": GFP_HIGHUSER,
    "GFP_USER": GFP_USER,
    "GFP_KERNEL_ACCOUNT": GFP_KERNEL_ACCOUNT,
    "GFP_KERNEL": GFP_KERNEL,
    "GFP_NOFS": GFP_NOFS,
    "GFP_ATOMIC": GFP_ATOMIC,
    "GFP_NOIO": GFP_NOIO,
    "GFP_NOWAIT": GFP_NOWAIT,
    "GFP_DMA": GFP_DMA,
    "GFP_DMA32": GFP_DMA32,
    "__GFP_RECLAIM": __GFP_RECLAIM,
}
"""Composite names in the order of mmflags.h __def_gfpflag_names (matching masks print first)."""

_NAME_TABLE: list[tuple[str, int]] = list(COMPOSITES.items()) + [(f.name, int(f.value)) for f in GFP]
_BY_NAME: dict[str, int] = dict(_NAME_TABLE)
_BY_NAME["0"] = 0


def format_gfp(gfp: int) -> str:
    """Format as %pGg does: composite names first, '|' separated, left-over bits as %#x; 0 -> ''."""
    gfp = int(gfp)
    parts: list[str] = []
    for name, mask in _NAME_TABLE:
        if not gfp:
            break
        if mask and gfp & mask == mask:
            parts.append(name)
            gfp &= ~mask
    if gfp:
        parts.append(hex(gfp))
    return "|".join(parts)


def describe_gfp(gfp: int) -> str:
    """'0xcc0(GFP_KERNEL)': the mode:%#x(%pGg) pair of warn_alloc and page_owner."""
    return f"{int(gfp):#x}({format_gfp(gfp)})"


def parse_gfp(text: str | int) -> int:
    """Parse 'GFP_KERNEL|__GFP_ZERO', '0xcc0', '0xcc0(GFP_KERNEL)' or an int into a mask."""
    if isinstance(text, int):
        if text < 0 or text >= 1 << 32:
            raise InvalidArgument(f"gfp mask {text:#x} out of range (gfp_t is 32 bits)")
        return text
    s = text.strip()
    if "(" in s and s.endswith(")"):
        s = s[: s.index("(")]
    mask = 0
    for part in s.split("|"):
        p = part.strip()
        if not p:
            continue
        if p in _BY_NAME:
            mask |= _BY_NAME[p]
        elif p.upper() in _BY_NAME:
            mask |= _BY_NAME[p.upper()]
        elif ("__GFP_" + p.upper()) in _BY_NAME:
            mask |= _BY_NAME["__GFP_" + p.upper()]
        else:
            try:
                mask |= int(p, 0)
            except ValueError:
                raise InvalidArgument(f"unknown gfp flag {p!r} in {text!r}") from None
    return parse_gfp(mask)


# ---- scoped constraints (include/linux/sched/mm.h) ------------------------------------------

PF_MEMALLOC_NOFS = 1
PF_MEMALLOC_NOIO = 2
"""Scope bits; the same values as mmsim.runtime.scope.Memalloc."""


def current_gfp_context(gfp: int, scope: int = 0) -> int:
    """Models include/linux/sched/mm.h: current_gfp_context. NOIO wins over NOFS.

    ``scope`` is a PF_MEMALLOC_NOFS / PF_MEMALLOC_NOIO bit set (mmsim.runtime.scope.Memalloc works);
    NOIO clears __GFP_IO and __GFP_FS, NOFS clears __GFP_FS.
    """
    gfp = int(gfp)
    scope = int(scope)
    if scope & PF_MEMALLOC_NOIO:
        gfp &= ~int(__GFP_IO | __GFP_FS)
    elif scope & PF_MEMALLOC_NOFS:
        gfp &= ~int(__GFP_FS)
    return gfp


# ---- what the allocator derives (mm/page_alloc.c, include/linux/gfp.h, mm/internal.h) -------

ALLOC_WMARK_MIN = 0
ALLOC_WMARK_LOW = 1
ALLOC_WMARK_HIGH = 2
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_OOM = 0x08
ALLOC_NON_BLOCK = 0x10
ALLOC_MIN_RESERVE = 0x20
ALLOC_CPUSET = 0x40
ALLOC_CMA = 0x80
ALLOC_NOFRAGMENT = 0x100
ALLOC_HIGHATOMIC = 0x200
ALLOC_KSWAPD = 0x800
ALLOC_RESERVES = ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM

ALLOC_FLAG_NAMES = {
    ALLOC_NO_WATERMARKS: "ALLOC_NO_WATERMARKS",
    ALLOC_OOM: "ALLOC_OOM",
    ALLOC_NON_BLOCK: "ALLOC_NON_BLOCK",
    ALLOC_MIN_RESERVE: "ALLOC_MIN_RESERVE",
    ALLOC_CPUSET: "ALLOC_CPUSET",
    ALLOC_CMA: "ALLOC_CMA",
    ALLOC_NOFRAGMENT: "ALLOC_NOFRAGMENT",
    ALLOC_HIGHATOMIC: "ALLOC_HIGHATOMIC",
    ALLOC_KSWAPD: "ALLOC_KSWAPD",
}


def format_alloc_flags(flags: int) -> str:
    wmark = ("ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "?")[flags & ALLOC_WMARK_MASK]
    names = [wmark] + [n for bit, n in ALLOC_FLAG_NAMES.items() if flags & bit]
    return "|".join(names)


def gfp_to_alloc_flags(gfp: int, order: int = 0) -> int:
    """Models mm/page_alloc.c: gfp_to_alloc_flags (the slow path's flags).

    ALLOC_WMARK_MIN | ALLOC_CPUSET; __GFP_HIGH -> ALLOC_MIN_RESERVE; __GFP_KSWAPD_RECLAIM ->
    ALLOC_KSWAPD; without __GFP_DIRECT_RECLAIM: ALLOC_NON_BLOCK unless __GFP_NOMEMALLOC,
    ALLOC_HIGHATOMIC for order > 0, and no cpuset check when ALLOC_MIN_RESERVE.
    __GFP_MEMALLOC (without __GFP_NOMEMALLOC) -> ALLOC_NO_WATERMARKS (models
    __gfp_pfmemalloc_flags, which the slow path ORs in).
    """
    gfp = int(gfp)
    flags = ALLOC_WMARK_MIN | ALLOC_CPUSET
    if gfp & __GFP_HIGH:
        flags |= ALLOC_MIN_RESERVE
    if gfp & __GFP_KSWAPD_RECLAIM:
        flags |= ALLOC_KSWAPD
    if not gfp & __GFP_DIRECT_RECLAIM:
        if not gfp & __GFP_NOMEMALLOC:
            flags |= ALLOC_NON_BLOCK
        if order > 0:
            flags |= ALLOC_HIGHATOMIC
        if flags & ALLOC_MIN_RESERVE:
            flags &= ~ALLOC_CPUSET
    if gfp & __GFP_MEMALLOC and not gfp & __GFP_NOMEMALLOC:
        flags |= ALLOC_NO_WATERMARKS
    return flags


FAST_PATH_ALLOC_FLAGS = ALLOC_WMARK_LOW | ALLOC_CPUSET
"""The first get_page_from_freelist attempt of __alloc_pages uses the low watermark."""

ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE = 0, 1, 2, 3
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable")


def gfp_zone(gfp: int) -> int:
    """Models include/linux/gfp.h: gfp_zone for x86-64 (no HIGHMEM zone).

    __GFP_DMA -> ZONE_DMA, __GFP_DMA32 -> ZONE_DMA32, __GFP_HIGHMEM|__GFP_MOVABLE together (as in
    GFP_HIGHUSER_MOVABLE) -> ZONE_MOVABLE, anything else -> ZONE_NORMAL (__GFP_HIGHMEM alone maps to
    ZONE_NORMAL on 64-bit; __GFP_MOVABLE alone too). DMA together with DMA32 is invalid (BUG in the
    kernel): InvalidArgument here.
    """
    gfp = int(gfp)
    if gfp & __GFP_DMA and gfp & __GFP_DMA32:
        raise InvalidArgument(f"gfp {describe_gfp(gfp)}: __GFP_DMA and __GFP_DMA32 together are invalid")
    if gfp & __GFP_DMA:
        return ZONE_DMA
    if gfp & __GFP_DMA32:
        return ZONE_DMA32
    if gfp & __GFP_MOVABLE and gfp & __GFP_HIGHMEM:
        return ZONE_MOVABLE
    return ZONE_NORMAL


MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE = 0, 1, 2
MIGRATE_PCPTYPES = 3
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable")
"""Names as /proc/pagetypeinfo prints them (mm/page_alloc.c migratetype_names)."""


def gfp_migratetype(gfp: int) -> int:
    """Models include/linux/gfp.h: gfp_migratetype ((gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT)."""
    gfp = int(gfp)
    if gfp & GFP_MOVABLE_MASK == GFP_MOVABLE_MASK:
        raise InvalidArgument(f"gfp {describe_gfp(gfp)}: __GFP_MOVABLE and __GFP_RECLAIMABLE together are invalid")
    return (gfp & int(GFP_MOVABLE_MASK)) >> GFP_MOVABLE_SHIFT


def gfpflags_allow_blocking(gfp: int) -> bool:
    """Models include/linux/gfp.h: gfpflags_allow_blocking."""
    return bool(int(gfp) & __GFP_DIRECT_RECLAIM)
