"""fsync / writeback: DIRTY folios to blocks through WRITEBACK (models mm/page-writeback.c
write_cache_pages + folio_clear_dirty_for_io / folio_start_writeback / folio_end_writeback, and the
copy-on-write of shared extents that XFS does for reflinked files, xfs_reflink_allocate_cow).

Sequence for one fsync, under i_rwsem held exclusively (two writebacks of one file never interleave, on any
replica; every block step is fenced by that lock):
1. FindTagged(DIRTY) lists the dirty folios (and FindTagged(WRITEBACK), at the same time, the folios a
   writeback interrupted by a crash left clean but maybe unwritten: they are written again); each gets WRITEBACK set, then DIRTY cleared
   (folio_clear_dirty_for_io + folio_start_writeback); then, when the file is mapped at all
   (mapping_mapped), folio_mkclean write-protects and cleans every shared PTE of those folios through the
   reverse map: one FolioMkclean hop and one script per MKCLEAN_BATCH folios, whatever their orders.
   From then on a store through a mapping faults, dirties the folio again (wp_page_shared) and is
   written by the next writeback; a store before it is in the bytes read in step 2.
2. Their memory (one MGET) is laid onto block images; blocks only partly covered start from their old
   contents (read with their refcounts in one pipeline).
3. The blocks are written in one step (mmsim.filesystem.extents.update): owned blocks in place, shared
   blocks copied (CoW), holes allocated, the extents pointed at the new blocks, the old shared blocks
   losing one reference.
4. WRITEBACK is cleared.
Bytes past EOF are never written to a block (the block's tail beyond i_size stays zero).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mmsim.runtime import keys, locks
from mmsim.filesystem import extents
from mmsim.filesystem.inode import load, parse_mapping
from mmsim.filesystem.ports import TAG_DIRTY, TAG_WRITEBACK, find_all_tagged
from mmsim.filesystem.superblock import PAGE_SIZE

MKCLEAN_BATCH = 1024   # folios per FolioMkclean call (the reverse map accepts up to 4096)


@dataclass
class WritebackStats:
    folios_written: int = 0
    blocks_written: int = 0
    blocks_cowed: int = 0
    blocks_allocated: int = 0


async def fsync(env, mapping: str) -> WritebackStats:
    parse_mapping(mapping)
    async with env.locks.hold(locks.I_RWSEM, mapping, locks.WRITE):
        return await writeback_locked(env, mapping)


async def writeback_locked(env, mapping: str, crash_before_blocks: bool = False,
                           only: frozenset[int] | None = None) -> WritebackStats:
    """Write back every dirty folio of ``mapping`` (caller holds the inode lock exclusively), or only those
    whose first index is in ``only`` (reclaim's pageout), and every folio an interrupted writeback left
    tagged WRITEBACK (no writeback runs without that lock, so such a tag is a leftover: its folio is clean
    but its bytes may not be on disk).

    ``crash_before_blocks`` is a fault-injection hook for the tests: stop after the folios were cleaned
    and their bytes read, before the block update, as if the process died there."""
    redis, ports = env.redis, env.ports
    inode = await load(redis, mapping, allow_unlinked=True)
    stats = WritebackStats()
    tagged = await asyncio.gather(find_all_tagged(ports, mapping, TAG_DIRTY),
                                  find_all_tagged(ports, mapping, TAG_WRITEBACK))
    found = {f.index: f for batch in tagged for f in batch
             if f.folio is not None and (only is None or f.index in only)}
    dirty = [found[i] for i in sorted(found)]
    if not dirty:
        return stats
    await _bounded([ports.tag_folio(mapping, f.index, TAG_WRITEBACK) for f in dirty])
    await _bounded([ports.tag_folio(mapping, f.index, TAG_DIRTY, clear=True) for f in dirty])
    await folio_mkclean(env, mapping, dirty)
    mem = await redis.mget([keys.node(f.folio.node, f"mem:{f.folio.pfn}") for f in dirty])

    bs, i_size = inode.block_size, inode.i_size
    covered: dict[int, list[tuple[int, int, bytes]]] = {}  # file block -> [(start in block, end, bytes)]
    for f, content in zip(dirty, mem):
        fbeg = f.index * PAGE_SIZE
        fend = min(fbeg + (PAGE_SIZE << f.folio.order), i_size)
        content = content or b""
        pos = fbeg
        while pos < fend:
            fb, off = divmod(pos, bs)
            take = min(bs - off, fend - pos)
            piece = content[pos - fbeg:pos - fbeg + take].ljust(take, b"\0")
            covered.setdefault(fb, []).append((off, off + take, piece))
            pos += take
    stats.folios_written = len(dirty)
    if covered:
        fblocks = sorted(covered)
        raw = await redis.hmget(inode.key("extents"), fblocks)
        disk = {fb: int(r) if r is not None else 0 for fb, r in zip(fblocks, raw)}
        partial = [fb for fb in fblocks if disk[fb] and not _whole(covered[fb], min(bs, i_size - fb * bs))]
        pipe = redis.pipeline(transaction=False)
        pipe.hmget(inode.fskey("blkref"), [disk[fb] for fb in fblocks if disk[fb]] or ["0"])
        pipe.mget([extents.blk_key(inode, disk[fb]) for fb in partial] or [extents.blk_key(inode, 0)])
        refs_raw, old_raw = await pipe.execute()
        owned = [disk[fb] for fb in fblocks if disk[fb]]
        refs = {b: int(r or 0) for b, r in zip(owned, refs_raw)}
        old = {fb: (c or b"") for fb, c in zip(partial, old_raw)}

        writes, cowed = [], []
        for fb in fblocks:
            limit = min(bs, i_size - fb * bs)
            img = bytearray(old.get(fb, b"")[:limit].ljust(limit, b"\0"))
            for lo, hi, piece in covered[fb]:
                img[lo:hi] = piece
            d = disk[fb]
            if d and refs.get(d, 0) == 1:
                writes.append((d, fb, bytes(img)))
            else:
                writes.append((0, fb, bytes(img)))
                if d:
                    cowed.append(d)
                    stats.blocks_cowed += 1
                else:
                    stats.blocks_allocated += 1
        if crash_before_blocks:
            raise RuntimeError("injected crash before the block update")
        done = await extents.update(redis, inode, extents.BlockUpdate(writes=writes, release=cowed))
        stats.blocks_written = len(done.written)
    await _bounded([ports.tag_folio(mapping, f.index, TAG_WRITEBACK, clear=True) for f in dirty])
    return stats


async def folio_mkclean(env, mapping: str, folios: list) -> int:
    """folio_mkclean for every folio being written, after its DIRTY tag was cleared and before its bytes
    are read; skipped when no VMA maps the file (mapping_mapped: a mapping made later must fault, and a
    write fault dirties the folio again). Returns the PTEs write-protected."""
    if not await env.redis.zcard(keys.mapping(mapping, "i_mmap")):
        return 0
    cleaned = 0
    for i in range(0, len(folios), MKCLEAN_BATCH):
        cleaned += await env.ports.folio_mkclean(mapping, folios[i:i + MKCLEAN_BATCH])
    return cleaned


async def _bounded(coros, width: int = 16) -> None:
    """Run the calls at most ``width`` at a time (a callee's connection pool is finite)."""
    coros = list(coros)
    for i in range(0, len(coros), width):
        await asyncio.gather(*coros[i:i + width])


def _whole(pieces: list[tuple[int, int, bytes]], limit: int) -> bool:
    """Do the pieces cover [0, limit) of the block?"""
    pos = 0
    for lo, hi, _ in sorted(pieces):
        if lo > pos:
            return False
        pos = max(pos, hi)
    return pos >= limit
