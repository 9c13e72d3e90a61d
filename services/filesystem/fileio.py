"""write(2) and read(2) through the page cache (models mm/filemap.c generic_perform_write/filemap_read
with iomap's write_begin/write_end).

Write: for each folio the range touches, find it in the page cache (FindFolio) or create one
(iomap_get_folio with fgf_set_order(len): as large as the write allows, aligned, within the mapping's
order range, falling back per the policy), read-modify the bytes into the folio's memory, and mark it
DIRTY (TagFolio, folio_mark_dirty); all under i_rwsem held exclusively (generic_file_write_iter's
inode_lock). i_size grows first (under the lock), so a populate racing with the
write fills the new range with zeros and the write then lands in that folio. Blocks are written only
by writeback (Fsync).

Read: the page cache's clean folios always equal the blocks (populate fills them from the blocks,
writeback writes dirty folios back, truncate/punch zero both), so a read is the blocks overlaid with the
folios tagged DIRTY or WRITEBACK: two FindTagged calls and three Redis round trips for any length.
"""

from __future__ import annotations

import asyncio
import contextlib

from mmsim.runtime import inject, keys, locks, tracing
from mmsim.runtime.lua import Spec, SpecScript
from mmsim.runtime.errors import (
    Aborted, FailedPrecondition, NotFound, OutOfRange, ResourceExhausted, require,
)
from mmsim.filesystem import extents, writeback
from mmsim.filesystem.inode import Inode, from_grant, from_hash, load, parse_mapping, require_offset
from mmsim.filesystem.populate import (Attempt, alloc_scope, allocate, blocks_of, count_attempts, floor_order,
                                       folio_bytes, order_bounds)
from mmsim.filesystem.ports import GFP_HIGHUSER_MOVABLE, TAG_DIRTY, TAG_WRITEBACK, Fill, find_all_tagged
from mmsim.filesystem.superblock import MAX_FILE_SIZE, MAX_IO, MAX_PAGECACHE_ORDER, PAGE_SIZE

MAX_WRITE = PAGE_SIZE << MAX_PAGECACHE_ORDER   # bytes per WriteFolio: the largest folio

WRITE_BEGIN = SpecScript(Spec("write_begin", keys=("inode",), args=("write_end",), replies={
    "inode": ("*hash:bytes",), "nofile": (), "unlinked": ()}), __file__, fenced=True)


def check_io(offset: int, length: int, what: str) -> None:
    require_offset("offset", offset)
    require(length >= 0, f"length must not be negative, got {length}")
    require(length <= MAX_IO, f"{what} at most {MAX_IO} bytes per call, got {length}")
    if offset + length > MAX_FILE_SIZE:
        raise OutOfRange(f"EFBIG: offset {offset} + length {length} exceeds the maximum file size {MAX_FILE_SIZE}")


async def write(env, mapping: str, offset: int, data: bytes) -> tuple[int, int]:
    """Returns (bytes written, i_size afterwards)."""
    check_io(offset, len(data), "write")
    parse_mapping(mapping)
    redis = env.redis
    if not data:
        inode = await load(redis, mapping)
        return 0, inode.i_size
    end = offset + len(data)
    async with env.locks.hold(locks.I_RWSEM, mapping, locks.WRITE):
        with contextlib.ExitStack() as section:
            r = await WRITE_BEGIN(redis, inode=keys.mapping(mapping, "inode"), write_end=end,
                                  fence=locks.fence_for(mapping))
            if r.kind == "nofile":
                raise NotFound(f"no such file {mapping}")
            if r.kind == "unlinked":
                raise FailedPrecondition(f"{mapping} was unlinked; only its existing mappings remain")
            inode = from_hash(mapping, dict(zip(r.hash[::2], r.hash[1::2])))
            section.enter_context(alloc_scope(inode))   # memalloc_nofs_save() for the rest of the section
            pos, order = offset, order_bounds(inode)[1]
            while pos < end:
                idx = pos // PAGE_SIZE
                # as many bytes as a folio of the last order seen can take from pos (the first: the largest)
                cap = min(end, (idx + (1 << order) - idx % (1 << order)) * PAGE_SIZE, pos + MAX_WRITE)
                found, written = await env.ports.write_folio(mapping, pos, data[pos - offset:cap - offset])
                if written:
                    pos += written
                    order = found.folio.order
                elif found is not None and found.shared:   # PFN entries: a private copy first, then write again
                    await env.ports.unshare_folio(mapping, idx)
                else:   # a miss or a zero entry: a new folio with the bytes, inserted dirty
                    await balance_dirty_pages(env, mapping)
                    try:
                        made = await _new_write_folio(env, inode, idx, offset, data)
                    except Aborted:   # its blocks changed meanwhile (balance_dirty_pages wrote them): read again
                        inode = await load(redis, mapping)
                        continue
                    if made is not None:   # else it lost an insert race: write into the winner
                        folio, fstart = made
                        pos, order = (fstart << 12) + (PAGE_SIZE << folio.order), folio.order
                        await inject.pause_point(env, "write:folio")   # a new folio is in, the write goes on
    return len(data), inode.i_size


async def balance_dirty_pages(env, mapping: str) -> None:
    """balance_dirty_pages before a write dirties one more folio (mm/page-writeback.c): past vm.dirty_ratio
    percent of memory dirty (MMSIM_DIRTY_RATIO), the writer writes its own file back before it goes on, under
    the i_rwsem it holds, as balance_dirty_pages once called writeback_inodes_wb from the writer's context.
    Reclaim could not do it for it: the file's lock is the writer's. One round trip; a hop more past the limit."""
    s = env.settings
    if s.dirty_ratio >= 100:
        return
    pipe = env.redis.pipeline(transaction=False)
    for nid in range(s.numa_nodes):
        pipe.hget(keys.node(nid, "vmstat"), "nr_dirty")
    dirty = sum(int(v or 0) for v in await pipe.execute())
    limit = (s.memory_bytes // PAGE_SIZE) * s.dirty_ratio // 100
    if dirty > limit:
        st = await writeback.writeback_locked(env, mapping)
        tracing.event("balance_dirty_pages", nr_dirty=dirty, limit=limit, folios_written=st.folios_written)


async def _new_write_folio(env, inode: Inode, idx: int, offset: int, data: bytes):
    """Allocate, fill (old contents + the new bytes) and insert a dirty folio for a write at page ``idx``
    (iomap_write_begin's new folio, filled and marked dirty by write_end, inserted in one step).

    Returns (folio, its first index), or None when another folio now covers ``idx`` (write into that one)."""
    redis, ports, mapping = env.redis, env.ports, inode.mapping
    end = offset + len(data)
    lo, hi = order_bounds(inode)
    start = idx & ~((1 << lo) - 1)
    end_pages = -(-end // PAGE_SIZE)
    end_pages = -(-end_pages // (1 << lo)) << lo
    order = hi
    while order > lo and (start & ((1 << order) - 1) or start + (1 << order) > end_pages):
        order -= 1
    for _ in range(order + 4):
        attempts: list[Attempt] = []
        folio, o = await allocate(env, inode, idx, order, list(GFP_HIGHUSER_MOVABLE), attempts)
        if folio is None:
            raise ResourceExhausted(f"ENOMEM: no folio for {mapping} index {idx}: "
                                    + ",".join(a.text() for a in attempts))
        fstart = idx & ~((1 << o) - 1)
        fbeg, fend = fstart * PAGE_SIZE, (fstart + (1 << o)) * PAGE_SIZE
        if offset <= fbeg and end >= min(fend, inode.i_size):
            old = b""
        else:
            first, n = blocks_of(inode, fstart, 1 << o)
            disk_map = await extents.read_map(redis, inode, first, n)
            blocks = await extents.read_blocks(redis, inode, disk_map)
            old = folio_bytes(inode, fstart, 1 << o, first, disk_map, blocks)
        lo_b, hi_b = max(offset, fbeg), min(end, fend)
        buf = bytearray(old.ljust(hi_b - fbeg, b"\0"))
        buf[lo_b - fbeg:hi_b - fbeg] = data[lo_b - offset:hi_b - offset]
        fill = Fill(bytes(buf).rstrip(b"\0"), tuple(a.order for a in attempts if not a.ok), dirty=True)
        added = await ports.add_folio(mapping, fstart, folio, data_seq=inode.data_seq, fill=fill)
        if added:
            if added.zero_replaced:
                # zero entries were replaced (the insert says so, whoever put them there meanwhile): zap their
                # zero-page PTEs so the next access maps the folio
                await ports.unmap_mapping_range(mapping, fbeg, fend - fbeg, False)
            return folio, fstart
        await count_attempts(redis, attempts)
        await ports.free_pages(folio)
        again = await ports.find_folio(mapping, idx)
        if again is not None and not again.zero:
            return None
        # the range overlaps a folio that does not cover idx (a split left small folios there): go smaller,
        # down to what the policy allows
        order = max(o - 1, min(floor_order(inode), o))
    raise FailedPrecondition(f"write {mapping} index {idx}: the page cache kept changing under us")


async def read(env, mapping: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset + length) clipped at EOF; holes read as zeros."""
    check_io(offset, length, "read")
    parse_mapping(mapping)
    redis = env.redis
    async with env.locks.hold(locks.I_RWSEM, mapping, locks.READ, load=True) as grant:
        inode = from_grant(mapping, grant.inode)
        end = min(offset + length, inode.i_size)
        if end <= offset:
            return b""
        first_pg, end_pg = offset // PAGE_SIZE, -(-end // PAGE_SIZE)
        dirty, wb = await asyncio.gather(
            find_all_tagged(env.ports, mapping, TAG_DIRTY, first_pg, end_pg),
            find_all_tagged(env.ports, mapping, TAG_WRITEBACK, first_pg, end_pg))
        bs = inode.block_size
        fb0, fb1 = offset // bs, (end - 1) // bs
        disk_map = await extents.read_map(redis, inode, fb0, fb1 - fb0 + 1)
        blocks = await extents.read_blocks(redis, inode, disk_map)
        buf = bytearray(end - offset)
        for i, d in enumerate(disk_map):
            if not d:
                continue
            bbeg = (fb0 + i) * bs
            content = blocks.get(d, b"")
            lo, hi = max(offset, bbeg), min(end, bbeg + len(content))
            if hi > lo:
                buf[lo - offset:hi - offset] = content[lo - bbeg:hi - bbeg]
        tagged = {f.index: f for f in [*wb, *dirty] if f.folio is not None}
        if tagged:
            folios = sorted(tagged.values(), key=lambda f: f.index)
            mem = await redis.mget([keys.node(f.folio.node, f"mem:{f.folio.pfn}") for f in folios])
            for f, content in zip(folios, mem):
                fbeg = f.index * PAGE_SIZE
                fend = fbeg + (PAGE_SIZE << f.folio.order)
                lo, hi = max(offset, fbeg), min(end, fend)
                if hi <= lo:
                    continue
                piece = (content or b"")[lo - fbeg:hi - fbeg]
                buf[lo - offset:hi - offset] = piece.ljust(hi - lo, b"\0")
        return bytes(buf)
