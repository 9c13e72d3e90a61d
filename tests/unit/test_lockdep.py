from mmsim.allocator import gfp as G
from mmsim.allocator.lockdep import fs_reclaim_check, need_reclaim
from mmsim.runtime.locks import I_RWSEM, HeldLock
from mmsim.runtime.scope import Memalloc

HELD = (HeldLock(I_RWSEM, "xfs0/1", "w", 1),)


def test_gfp_kernel_under_an_inode_lock_is_reported():
    report = fs_reclaim_check(int(G.GFP_KERNEL), HELD)
    assert "possible circular locking dependency" in report and "xfs0/1" in report


def test_the_nofs_scope_strips_fs_so_nothing_is_armed():
    effective = G.current_gfp_context(int(G.GFP_KERNEL), Memalloc.PF_MEMALLOC_NOFS)
    assert fs_reclaim_check(effective, HELD) == ""


def test_gfp_nofs_and_atomic_masks_are_not_reported():
    assert fs_reclaim_check(int(G.GFP_NOFS), HELD) == ""
    assert fs_reclaim_check(int(G.GFP_ATOMIC), HELD) == ""      # no direct reclaim: __need_reclaim is false


def test_nolockdep_silences_the_annotation():
    mask = int(G.GFP_KERNEL) | int(G.__GFP_NOLOCKDEP)
    assert not need_reclaim(mask)
    assert fs_reclaim_check(mask, HELD) == ""


def test_no_fs_lock_held_no_report():
    assert fs_reclaim_check(int(G.GFP_KERNEL), ()) == ""
    assert fs_reclaim_check(int(G.GFP_KERNEL), (HeldLock("some_other_lock", "xfs0/1", "w", 1),)) == ""
