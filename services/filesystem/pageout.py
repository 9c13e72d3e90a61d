"""Reclaim's pageout: the page allocator asks the filesystem to write back dirty folios it wants to free
(models mm/vmscan.c pageout -> the address space's ->writepage / ->writepages, and what lockdep says when
reclaim re-enters a filesystem whose lock the reclaiming task already holds).

The write itself is fsync's (mmsim.filesystem.writeback.writeback_locked, restricted to the given folios)
under the inode's i_rwsem held exclusively, with two differences that make it safe to call from reclaim:

* the lock is only tried (down_write_trylock): reclaim never sleeps on a filesystem lock; a lock another
  task holds is ABORTED (the folio stays dirty, reclaim moves on);
* re-entry is refused: when the call chain (the task, whose held locks travel in the gRPC metadata)
  already holds this file's i_rwsem or invalidate_lock, the kernel would deadlock on itself (the reason
  GFP_NOFS and memalloc_nofs_save exist). lockdep's model reports "possible recursive locking detected" with
  the chain, unless the reclaiming mask has __GFP_NOLOCKDEP (which silences the report, not the refusal),
  and the call fails with FAILED_PRECONDITION (EDEADLK) instead of hanging.
"""

from __future__ import annotations

import structlog

from mmsim.allocator import gfp as G
from mmsim.filesystem.inode import parse_mapping
from mmsim.filesystem.writeback import WritebackStats, writeback_locked
from mmsim.runtime import keys, locks, scope, tracing
from mmsim.runtime.errors import FailedPrecondition, require

_log = structlog.get_logger("mmsim.filesystem")
MAX_FOLIOS = 4096


def recursion_report(mapping: str, held: list[locks.HeldLock]) -> str:
    """lockdep's "possible recursive locking" report for a pageout of ``mapping`` under ``held``, or ''."""
    mine = [h for h in held if h.mapping == mapping and h.name in locks.FS_LOCKS]
    if not mine:
        return ""
    chain = " -> ".join(scope.held_locks())
    return (f"WARNING: possible recursive locking detected: reclaim's pageout of {mapping} would take "
            f"{locks.I_RWSEM} {mapping} (w) while the task already holds {mine[0].encode()}; held locks: {chain}; "
            f"the allocation that entered direct reclaim had __GFP_FS (use GFP_NOFS or memalloc_nofs_save())")


async def pageout(env, mapping: str, indices: list[int], gfp: int) -> WritebackStats:
    parse_mapping(mapping)
    require(0 < len(indices) <= MAX_FOLIOS, f"indices must name 1..{MAX_FOLIOS} folios, got {len(indices)}")
    held = await locks.verify(env.redis, [h for h in locks.held() if h.mapping == mapping])
    report = recursion_report(mapping, held)
    if report:
        trace_id, span_id = tracing.current_ids()
        if not gfp & int(G.__GFP_NOLOCKDEP):
            _log.warning("lockdep", report=report, trace_id=trace_id, held_locks=[h.encode() for h in held])
            tracing.annotate(lockdep=report)
            tracing.event("lockdep", report=report, held_locks=", ".join(scope.held_locks()))
            await env.redis.hincrby(keys.node(0, "vmstat"), "mmsim_lockdep_reclaim_recursion", 1)
        raise FailedPrecondition(f"EDEADLK: pageout of {mapping} from reclaim: the call chain (trace {trace_id}) "
                                 f"already holds {held[0].encode()}; the dirty folios stay dirty")
    async with env.locks.hold(locks.I_RWSEM, mapping, locks.WRITE, trylock=True):
        stats = await writeback_locked(env, mapping, only=frozenset(indices))
    tracing.annotate(pageout_folios=stats.folios_written, pageout_blocks=stats.blocks_written)
    return stats
