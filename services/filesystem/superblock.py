"""The superblock: mkfs and the filesystem-wide constants (models fs/super.c + xfs_mkfs's checks).

Layout in Redis (hash tag ``{fs:NAME}``):

| key        | type   | contents                                                                  |
|------------|--------|---------------------------------------------------------------------------|
| ``sb``     | hash   | name, block_size, profile, min_order, max_order, policy, indexing, alloc_context, next_ino, next_block, blocks_used |
| ``dir``    | hash   | path -> ino                                                               |
| ``blk:B``  | string | the bytes of disk block B (B >= 1; shorter than the block = zero tail)     |
| ``blkref`` | hash   | disk block -> number of file extents referencing it (reflink shares)      |

Disk block numbers are never reused (``next_block`` only grows), so a block freed by one file can never
show up with stale contents in another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmsim.runtime import keys, profiles
from mmsim.runtime.errors import AlreadyExists, InvalidArgument, NotFound, require
from mmsim.runtime.lua import Spec, SpecScript

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MIN_BLOCK_SIZE = 4096
MAX_BLOCK_SIZE = 65536
MAX_PAGECACHE_ORDER = 9  # include/linux/pagemap.h, with THP: min(MAX_XAS_ORDER, HPAGE_PMD_ORDER)
HPAGE_PMD_ORDER = 9
MAX_FILE_SIZE = 1 << 40  # sb->s_maxbytes of the simulated filesystem: 1 TiB (EFBIG beyond)
MAX_IO = (4 << 20) - (64 << 10)

_NAME_RE = re.compile(r"^[a-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Superblock:
    name: str
    block_size: int
    profile: profiles.Profile
    min_order: int
    max_order: int
    blocks_used: int = 0     # as of the load (units: blocks)

    @property
    def policy(self) -> str:
        return self.profile.populate_policy


def overrides(alloc_context: str = "", indexing: str = "") -> dict[str, str]:
    """The profile knobs an mkfs-time alloc_context and an mkfs/create-time indexing override (none when empty)."""
    out = {"fs_alloc_context": alloc_context} if alloc_context else {}
    return {**out, "indexing": indexing} if indexing else out


def folio_orders(prof: profiles.Profile, min_order: int, max_order: int) -> tuple[int, int]:
    """(min, max) folio order of a file: a hugetlb file's folios are all huge pages (HPAGE_PMD_ORDER)."""
    return (HPAGE_PMD_ORDER, HPAGE_PMD_ORDER) if prof.indexing == "hugetlb" else (min_order, max_order)


def block_order(block_size: int) -> int:
    """mapping_min_folio_order for a block size: log2(block_size / PAGE_SIZE)."""
    return block_size.bit_length() - 1 - PAGE_SHIFT


def check_name(name: str) -> None:
    require(bool(_NAME_RE.match(name or "")), f"filesystem name must match [a-z0-9_-]{{1,32}}, got {name!r}")


MKFS = SpecScript(Spec("mkfs", keys=("sb", "filesystems"), args=("name", "*fields"),
                       replies={"created": (), "exists": ()}), __file__)
"""mkfs.lua. KEY sb (the superblock hash), filesystems (the cluster's set of them); ARG name, fields (the
superblock's field, value pairs)."""


async def mkfs(redis, name: str, block_size: int, profile_name: str, max_folio_order: int | None,
               default_profile: str, alloc_context: str = "", indexing: str = "") -> Superblock:
    """mkfs: validate, then create the superblock atomically (ALREADY_EXISTS if the name is taken)."""
    check_name(name)
    require(block_size & (block_size - 1) == 0 and block_size > 0,
            f"block_size must be a power of two, got {block_size}")
    require(MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE,
            f"block_size must be between {MIN_BLOCK_SIZE} and {MAX_BLOCK_SIZE} bytes, got {block_size}")
    prof = profiles.get(profile_name or default_profile, **overrides(alloc_context, indexing))
    min_order = block_order(block_size)
    max_order = MAX_PAGECACHE_ORDER if max_folio_order is None else max_folio_order
    require(0 <= max_order <= MAX_PAGECACHE_ORDER,
            f"max_folio_order must be 0..{MAX_PAGECACHE_ORDER} (MAX_PAGECACHE_ORDER), got {max_order}")
    if prof.populate_policy == "min-order" and max_order < min_order:
        raise InvalidArgument(
            f"max_folio_order {max_order} is below the block's min order {min_order}, which profile "
            f"{prof.name} (populate_policy min-order) never goes below; use a fallback profile to force small folios")
    require(prof.indexing != "hugetlb" or max_folio_order in (None, HPAGE_PMD_ORDER),
            f"hugetlb indexing uses huge pages only (order {HPAGE_PMD_ORDER}); max_folio_order {max_folio_order} contradicts it")
    min_order, max_order = folio_orders(prof, min_order, max_order)
    sb = Superblock(name, block_size, prof, min_order, max_order)
    fields = {"name": name, "block_size": block_size, "profile": prof.name, "min_order": min_order,
              "max_order": max_order, "policy": prof.populate_policy, "next_ino": 0, "next_block": 0,
              "blocks_used": 0, "alloc_context": prof.fs_alloc_context, "indexing": prof.indexing}
    r = await MKFS(redis, sb=keys.fs(name, "sb"), filesystems=keys.cluster("filesystems"), name=name,
                   fields=[x for kv in fields.items() for x in kv])
    if r.kind == "exists":
        raise AlreadyExists(f"filesystem {name!r} already exists")
    return sb


async def load(redis, name: str) -> Superblock:
    check_name(name)
    raw = await redis.hgetall(keys.fs(name, "sb"))
    if not raw:
        raise NotFound(f"no filesystem named {name!r}")
    d = {k.decode(): v.decode() for k, v in raw.items()}
    prof = profiles.get(d["profile"], **overrides(d.get("alloc_context", ""), d.get("indexing", "")))
    return Superblock(d["name"], int(d["block_size"]), prof, int(d["min_order"]), int(d["max_order"]),
                      int(d.get("blocks_used", 0)))
