"""lockdep's view of reclaim recursion: the fs_reclaim pseudo-lock (models mm/page_alloc.c: __need_reclaim,
fs_reclaim_acquire; kernel/locking/lockdep.c reports).

An allocation that may enter direct reclaim with __GFP_FS "acquires" fs_reclaim: reclaim may call back into
filesystems, which take their inode locks. Allocating that way while holding such a lock is the inversion
lockdep reports ("possible circular locking dependency"), and a real deadlock if reclaim picks the same
inode. The scoped API (memalloc_nofs_save) removes __GFP_FS through current_gfp_context, so the check is
not even armed; __GFP_NOLOCKDEP silences it for masks known to be false positives (the flag Dave Chinner
asked for at LSFMM 2018 instead of abusing GFP_NOFS).
"""

from __future__ import annotations

from mmsim.allocator import gfp as G

FS_LOCK_PREFIX = "&inode->"
"""Held locks whose names start with this are filesystem locks that reclaim could want (i_rwsem,
invalidate_lock): the filesystem service names them so when it calls out while holding them."""


def need_reclaim(gfp: int) -> bool:
    """__need_reclaim: no annotation without __GFP_DIRECT_RECLAIM, or with __GFP_NOLOCKDEP."""
    return bool(gfp & int(G.__GFP_DIRECT_RECLAIM)) and not gfp & int(G.__GFP_NOLOCKDEP)


def fs_reclaim_check(gfp_effective: int, held: tuple[str, ...]) -> str:
    """The lockdep report this allocation would trigger, or '' (gfp already through current_gfp_context)."""
    if not need_reclaim(gfp_effective) or not gfp_effective & int(G.__GFP_FS):
        return ""
    fs_locks = [lock for lock in held if lock.startswith(FS_LOCK_PREFIX)]
    if not fs_locks:
        return ""
    return (f"WARNING: possible circular locking dependency detected: fs_reclaim acquired with "
            f"{G.format_gfp(gfp_effective)} while holding {', '.join(fs_locks)}; reclaim may re-enter the "
            "filesystem and take that lock (use memalloc_nofs_save(), or __GFP_NOLOCKDEP for a false positive)")
