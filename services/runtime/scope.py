"""Scoped allocation constraints that travel with a call chain (models include/linux/sched/mm.h).

``memalloc_nofs_save()`` / ``memalloc_nofs_restore()`` and the NOIO pair set and restore task flags
(PF_MEMALLOC_NOFS / PF_MEMALLOC_NOIO). Here the "task" is the call chain of one operation: the flags
live in a context variable, are sent to every callee in gRPC metadata (``mmsim-memalloc``) by the client
interceptor, and restored on the server side by the server interceptor, so an allocation made three
services away still sees the scope its caller opened.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum


class Memalloc(enum.IntFlag):
    """The task flags (values are ours; names are the kernel's)."""

    NONE = 0
    PF_MEMALLOC_NOFS = 1
    PF_MEMALLOC_NOIO = 2


METADATA_KEY = "mmsim-memalloc"
HELD_LOCKS_KEY = "mmsim-held-locks"
_NAMES = {Memalloc.PF_MEMALLOC_NOFS: "nofs", Memalloc.PF_MEMALLOC_NOIO: "noio"}

_flags: contextvars.ContextVar[Memalloc] = contextvars.ContextVar("mmsim_memalloc", default=Memalloc.NONE)
_held: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("mmsim_held_locks", default=())


def current() -> Memalloc:
    return _flags.get()


def _save(flag: Memalloc) -> Memalloc:
    old = _flags.get()
    _flags.set(old | flag)
    return old & flag


def _restore(flag: Memalloc, old: Memalloc) -> None:
    _flags.set((_flags.get() & ~flag) | old)


def memalloc_nofs_save() -> Memalloc:
    """Set PF_MEMALLOC_NOFS; returns the previous value of that flag for memalloc_nofs_restore()."""
    return _save(Memalloc.PF_MEMALLOC_NOFS)


def memalloc_nofs_restore(old: Memalloc) -> None:
    _restore(Memalloc.PF_MEMALLOC_NOFS, old)


def memalloc_noio_save() -> Memalloc:
    """Set PF_MEMALLOC_NOIO; returns the previous value of that flag for memalloc_noio_restore()."""
    return _save(Memalloc.PF_MEMALLOC_NOIO)


def memalloc_noio_restore(old: Memalloc) -> None:
    _restore(Memalloc.PF_MEMALLOC_NOIO, old)


@contextlib.contextmanager
def memalloc_nofs():
    """``with memalloc_nofs():`` = memalloc_nofs_save() ... memalloc_nofs_restore(old)."""
    old = memalloc_nofs_save()
    try:
        yield
    finally:
        memalloc_nofs_restore(old)


@contextlib.contextmanager
def memalloc_noio():
    old = memalloc_noio_save()
    try:
        yield
    finally:
        memalloc_noio_restore(old)


def encode(flags: Memalloc) -> str:
    return ",".join(name for flag, name in _NAMES.items() if flags & flag)


def decode(text: str) -> Memalloc:
    out = Memalloc.NONE
    for part in filter(None, (p.strip() for p in text.split(","))):
        for flag, name in _NAMES.items():
            if part == name:
                out |= flag
    return out


def set_from_metadata(value: str | None) -> None:
    """Adopt the caller's scope for this RPC's task (server side)."""
    _flags.set(decode(value) if value else Memalloc.NONE)


# Locks held by the call chain (mmsim.runtime.locks.HeldLock.encode: "NAME MAPPING MODE:TOKEN"). Like the
# memalloc flags they travel in gRPC metadata, so a page-cache script three services away checks its
# caller's fencing token, and the allocator's lockdep check (mmsim.allocator.lockdep) knows that its caller
# holds an inode lock (and verifies the token in Redis before it believes it).


def held_locks() -> tuple[str, ...]:
    return _held.get()


@contextlib.contextmanager
def holding(lock: str):
    """Record ``lock`` (e.g. "&inode->i_rwsem xfs0/1 w:42") as held for the calls made inside the block."""
    token = _held.set((*_held.get(), lock))
    try:
        yield
    finally:
        _held.reset(token)


def set_held_from_metadata(value: str | None) -> None:
    _held.set(tuple(filter(None, (value or "").split(";"))))


def encode_held(locks: tuple[str, ...]) -> str:
    return ";".join(locks)
