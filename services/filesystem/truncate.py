"""truncate(2), fallocate(PUNCH_HOLE) and unlink's teardown (models mm/truncate.c truncate_setsize /
truncate_pagecache / truncate_pagecache_range and the block freeing of xfs_itruncate_extents /
xfs_free_file_space).

Order, under i_rwsem and invalidate_lock held exclusively (no write, populate or fsync can run meanwhile, on
any replica), between an intent written first and cleared last (mmsim.filesystem.intents: a crash between
two steps is finished by the recovery, so folios past EOF never outlive an interrupted truncate):
- truncate down: i_size first (new faults see the new EOF and get SIGBUS), then
  unmap_mapping_range(holebegin = round_up(size, PAGE_SIZE), to EOF, even_cows=1) through the reverse map,
  TruncateRange(size, to EOF) on the page cache (whole folios beyond EOF freed, the straddling folio
  split or its tail zeroed: truncate_inode_partial_folio), unmap again (a fault may have mapped
  something meanwhile), then the blocks: those wholly past EOF are released, the straddling block's tail
  is zeroed on disk (copied first when shared).
- truncate up: i_size only (the straddling folio's and block's tails past the old EOF are already zero).
- punch hole: only whole pages inside the hole are unmapped, once, with even_cows=0; TruncateRange on
  the hole; whole blocks in the hole released, partial blocks zeroed in the hole (copied when shared).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmsim.runtime import idempotency, keys, locks, tracing
from mmsim.runtime.errors import NotFound, OutOfRange, require
from mmsim.runtime.lua import Spec, SpecScript
from mmsim.filesystem import evict, extents, intents
from mmsim.filesystem.inode import Inode, from_grant, load, lookup, parse_mapping, require_offset, set_fields
from mmsim.filesystem.superblock import MAX_FILE_SIZE, PAGE_SIZE


@dataclass
class RangeStats:
    old_size: int = 0
    i_size: int = 0
    blocks_freed: int = 0
    blocks_zeroed: int = 0
    folios_removed: int = 0
    folios_split: int = 0
    bytes_zeroed: int = 0
    ptes_unmapped: int = 0

    def add_cache(self, tr: dict) -> None:
        self.folios_removed += tr.get("folios_removed", 0)
        self.folios_split += tr.get("folios_split", 0)
        self.bytes_zeroed += tr.get("bytes_zeroed", 0)


def round_up(x: int, to: int) -> int:
    return -(-x // to) * to


async def truncate(env, mapping: str, size: int) -> RangeStats:
    require_offset("size", size)
    if size > MAX_FILE_SIZE:
        raise OutOfRange(f"EFBIG: size {size} exceeds the maximum file size {MAX_FILE_SIZE}")
    parse_mapping(mapping)
    async with env.locks.hold_all([mapping], load=True) as inodes:
        inode = from_grant(mapping, inodes[mapping])
        if size >= inode.i_size:   # truncate up: i_size only, one step
            await set_fields(env.redis, mapping, i_size=size, bump_seq=True)
            return RangeStats(old_size=inode.i_size, i_size=size)
        await intents.begin(env, mapping, "truncate", size=size)
        return await _truncate_down(env, inode, size)


async def _truncate_down(env, inode: Inode, size: int) -> RangeStats:
    """The steps of a truncate down, each safe to run again (the recovery re-runs them all); clears the intent."""
    ports, mapping = env.ports, inode.mapping
    st = RangeStats(old_size=inode.i_size, i_size=size)
    await set_fields(env.redis, mapping, i_size=size, bump_seq=True)
    intents.crash_point(env, "truncate:i_size")
    holebegin = round_up(size, PAGE_SIZE)
    st.ptes_unmapped += await ports.unmap_mapping_range(mapping, holebegin, 0, True)
    st.add_cache(await ports.truncate_range(mapping, size, None))
    intents.crash_point(env, "truncate:pagecache")
    st.ptes_unmapped += await ports.unmap_mapping_range(mapping, holebegin, 0, True)
    inode.i_size = size
    st.blocks_freed, st.blocks_zeroed = await punch_blocks(env.redis, inode, size, None)
    await intents.done(env, mapping)
    return st


async def redo_truncate(env, mapping: str, args: dict) -> None:
    await _truncate_down(env, await load(env.redis, mapping, allow_unlinked=True), args["size"])


async def punch_hole(env, mapping: str, offset: int, length: int) -> RangeStats:
    require_offset("offset", offset)
    require(length > 0, f"length must be positive, got {length}")
    if offset + length > MAX_FILE_SIZE:
        raise OutOfRange(f"EFBIG: offset {offset} + length {length} exceeds the maximum file size {MAX_FILE_SIZE}")
    parse_mapping(mapping)
    async with env.locks.hold_all([mapping], load=True) as inodes:
        inode = from_grant(mapping, inodes[mapping])
        st = RangeStats(old_size=inode.i_size, i_size=inode.i_size)
        end = min(offset + length, inode.i_size)   # FALLOC_FL_KEEP_SIZE: nothing happens past EOF
        if end <= offset:
            return st
        await intents.begin(env, mapping, "punch", offset=offset, end=end)
        return await _punch(env, inode, offset, end, st)


async def _punch(env, inode: Inode, offset: int, end: int, st: RangeStats) -> RangeStats:
    ports, mapping = env.ports, inode.mapping
    await set_fields(env.redis, mapping, bump_seq=True)
    ustart, uend = round_up(offset, PAGE_SIZE), end // PAGE_SIZE * PAGE_SIZE
    if uend > ustart:
        st.ptes_unmapped += await ports.unmap_mapping_range(mapping, ustart, uend - ustart, False)
    st.add_cache(await ports.truncate_range(mapping, offset, end - 1))
    intents.crash_point(env, "punch:pagecache")
    st.blocks_freed, st.blocks_zeroed = await punch_blocks(env.redis, inode, offset, end)
    await intents.done(env, mapping)
    return st


async def redo_punch(env, mapping: str, args: dict) -> None:
    inode = await load(env.redis, mapping, allow_unlinked=True)
    await _punch(env, inode, args["offset"], min(args["end"], inode.i_size), RangeStats())


async def punch_blocks(redis, inode: Inode, lo: int, hi: int | None) -> tuple[int, int]:
    """Release the blocks wholly inside [lo, hi) (hi None = all blocks from lo on), zero the partial ones.

    A block counts as whole when the range covers it up to EOF. Returns (blocks freed, blocks zeroed)."""
    bs = inode.block_size
    fb_lo = lo // bs
    if hi is None:
        allmap = await redis.hgetall(inode.key("extents"))
        mapped = {int(k): int(v) for k, v in allmap.items() if int(k) >= fb_lo}
    else:
        fbs = list(range(fb_lo, (hi - 1) // bs + 1))
        raw = await extents.read_map(redis, inode, fb_lo, len(fbs))
        mapped = {fb: d for fb, d in zip(fbs, raw) if d}
    whole, partial = [], []
    for fb, d in sorted(mapped.items()):
        bbeg = fb * bs
        dend = min(bbeg + bs, inode.i_size)
        s, e = max(lo, bbeg), bbeg + bs if hi is None else min(hi, bbeg + bs)
        if s <= bbeg and e >= dend:
            whole.append(fb)
        else:
            partial.append((fb, d, s - bbeg, e - bbeg, dend - bbeg))
    writes, cowed = [], []   # writes: (disk block or 0 = copy on write, file block, image)
    if partial:
        pipe = redis.pipeline(transaction=False)
        pipe.hmget(inode.fskey("blkref"), [d for _, d, *_ in partial])
        pipe.mget([extents.blk_key(inode, d) for _, d, *_ in partial])
        refs, contents = await pipe.execute()
        for (fb, d, zs, ze, keep), ref, content in zip(partial, refs, contents):
            img = bytearray((content or b"")[:keep].ljust(keep, b"\0"))
            img[zs:min(ze, keep)] = bytes(max(0, min(ze, keep) - zs))
            if int(ref or 0) == 1:
                writes.append((d, fb, bytes(img)))
            else:
                writes.append((0, fb, bytes(img)))
                cowed.append(d)
    done = await extents.update(redis, inode, extents.BlockUpdate(
        writes=writes, drop=whole, release=[mapped[fb] for fb in whole] + cowed))
    return done.freed, len(partial)


UNLINK_NAME = SpecScript(Spec("unlink_name", keys=("dir", "did"), args=("path", "ino", "mapping", "did_ttl_ms"),
                               replies={"removed": (), "kept": ()}), __file__, fenced=True)


async def unlink(env, fs_name: str, path: str, mapping: str = "") -> tuple[str, bool, int]:
    """Remove the name of the file ``mapping`` (or of ``path`` in ``fs_name``); evict the inode unless some VMA
    still maps it (then it is an orphan until its last unmap: mmsim.filesystem.evict). Returns (mapping,
    orphaned, blocks freed)."""
    if mapping:
        require(not path and fs_name in ("", mapping.split("/", 1)[0]),
                f"give the file as mapping or as fs and path, not both (mapping {mapping!r}, fs {fs_name!r}, "
                f"path {path!r})")
        parse_mapping(mapping)
    try:
        mapping = mapping or await lookup(env.redis, fs_name, path)
        async with env.locks.hold_all([mapping], load=True) as inodes:
            inode = from_grant(mapping, inodes[mapping])
            path = inode.path
            await intents.begin(env, mapping, "unlink", path=path)
            orphaned, freed = await _unlink(env, inode, path, idempotency.marker())
            return mapping, orphaned, freed
    except NotFound:
        done = await idempotency.first_did(env.redis)
        if done is None:
            raise
    # This request's first attempt removed the name, then died or lost its answer (a peer's failure): the
    # unlink is finished (by the recovery of its intent if it is still there) and answered as done. The
    # blocks it freed are not known here any more: 0.
    await intents.recover(env, done)
    orphaned = await env.redis.sismember(keys.fs(done.split("/", 1)[0], "orphans"), done)
    tracing.annotate(retried_unlink=f"{done}: the first attempt removed the name")
    return done, bool(orphaned), 0


async def _unlink(env, inode: Inode, path: str, did: dict = idempotency.NO_RECORD) -> tuple[bool, int]:
    """The steps after the intent. ``did``: the request's record (idempotency.marker) for the name's removal;
    none when the recovery runs them again (the removal is not that request's)."""
    redis = env.redis
    await UNLINK_NAME(redis, dir=keys.fs(inode.fs, "dir"), path=path, ino=str(inode.ino), mapping=inode.mapping,
                      **did, fence=locks.fence_for(inode.mapping))
    intents.crash_point(env, "unlink:name")
    if await evict.drop_nlink(redis, inode.mapping):
        await intents.done(env, inode.mapping)
        return True, 0
    return False, (await evict.evict_locked(env, inode.mapping)).blocks_freed


async def redo_unlink(env, mapping: str, args: dict) -> None:
    await _unlink(env, await load(env.redis, mapping, allow_unlinked=True), args["path"])
