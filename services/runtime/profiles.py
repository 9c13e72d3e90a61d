"""Semantics profiles: named sets of the policy knobs the LSFMM 2018 to-do list argues about.

A profile is chosen per filesystem at mkfs (default: MMSIM_PROFILE) and travels with each mapping.

| knob              | lsfmm2018 (the to-do list's proposals)        | linux-6.12 (what the kernel does today)            |
|-------------------|-----------------------------------------------|----------------------------------------------------|
| populate_policy   | fallback: large folio first, then smaller folios down to order 0 | min-order: never below the block size; VM_FAULT_OOM |
| zero_entries      | holes are zero entries in the XArray (no page) | holes are zero-filled page-cache folios            |
| pfn_entries       | reflinked files may share one folio            | refused: a folio has one mapping and index         |
| indexing          | multi-order (one entry per folio)              | multi-order                                        |
| mapcount_limit    | 5000 mappings of one page per process          | 0 = no limit                                       |
| mapcount_action   | kill (SIGKILL the process) or leak (pin the page) | none                                            |
| mapcount_bits     | 32 (a signed 32-bit _mapcount/_refcount)      | 32; narrower only for classroom demos (MapMany)   |
| kvmalloc_flavour  | noretry: contiguous try with __GFP_NORETRY    | noretry (no-direct-reclaim arrived after 6.12)     |
| fs_alloc_context  | scope: memalloc_nofs_save() around the inode lock | scope                                       |
| folio_split       | uniform: split_folio to the minimum order     | uniform (split_folio); linux-7.3: non-uniform (folio_split, mm/truncate.c folio_split_or_unmap) |

``fs_alloc_context`` can be overridden per filesystem at mkfs to show what the scoped API replaced:
``gfp_nofs`` (every allocation under the lock passes GFP_NOFS, the pre-4.12 way) and ``none`` (GFP_KERNEL
under the inode lock: the reclaim-recursion bug that lockdep's fs_reclaim annotation reports, unless the
mask carries __GFP_NOLOCKDEP).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from mmsim.runtime.errors import InvalidArgument

POPULATE_POLICIES = ("fallback", "min-order")
INDEXING_MODES = ("multi-order", "order-0", "hugetlb")
MAPCOUNT_ACTIONS = ("none", "kill", "leak")
KVMALLOC_FLAVOURS = ("noretry", "nodirectreclaim")
FS_ALLOC_CONTEXTS = ("scope", "gfp_nofs", "none")
FOLIO_SPLITS = ("uniform", "non-uniform")


@dataclass(frozen=True)
class Profile:
    name: str
    populate_policy: str
    zero_entries: bool
    pfn_entries: bool
    indexing: str
    mapcount_limit: int
    mapcount_action: str
    kvmalloc_flavour: str
    fs_alloc_context: str = "scope"
    folio_split: str = "uniform"   # how truncation splits a large folio it cuts (mm/huge_memory.c)
    mapcount_bits: int = 32        # width of _mapcount/_refcount for bulk mappings (MapMany): narrower wraps sooner

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "lsfmm2018": Profile("lsfmm2018", "fallback", True, True, "multi-order", 5000, "kill", "noretry"),
    "linux-6.12": Profile("linux-6.12", "min-order", False, False, "multi-order", 0, "none", "noretry"),
    "linux-7.3": Profile("linux-7.3", "min-order", False, False, "multi-order", 0, "none", "nodirectreclaim",
                         folio_split="non-uniform"),
}


def get(name: str, **overrides) -> Profile:
    """The named profile, with knobs overridden (each override validated)."""
    if name not in PROFILES:
        raise InvalidArgument(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    prof = replace(PROFILES[name], **overrides) if overrides else PROFILES[name]
    if prof.populate_policy not in POPULATE_POLICIES:
        raise InvalidArgument(f"populate_policy must be one of {POPULATE_POLICIES}, got {prof.populate_policy!r}")
    if prof.indexing not in INDEXING_MODES:
        raise InvalidArgument(f"indexing must be one of {INDEXING_MODES}, got {prof.indexing!r}")
    if prof.fs_alloc_context not in FS_ALLOC_CONTEXTS:
        raise InvalidArgument(f"fs_alloc_context must be one of {FS_ALLOC_CONTEXTS}, got {prof.fs_alloc_context!r}")
    if prof.folio_split not in FOLIO_SPLITS:
        raise InvalidArgument(f"folio_split must be one of {FOLIO_SPLITS}, got {prof.folio_split!r}")
    if prof.mapcount_action not in MAPCOUNT_ACTIONS:
        raise InvalidArgument(f"mapcount_action must be one of {MAPCOUNT_ACTIONS}, got {prof.mapcount_action!r}")
    if not 8 <= prof.mapcount_bits <= 32:
        raise InvalidArgument(f"mapcount_bits must be 8..32, got {prof.mapcount_bits}")
    if prof.indexing == "hugetlb":
        # hugetlbfs: every folio is a huge page, no fallback to small pages, no zero entries or shared folios
        prof = replace(prof, populate_policy="min-order", zero_entries=False, pfn_entries=False)
    return prof
