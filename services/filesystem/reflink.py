"""Reflink (FICLONERANGE): two files share extents; a later write copies a shared block first.

Models vfs_clone_file_range -> generic_remap_file_range_prep (same superblock, block-aligned offsets,
a length that is block-aligned unless it ends at the source's EOF, no overlap within one file, both
ranges written back and the destination's page cache invalidated) -> xfs_reflink_remap_blocks (the
destination's extents point at the source's blocks, each block's refcount + 1, the destination's old
blocks released). The copy on write happens in writeback (mmsim.filesystem.writeback).

Page-cache sharing ("PFN entries", the 2018 to-do list): a folio has one mapping and one index, so each
reflinked file caches its own copy. ``share_folios`` asks for one folio in both caches; it is refused
with the reason (profile without pfn_entries, or, with pfn_entries, because the page cache does not hold
shared PFN entries yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsim.runtime import keys, locks
from mmsim.runtime.errors import FailedPrecondition, InvalidArgument, OutOfRange, require
from mmsim.runtime.lua import Spec, SpecScript, source
from mmsim.filesystem import intents
from mmsim.filesystem.inode import Inode, from_grant, load, parse_mapping, require_offset
from mmsim.filesystem.superblock import MAX_FILE_SIZE, PAGE_SIZE
from mmsim.filesystem.writeback import writeback_locked

REMAP = SpecScript(Spec("remap", keys=("src_extents", "dst_extents", "inode", "intent", "sb", "blkref"),
                        args=("src_first", "dst_first", "n", "i_size", "prefix"),
                        replies={"remapped": ("shared:int", "freed:int")}), __file__, source(__file__, "blocks"),
                   fenced=True)


@dataclass
class ReflinkStats:
    blocks_shared: int = 0
    i_size: int = 0
    blocks_freed: int = 0
    pages_shared: int = 0


async def reflink(env, src: str, src_off: int, dst: str, dst_off: int, length: int,
                  share_folios: bool = False) -> ReflinkStats:
    require_offset("src_offset", src_off)
    require_offset("dst_offset", dst_off)
    require_offset("length", length)
    src_fs, _ = parse_mapping(src)
    dst_fs, _ = parse_mapping(dst)
    async with env.locks.hold_all([src, dst], load=True) as inodes:
        si, di = from_grant(src, inodes[src]), from_grant(dst, inodes[dst])
        if si.block_size != di.block_size:
            raise InvalidArgument(f"EINVAL: reflink between block sizes {si.block_size} ({src}) and "
                                  f"{di.block_size} ({dst}): extents cannot be shared")
        if src_fs != dst_fs:
            raise InvalidArgument(f"EXDEV: {src} and {dst} are on different filesystems")
        if share_folios and not di.profile.pfn_entries:
            raise FailedPrecondition(
                f"profile {di.profile.name} has no PFN entries: a folio has one mapping and one index, "
                "so reflinked files cannot share page-cache folios (each caches its own copy)")
        bs = si.block_size
        if length == 0:
            length = max(0, si.i_size - src_off)
        require(src_off % bs == 0 and dst_off % bs == 0,
                f"offsets must be multiples of the block size {bs}, got src {src_off} dst {dst_off}")
        require(src_off + length <= si.i_size,
                f"source range [{src_off}, {src_off + length}) runs past its EOF {si.i_size}")
        dst_end = dst_off + length
        if dst_end > MAX_FILE_SIZE:
            raise OutOfRange(f"EFBIG: destination end {dst_end} exceeds the maximum file size {MAX_FILE_SIZE}")
        if length % bs:
            require(src_off + length == si.i_size,
                    f"length {length} is not a multiple of the block size {bs} and does not end at the source's EOF")
            require(dst_end >= di.i_size,
                    f"an unaligned tail may only be cloned to or past the destination's EOF ({di.i_size})")
        if src == dst:
            require(src_off + length <= dst_off or dst_off + length <= src_off,
                    "source and destination ranges overlap within one file")
        st = ReflinkStats(i_size=max(di.i_size, dst_end))
        if length == 0:
            return st
        await intents.begin(env, dst, "reflink", src=src, src_off=src_off, dst_off=dst_off, length=length,
                            i_size=st.i_size)
        st.blocks_shared, st.blocks_freed = await _remap(env, si, di, src_off, dst_off, length, st.i_size)
        if share_folios and src_off % PAGE_SIZE == 0 and dst_off % PAGE_SIZE == 0:
            # PFN entries (LSFMM 2018): the destination caches the source's clean folios, no copy
            st.pages_shared = await env.ports.share_folios(src, src_off // PAGE_SIZE, dst, dst_off // PAGE_SIZE,
                                                           -(-length // PAGE_SIZE))
        return st


async def _remap(env, si: Inode, di: Inode, src_off: int, dst_off: int, length: int, i_size: int) -> tuple[int, int]:
    """The steps after the checks, each safe to run again; the last (REMAP) clears the intent.
    Returns (blocks shared, blocks freed)."""
    ports, src, dst = env.ports, si.mapping, di.mapping
    # filemap_write_and_wait_range on both, then invalidate the destination's cached range
    await writeback_locked(env, src)
    if dst != src:
        await writeback_locked(env, dst)
    bs = si.block_size
    span = -(-length // bs) * bs
    # truncate_pagecache_range on the destination (xfs_reflink_remap_prep): the page cache splits a large
    # folio (or zero entry) straddling either edge, drops what lies inside and unmaps it
    # (truncate_inode_partial_folio). Like truncate_pagecache_range, even_cows=0: a process's private
    # copy-on-write pages of the range are its own and survive the clone.
    await ports.unmap_mapping_range(dst, dst_off, span, False)
    await ports.truncate_range(dst, dst_off, dst_off + span - 1)
    intents.crash_point(env, "reflink:invalidate")
    r = await REMAP(env.redis, src_extents=si.key("extents"), dst_extents=di.key("extents"), inode=di.key("inode"),
                    intent=locks.intent_key(dst), sb=di.fskey("sb"), blkref=di.fskey("blkref"), src_first=src_off // bs,
                    dst_first=dst_off // bs, n=span // bs, i_size=i_size if i_size != di.i_size else "",
                    prefix=keys.fs(di.fs, "blk:"), fence=locks.fence_for(dst))
    return r.shared, r.freed


async def redo_reflink(env, dst: str, args: dict) -> None:
    si = await load(env.redis, args["src"], allow_unlinked=True)
    di = await load(env.redis, dst, allow_unlinked=True)
    await _remap(env, si, di, args["src_off"], args["dst_off"], args["length"], args["i_size"])
