"""lockdep's model over the real held locks (mmsim.runtime.locks): the lock order, and reclaim recursion through
the fs_reclaim pseudo-lock (models kernel/locking/lockdep.c check_prev_add / check_deadlock reports and
mm/page_alloc.c: __need_reclaim, fs_reclaim_acquire).

``check_order``: the locks module writes the order once (mmsim.runtime.locks.ORDER, the mm/rmap.c comment);
an acquire of a class ranked above one the task already holds, or of a second lock of one class out of
mapping order, is the inversion lockdep reports ("possible circular locking dependency"); taking a lock
the task holds is "possible recursive locking".

An allocation that may enter direct reclaim with __GFP_FS "acquires" fs_reclaim: reclaim may call back into
filesystems, which take their inode locks. Allocating that way while holding such a lock is the inversion
lockdep reports ("possible circular locking dependency"), and a real deadlock if reclaim picks the same
inode. The scoped API (memalloc_nofs_save) removes __GFP_FS through current_gfp_context, so the check is
not even armed; __GFP_NOLOCKDEP silences it for masks known to be false positives (the flag Dave Chinner
asked for at LSFMM 2018 instead of abusing GFP_NOFS).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmsim.allocator import gfp as G
from mmsim.runtime import locks


def check_order(held: Sequence[locks.HeldLock], name: str, mapping: str, mode: str) -> str:
    """The report an acquire of (name, mapping) while holding ``held`` triggers, or ''."""
    new = locks.HeldLock(name, mapping, mode, 0)
    for h in held:
        if (h.name, h.mapping) == (name, mapping):
            return (f"WARNING: possible recursive locking detected: {name} {mapping} ({mode}) acquired while "
                    f"already held ({h.encode()})")
        if h.rank > new.rank or (h.rank == new.rank and h.mapping > mapping):
            return (f"WARNING: possible circular locking dependency detected: {name} {mapping} acquired while "
                    f"holding {h.encode()}; the lock order is {' -> '.join(locks.ORDER)}, mappings by id "
                    "within a class")
    return ""


def need_reclaim(gfp: int) -> bool:
    """__need_reclaim: no annotation without __GFP_DIRECT_RECLAIM, or with __GFP_NOLOCKDEP."""
    return bool(gfp & int(G.__GFP_DIRECT_RECLAIM)) and not gfp & int(G.__GFP_NOLOCKDEP)


def fs_reclaim_armed(gfp_effective: int) -> bool:
    """Does this allocation "acquire" fs_reclaim (direct reclaim with __GFP_FS, not __GFP_NOLOCKDEP)?"""
    return need_reclaim(gfp_effective) and bool(gfp_effective & int(G.__GFP_FS))


def fs_reclaim_check(gfp_effective: int, held: Sequence[locks.HeldLock]) -> str:
    """The lockdep report this allocation would trigger, or '' (gfp already through current_gfp_context;
    ``held``: the task's locks, verified against Redis by the caller)."""
    if not fs_reclaim_armed(gfp_effective):
        return ""
    fs_locks = [h.encode() for h in held if h.name in locks.FS_LOCKS]
    if not fs_locks:
        return ""
    return (f"WARNING: possible circular locking dependency detected: fs_reclaim acquired with "
            f"{G.format_gfp(gfp_effective)} while holding {', '.join(fs_locks)}; reclaim may re-enter the "
            "filesystem and take that lock (use memalloc_nofs_save(), or __GFP_NOLOCKDEP for a false positive)")
