"""Scoped allocation constraints (include/linux/sched/mm.h) and held locks, as they travel in metadata."""

from mmsim.runtime import scope
from mmsim.runtime.scope import Memalloc


def test_save_restore_nest_like_the_kernels():
    """memalloc_nofs_save returns the previous flag; restore puts it back, so scopes nest."""
    assert scope.current() == Memalloc.NONE
    outer = scope.memalloc_nofs_save()
    inner = scope.memalloc_nofs_save()
    assert scope.current() == Memalloc.PF_MEMALLOC_NOFS
    scope.memalloc_nofs_restore(inner)
    assert scope.current() == Memalloc.PF_MEMALLOC_NOFS      # still inside the outer scope
    scope.memalloc_nofs_restore(outer)
    assert scope.current() == Memalloc.NONE


def test_noio_and_nofs_combine_and_round_trip_through_metadata():
    with scope.memalloc_noio(), scope.memalloc_nofs():
        flags = scope.current()
        assert flags == Memalloc.PF_MEMALLOC_NOIO | Memalloc.PF_MEMALLOC_NOFS
        assert scope.decode(scope.encode(flags)) == flags
    assert scope.current() == Memalloc.NONE
    scope.set_from_metadata("noio")
    assert scope.current() == Memalloc.PF_MEMALLOC_NOIO
    scope.set_from_metadata(None)
    assert scope.current() == Memalloc.NONE


def test_held_locks_stack_and_travel():
    with scope.holding("&inode->i_rwsem a/1 w:1"):
        with scope.holding("&mapping->invalidate_lock a/1 w:2"):
            held = scope.held_locks()
            assert held == ("&inode->i_rwsem a/1 w:1", "&mapping->invalidate_lock a/1 w:2")
            scope.set_held_from_metadata(scope.encode_held(held))
            assert scope.held_locks() == held
    assert scope.held_locks() == ()
