"""Populate: the page cache missed at ``index``; the filesystem fills the cache (the 2018 delegation).

Models what the LSFMM 2018 to-do list proposed ("the memory-management subsystem would inform the
filesystem when a page fault has occurred and ask the filesystem to take care of populating the page
cache", trying a large allocation first and falling back to 4 KiB pages) next to what Linux 6.12 does
for block size > page size (mapping_set_folio_min_order: never a folio smaller than a block; the order
loop of __filemap_get_folio_mpol stops at the min order and the fault gets VM_FAULT_OOM).

The pieces, with the kernel functions they model:

- EOF check as filemap_fault's first step (index >= ceil(i_size / PAGE_SIZE) -> VM_FAULT_SIGBUS), made
  again under the inode lock.
- the order (populate_read.lua): page_cache_ra_order's ramp (ra->order += 2 on each sequential miss, clamped
  to the mapping's [min, max] order, reduced while the start is unaligned or the folio would cross EOF, never
  below the min order).
- the allocation loop of __filemap_get_folio_mpol: orders above the floor get __GFP_NORETRY|__GFP_NOWARN;
  on failure the order drops by one; the floor is 0 (policy ``fallback``) or the min order (policy
  ``min-order``, retried once with the caller's gfp, then VM_FAULT_OOM).
- the fill: iomap's read path (iomap_readpage_iter): bytes from the blocks, zeros for holes
  (iomap_block_needs_zeroing) and beyond EOF; with zero_entries and a folio range that is all hole, a
  zero entry instead of a folio (the 2018 "zero entries" idea; DAX_ZERO_PAGE is the kernel analogue).
- the insert: filemap_add_folio; -EEXIST (ALREADY_EXISTS) means another populate won: free ours and
  return the winner (as __filemap_get_folio's "goto repeat"), or, when the winner does not cover
  ``index`` (the range overlaps some other folio), retry one order smaller.
- it all runs under the inode's invalidate_lock (shared) inside memalloc_nofs_save()/restore() (as
  page_cache_ra_unbounded does), so the allocator sees PF_MEMALLOC_NOFS and its reclaim cannot re-enter
  this filesystem while the lock is held. The scope travels to the allocator in gRPC metadata.

Cost per populate, whatever the folio order (success, no race): Redis round trips 1 (the invalidate_lock's
grant, in whose step populate_read.lua reads the inode, chooses the order, leaves the readahead state and
reads the extents and blocks), gRPC calls 2 (AllocPages; AddFolio, whose one step also stores the folio's
contents, counts its allocation and releases the lock: the read completes and filemap_invalidate_unlock_shared
follows the insert, as in page_cache_ra_unbounded). The blocks are read for the folio the readahead asks
for, before the allocation: a fallback to a smaller order uses a part of them. A race lost (EEXIST), a
truncate seen (ABORTED) or a zero entry replaced by a write costs more.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from mmsim.runtime import inject, keys, locks, scope, tracing
from mmsim.runtime.lua import Reply, Spec
from mmsim.runtime.errors import Aborted, FailedPrecondition
from mmsim.runtime.vmfault import VmFault
from mmsim.filesystem.inode import Inode, from_grant, load, parse_mapping
from mmsim.filesystem.ports import GFP_HIGHUSER_MOVABLE, GFP_NORETRY_NOWARN, Fill, FolioRef
from mmsim.v1.common_pb2 import GFP_FLAG_COMP, GFP_FLAG_FS
from mmsim.filesystem.superblock import HPAGE_PMD_ORDER, MAX_PAGECACHE_ORDER, PAGE_SIZE


READ = locks.Step(Spec("populate_read", keys=("extents",), args=("index", "prefix", "max_order"), replies={
    "eof": (), "read": ("order:int", "start:int", "ra_order:int", "first:int", "n:int", "*rest:bytes")}), __file__)
"""populate_read.lua, run in the invalidate_lock's grant: the folio's order and start, the readahead state, the
blocks (``ReadStep`` decodes the reply). KEY extents (the file's block map; KEY.inode is the lock's inode);
ARG index (the faulting page), prefix (of the block keys), max_order (MAX_PAGECACHE_ORDER)."""


def read_step(mapping: str, index: int) -> tuple[locks.Step, dict]:
    """(the step, its KEY and ARG values) for Locks.hold(step=)."""
    fs, _ = parse_mapping(mapping)
    return READ, {"extents": keys.mapping(mapping, "extents"), "index": index, "prefix": keys.fs(fs, "blk:"),
                  "max_order": MAX_PAGECACHE_ORDER}


@dataclass(frozen=True)
class ReadStep:
    """populate_read.lua's reply: page_cache_ra_order's folio (order, first index) and the readahead order it
    remembered, the file blocks it covers (first block, disk block of each, 0 = hole) and their contents."""

    order: int
    start: int
    ra_order: int
    first_block: int
    disk_map: list[int]
    blocks: dict[int, bytes]

    @classmethod
    def parse(cls, reply: Reply) -> ReadStep | None:
        """None for an index at or beyond EOF (nothing was read). ``rest``: the disk block of each of the ``n``
        file blocks, then (disk block, contents) of each distinct block."""
        if reply.kind == "eof":
            return None
        n, rest = reply.n, reply.rest
        blocks = rest[n:]
        return cls(reply.order, reply.start, reply.ra_order, reply.first, [int(d) for d in rest[:n]],
                   {int(blocks[i]): blocks[i + 1] for i in range(0, len(blocks), 2)})


@dataclass
class Attempt:
    order: int
    ok: bool
    reason: str = ""

    def text(self) -> str:
        return f"o{self.order}:" + ("ok" if self.ok else f"fail({self.reason})")


@dataclass
class PopulateResult:
    vm_fault: VmFault = VmFault(0)
    folio: FolioRef | None = None
    folio_index: int = 0
    zero_entry: bool = False
    zero_order: int = 0
    raced: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    policy: str = ""
    memalloc_scope: str = ""
    ra_order: int = 0


def order_bounds(inode: Inode) -> tuple[int, int]:
    """(lowest order the readahead asks for, highest): [min order, max order]; max < min forces small folios."""
    lo = min(inode.min_order, inode.max_order)
    hi = max(lo, min(inode.max_order, MAX_PAGECACHE_ORDER))
    return lo, hi


def floor_order(inode: Inode) -> int:
    """Smallest folio the policy accepts: 0 for fallback, the block's order for min-order."""
    return 0 if inode.policy == "fallback" else inode.min_order


def folio_bytes(inode: Inode, start: int, nr_pages: int, map_first: int, disk_map: list[int],
                blocks: dict[int, bytes]) -> bytes:
    """The contents of pages [start, start + nr_pages): block bytes, zeros for holes and past EOF (trimmed)."""
    bs = inode.block_size
    pos, end = start * PAGE_SIZE, min((start + nr_pages) * PAGE_SIZE, inode.i_size)
    out = bytearray()
    while pos < end:
        fb, off = divmod(pos, bs)
        take = min(bs - off, end - pos)
        d = disk_map[fb - map_first] if 0 <= fb - map_first < len(disk_map) else 0
        chunk = blocks.get(d, b"")[off:off + take] if d else b""
        out += chunk
        out += bytes(take - len(chunk))
        pos += take
    return bytes(out).rstrip(b"\0")


def blocks_of(inode: Inode, start: int, nr_pages: int) -> tuple[int, int]:
    """(first file block, number of blocks) covering pages [start, start + nr_pages)."""
    bs = inode.block_size
    first = start * PAGE_SIZE // bs
    last = ((start + nr_pages) * PAGE_SIZE - 1) // bs
    return first, last - first + 1


def _vmstat_fields(attempts: list[Attempt]) -> tuple[dict[str, int], dict[str, int]]:
    """vmstat increments (thp_file_alloc / thp_file_fallback for PMD-order attempts) and per-size mTHP stats."""
    vm: dict[str, int] = {}
    mthp: dict[str, int] = {}
    for a in attempts:
        if a.order == HPAGE_PMD_ORDER:
            name = "thp_file_alloc" if a.ok else "thp_file_fallback"
            vm[name] = vm.get(name, 0) + 1
        if a.order > 0:
            name = f"{(PAGE_SIZE << a.order) >> 10}kB:" + ("file_alloc" if a.ok else "file_fallback")
            mthp[name] = mthp.get(name, 0) + 1
    return vm, mthp


async def count_attempts(redis, attempts: list[Attempt], node: int = 0) -> None:
    """vmstat / mTHP stats of allocation attempts whose folio never reached the page cache (OOM, EEXIST)."""
    vm, mthp = _vmstat_fields(attempts)
    if not vm and not mthp:
        return
    pipe = redis.pipeline(transaction=True)
    for k, v in vm.items():
        pipe.hincrby(keys.node(node, "vmstat"), k, v)
    for k, v in mthp.items():
        pipe.hincrby(keys.node(node, "mthp_stats"), k, v)
    await pipe.execute()


def alloc_scope(inode: Inode):
    """The section under the inode lock runs inside memalloc_nofs_save()/restore() when the inode's
    fs_alloc_context is "scope" (the API that replaces GFP_NOFS); otherwise nothing is scoped."""
    return scope.memalloc_nofs() if inode.profile.fs_alloc_context == "scope" else contextlib.nullcontext()


async def allocate(env, inode: Inode, index: int, order: int, gfp: list[int], attempts: list[Attempt],
                   first_try: bool = True) -> tuple[FolioRef | None, int]:
    """The order loop of __filemap_get_folio_mpol: try ``order``, then smaller, per the inode's policy.

    Returns (folio or None, its order). Attempts are appended to ``attempts``."""
    floor = min(floor_order(inode), order)
    retried = False
    o = order
    while True:
        # filemap_alloc_folio -> folio_alloc: a large folio is a compound page (__GFP_COMP)
        gfp_o = list(gfp) + (GFP_NORETRY_NOWARN if o > floor else []) + ([GFP_FLAG_COMP] if o else [])
        if inode.profile.fs_alloc_context == "gfp_nofs":   # the pre-scope way: GFP_NOFS at every call site
            gfp_o = [f for f in gfp_o if f != GFP_FLAG_FS]
        start = index & ~((1 << o) - 1)
        folio, reason = await env.ports.alloc_pages(o, gfp_o, inode.mapping, start)
        attempts.append(Attempt(o, folio is not None, reason if folio is None else ""))
        if folio is not None:
            return folio, folio.order   # the order the allocator gave (what the caller indexes by)
        if o > floor:
            tracing.event("fallback", order=o, to_order=o - 1, reason=reason)
            o -= 1
        elif inode.policy == "min-order" and not retried:
            retried = True  # min-order: one more try at the block's order, then VM_FAULT_OOM
            tracing.event("retry", order=o, reason=reason)
        else:
            return None, o


STALE_RETRIES = 8   # reads again after a writeback changed the blocks meanwhile, at most this often


async def populate(env, mapping: str, index: int, gfp: list[int] | None = None, write: bool = False) -> PopulateResult:
    """->populate(mapping, index): see the module docstring."""
    step = read_step(mapping, index)
    gfp = list(gfp) if gfp else list(GFP_HIGHUSER_MOVABLE)
    # filemap_invalidate_lock_shared; the grant brings the inode and the reads (round trip 1)
    async with env.locks.hold(locks.INVALIDATE_LOCK, mapping, locks.READ, load=True, step=step) as grant:
        with contextlib.ExitStack() as section:
            raw, read = grant.inode, grant.step
            for _ in range(STALE_RETRIES):
                try:
                    result = await _populate_locked(env, mapping, index, gfp, write, section, raw, read, grant)
                    break
                except Aborted:   # a writeback wrote the blocks meanwhile (a truncate cannot: the lock is shared)
                    tracing.annotate(populate_stale_retry=True)
                    tracing.event("retry", reason="the blocks changed since they were read (data_seq): a writeback")
                    raw = read = None
            else:
                raise FailedPrecondition(f"populate {mapping} index {index}: its blocks were written back {STALE_RETRIES} "
                                         "times while it read them; retry")
            result.memalloc_scope = scope.encode(scope.current())
    tracing.annotate(
        populate_attempts=",".join(a.text() for a in result.attempts) or "none",
        populate_orders=",".join(str(a.order) for a in result.attempts),
        populate_policy=result.policy, populate_scope="PF_MEMALLOC_NOFS" if result.memalloc_scope else "none",
        populate_raced=result.raced, populate_zero_entry=result.zero_entry, ra_order=result.ra_order,
        populate_vm_fault=str(result.vm_fault))
    return result


def _unlocked(grant: locks.Grant, added) -> None:
    """The insert released the invalidate_lock in its step (filemap_invalidate_unlock_shared): record it."""
    if added.unlocked:
        grant.released = True
        locks.released(grant.lock, True, added.woken)


async def _populate_locked(env, mapping: str, index: int, gfp: list[int], write: bool, section: contextlib.ExitStack,
                           raw: dict | None, read: Reply | None, grant: locks.Grant) -> PopulateResult:
    redis, ports = env.redis, env.ports
    inode = from_grant(mapping, raw, allow_unlinked=True) if raw is not None else \
        await load(redis, mapping, allow_unlinked=True)
    section.enter_context(alloc_scope(inode))
    res = PopulateResult(policy=inode.policy)
    if index >= inode.eof_pages:
        res.vm_fault = VmFault.SIGBUS
        return res
    if read is None:   # after a stale retry: the reads again, under the lock still held
        step, values = read_step(mapping, index)
        read = await step.alone(redis, inode=inode.key("inode"), **values)
    rd = ReadStep.parse(read)
    if rd is None:
        res.vm_fault = VmFault.SIGBUS
        return res
    await inject.pause_point(env, "populate:read")   # the blocks are read, the folio is not in the cache yet
    order, start, map_first, disk_map, blocks = rd.order, rd.start, rd.first_block, rd.disk_map, rd.blocks
    res.ra_order = rd.ra_order
    # the insert releases the lock in its own step, unless the lock is the caller's or work under it follows
    unlock = not grant.reentered

    all_hole = not any(disk_map)
    if all_hole and inode.profile.zero_entries and not write:
        added = await ports.add_folio(mapping, start, None, zero_order=order, data_seq=inode.data_seq,
                                      fill=Fill(unlock=unlock))
        if added:
            _unlocked(grant, added)
            res.zero_entry, res.zero_order, res.folio_index = True, order, start
            return res
        found = await ports.find_folio(mapping, index)
        if found is not None:
            return _winner(res, found)

    replaces_zero = write and all_hole and inode.profile.zero_entries   # then the zap below runs under the lock
    o, counted = order, 0  # attempts[:counted] are already in vmstat
    for _ in range(MAX_PAGECACHE_ORDER + 4):
        folio, o = await allocate(env, inode, index, o, gfp, res.attempts)
        if folio is None:
            await count_attempts(redis, res.attempts[counted:])
            res.vm_fault = VmFault.OOM
            return res
        fstart = index & ~((1 << o) - 1)
        first, n = blocks_of(inode, fstart, 1 << o)
        sub_map = disk_map[first - map_first:first - map_first + n]
        # the read completes in the insert's step: contents, the allocation's counts, the lock's release
        fill = Fill(folio_bytes(inode, fstart, 1 << o, first, sub_map, blocks),
                    tuple(a.order for a in res.attempts[counted:] if not a.ok), unlock and not replaces_zero)
        added = await ports.add_folio(mapping, fstart, folio, data_seq=inode.data_seq, fill=fill)
        if added:
            _unlocked(grant, added)
            if added.zero_replaced:
                # zero entries were replaced (the insert says so): zap zero-page PTEs so the next access sees the folio
                await ports.unmap_mapping_range(mapping, fstart * PAGE_SIZE, PAGE_SIZE << o, False)
            res.folio, res.folio_index = folio, fstart
            return res
        # -EEXIST: someone else's entry overlaps our range.
        await count_attempts(redis, res.attempts[counted:])
        counted = len(res.attempts)
        found = await ports.find_folio(mapping, index)
        await ports.free_pages(folio)
        res.attempts[-1].reason = "EEXIST"
        tracing.event("retry", order=o, reason="EEXIST: another entry overlaps the folio's range")
        if found is not None and not (found.zero and write):
            return _winner(res, found)
        if found is not None and found.zero and write:
            # a write needs a real folio: drop the zero entry (and its zero-page PTEs), then insert again
            await ports.unmap_mapping_range(mapping, fstart * PAGE_SIZE, PAGE_SIZE << o, False)
            await ports.truncate_range(mapping, fstart * PAGE_SIZE, ((fstart + (1 << o)) * PAGE_SIZE) - 1)
        elif o > floor_order(inode):
            o -= 1
    raise FailedPrecondition(f"populate {mapping} index {index}: the range kept changing under us; retry the fault")


def _winner(res: PopulateResult, found) -> PopulateResult:
    res.raced = True
    res.folio_index = found.index
    if found.zero:
        res.zero_entry = True
    else:
        res.folio = found.folio
    return res
