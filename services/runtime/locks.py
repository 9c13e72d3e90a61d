"""The kernel's sleeping locks, in Redis, shared by every replica (models kernel/locking/rwsem.c down_read /
down_write / up_read / up_write, include/linux/fs.h inode_lock / filemap_invalidate_lock, and
lock_two_nondirectories / filemap_invalidate_lock_two).

Lock ordering (the kernel's, from the comments at the top of mm/rmap.c and mm/filemap.c; lockdep's model,
mmsim.allocator.lockdep.check_order, reports any acquire that breaks it):

  &inode->i_rwsem               (write, truncate, punch hole, fsync, reflink, unlink: exclusive; read: shared)
    &mapping->invalidate_lock   (truncate, punch hole, reflink, unlink: exclusive; populate, the
                                 filemap_fault path: shared)
      [fs_reclaim]              (an allocation that may enter reclaim with __GFP_FS: not while holding
                                 either of the above, unless memalloc_nofs_save() scopes it)
        mapping->i_pages        (the page cache's XArray: every page-cache script is atomic, so this
                                 "lock" is Redis' script atomicity)

  The folio lock (PG_locked, folio_lock/folio_unlock in mm/filemap.c) is not a Redis lock here, by design:
  every transition the kernel makes under it is one Lua script in this model, so the script is the
  critical section. filemap_add_folio of a locked !uptodate folio and its read_folio are one insert of an
  uptodate folio (the loser of a racing populate gets EEXIST and frees its folio, as the kernel's does);
  truncate_inode_folio and the split of a partial folio (truncate.lua, huge_memory.lua) are one script; a
  write fault's folio_mkwrite + folio_mark_dirty and writeback's folio_clear_dirty_for_io + folio_mkclean
  (FolioMkclean) are one script each and re-check PG_dirty. What outlives folio_lock in the kernel,
  PG_writeback (which truncate waits for in folio_wait_writeback), is the page cache's writeback tag, set
  and cleared under i_rwsem. A Redis folio lock would add round trips to every fault and change nothing a
  caller can observe.

  Two locks of one class (reflink's two inodes) are taken in the order of their mapping ids, as
  lock_two_nondirectories orders two inodes by address; all i_rwsems before any invalidate_lock.

The owner of a lock is the task: the call chain, named by its W3C trace id (several RPCs of one fault
are one task). A grant carries a lease (MMSIM_LOCK_LEASE_MS) renewed by every fenced step, so a holder
that died cannot wedge anyone: its lease runs out and the next acquirer takes the lock. Each grant gets a
fencing token (the lock's ``seq``); every script that acts under a lock is a fenced script
(mmsim.runtime.lua.SpecScript(fenced=True)) and refuses with ABORTED (ESTALE) when the token is no longer
held, so a holder whose lease expired cannot write. The held locks travel down the call chain in gRPC
metadata (mmsim.runtime.scope) as ``NAME MAPPING MODE:TOKEN``: the callee's fenced scripts check them,
and lockdep reads them (verifiable: the token is the lock's state in Redis).

Waiting is not polling: a waiter registers itself in the lock (writer preference: a waiting writer keeps
new readers out, as rwsem's handoff does) and blocks on the lock's wake list (BLPOP) until a release
pushes a wake-up or the holder's lease runs out, within MMSIM_LOCK_WAIT_S (then UNAVAILABLE). Acquire,
contention (holder, wait) and release are span events (``lock.acquire``, ``lock.contended``,
``lock.release``) in the trace.

Keys (hash tag ``{m:MAPPING}``): ``lock:i_rwsem`` and ``lock:invalidate_lock`` (hashes, see locks.lua),
``lock:i_rwsem:wake`` and ``lock:invalidate_lock:wake`` (lists).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from opentelemetry import trace

from mmsim.runtime import keys, scope, tracing
from mmsim.runtime.errors import Aborted, FailedPrecondition, NotFound, Unavailable
from mmsim.runtime.lua import LOCKS_LUA, Fence, Reply, Spec, SpecScript, source

I_RWSEM = "&inode->i_rwsem"
INVALIDATE_LOCK = "&mapping->invalidate_lock"
ORDER = (I_RWSEM, INVALIDATE_LOCK)
"""Lock classes, outermost first (the ordering comment above)."""

FS_LOCKS = frozenset(ORDER)
"""The filesystem's locks: reclaim with __GFP_FS could want them (lockdep's fs_reclaim check)."""

_SHORT = {I_RWSEM: "i_rwsem", INVALIDATE_LOCK: "invalidate_lock"}
READ, WRITE = "r", "w"
WAIT_SLICE_MS = 2000
"""Longest single BLPOP: a waiter re-registers (and re-checks the holder's lease) at least this often."""
MAX_RECOVERIES = 3

_log = structlog.get_logger("mmsim.locks")


def lock_key(name: str, mapping: str) -> str:
    return keys.mapping(mapping, f"lock:{_SHORT[name]}")


def wake_key(name: str, mapping: str) -> str:
    return keys.mapping(mapping, f"lock:{_SHORT[name]}:wake")


def intent_key(mapping: str) -> str:
    return keys.mapping(mapping, "intent")


@dataclass(frozen=True)
class HeldLock:
    """One lock the task holds: class, mapping, mode ('r'/'w') and fencing token."""

    name: str
    mapping: str
    mode: str
    token: int

    @property
    def rank(self) -> int:
        return ORDER.index(self.name) if self.name in ORDER else len(ORDER)

    @property
    def fence(self) -> Fence:
        return Fence(lock_key(self.name, self.mapping), f"{self.mode}:{self.token}")

    def encode(self) -> str:
        return f"{self.name} {self.mapping} {self.mode}:{self.token}"

    @classmethod
    def decode(cls, text: str) -> HeldLock | None:
        """The held lock an entry of the metadata names, or None for an entry not in this form."""
        parts = text.split(" ")
        if len(parts) != 3 or parts[0] not in _SHORT or parts[2][:2] not in ("r:", "w:") or not parts[2][2:].isdigit():
            return None
        return cls(parts[0], parts[1], parts[2][0], int(parts[2][2:]))


def held() -> list[HeldLock]:
    """The locks the current task holds (its own, and those its callers hold, from metadata)."""
    return [h for h in map(HeldLock.decode, scope.held_locks()) if h is not None]


def fence_for(mapping: str) -> Fence:
    """The fence a script acting on ``mapping`` checks: the innermost lock the task holds on it (the
    invalidate_lock before the i_rwsem), or no token (the script then runs unfenced, e.g. a minor fault)."""
    mine = [h for h in held() if h.mapping == mapping]
    if not mine:
        return Fence(lock_key(INVALIDATE_LOCK, mapping))
    return max(mine, key=lambda h: h.rank).fence


def task_id() -> str:
    """The task that owns a lock: the call chain's trace id (a process-local name outside any trace)."""
    trace_id, _ = tracing.current_ids()
    return trace_id or f"pid{os.getpid()}"


def _event(name: str, **attrs) -> None:
    trace.get_current_span().add_event(name, {k: v if isinstance(v, (int, float, bool)) else str(v)
                                              for k, v in attrs.items()})


@dataclass
class Grant:
    """A lock acquired: the held lock, the lease expiry (Redis ms), when asked for, the inode's fields, and the
    reply of the step run with the grant (``Step``). ``released``: a later fenced step released the lock
    itself (mmsim.pagecache's AddFolio with unlock), so leaving ``hold`` does not release it again."""

    lock: HeldLock
    inode: dict = field(default_factory=dict)
    waited_ms: float = 0.0
    step: Reply | None = None
    released: bool = False
    reentered: bool = False   # the task held the lock already (its caller's grant): not this holder's to release


ACQUIRE = Spec("locks_acquire", keys=("lock", "intent", "inode"),
               args=("mode", "task", "waiter", "lease_ms", "waitreg_ms", "recovering", "load", "must_exist"),
               replies={"OK": ("token:int", "expiry:int", "inode:bytes", "step:bytes"), "WAIT": ("holder", "left:int"),
                        "INTENT": ("op",), "NOENT": ()})
"""locks_acquire.lua (lk_acquire). KEY lock (the lock's hash), intent (the mapping's intent hash), inode (its
inode hash); ARG mode ('r'/'w'), task (the owner), waiter (this waiter's id), lease_ms, waitreg_ms (how long a
waiter's registration lasts), recovering, load and must_exist ('1'/'0'). Replies: OK (fencing token, lease
expiry in Redis ms, the inode's fields when ``load``, the step's reply), WAIT (holder, its lease left in ms),
INTENT (the interrupted operation), NOENT."""
_ACQUIRE_LUA = LOCKS_LUA + source(__file__, "locks_acquire")

RELEASE = Spec("locks_release", keys=("lock", "wake"), args=("mode", "token"),
               replies={"released": ("held:int", "woken:int")})
"""locks_release.lua. KEY lock, wake (the lock's wake list); ARG mode, token. Reply: released (held: 0 when
the lease had already expired; woken: waiters woken)."""


class Step:
    """Work done under a lock in the script that takes it (one round trip for both): a ``.lua`` file beside
    ``module_file`` defining ``lk_step(fields)``, given the inode's fields (flat, as HGETALL gives them),
    reading its own keys and arguments by the names ``spec`` declares (``KEY.inode`` is the inode hash),
    returning one of ``spec``'s replies. ``granted`` runs it after the acquire (only once the lock is granted:
    a waiting acquire runs again), its Spec ACQUIRE's names and the step's; ``alone`` runs it by itself for a
    caller that holds the lock already. Both are declared at import (``preload`` loads them)."""

    def __init__(self, spec: Spec, module_file: str):
        self.spec = spec
        body = source(module_file, spec.file)
        self.granted = SpecScript(
            Spec(spec.file, ACQUIRE.keys + spec.keys, ACQUIRE.args + spec.args, ACQUIRE.replies),
            body=_ACQUIRE_LUA + body + "\nlocal r = lk_acquire()\nif r[1] == 'OK' then r[5] = lk_step(r[4]) end\nreturn r\n")
        self.alone = SpecScript(Spec(spec.file, ("inode", *spec.keys), spec.args, spec.replies),
                                body=body + "\nreturn lk_step(redis.call('HGETALL', KEY.inode))\n")


_ACQUIRE = SpecScript(ACQUIRE, body=_ACQUIRE_LUA + "\nreturn lk_acquire()\n")
_RELEASE = SpecScript(RELEASE, __file__, LOCKS_LUA)


class Locks:
    """The lock manager of one service process (all state in Redis; nothing here survives a restart).

    ``on_intent(mapping)`` is called when a lock is free but an interrupted multi-step operation left an
    intent on the mapping (mmsim.filesystem.intents): the caller finishes it before taking the lock."""

    def __init__(self, redis, lease_ms: int, wait_s: float,
                 on_intent: Callable[[str], Awaitable[None]] | None = None, of_inodes: bool = False):
        """``of_inodes``: the locks belong to inodes (``{m:MAPPING}:inode``): a lock of a file that does not
        exist is refused with NotFound and nothing is written (no lock record for a name a caller made up)."""
        self.redis = redis
        self.of_inodes = of_inodes
        self.lease_ms = lease_ms
        self.wait_s = wait_s
        self.on_intent = on_intent

    @contextlib.asynccontextmanager
    async def hold(self, name: str, mapping: str, mode: str, load: bool = False, recovering: bool = False,
                   trylock: bool = False, step: tuple[Step, dict] | None = None):
        """``async with locks.hold(I_RWSEM, m, WRITE) as grant:`` down_write ... up_write.

        ``load`` returns the inode's fields with the grant (the same round trip); ``step`` = (Step, its KEY and
        ARG values by name) runs that step in the same round trip too, its decoded reply in ``grant.step``
        (needs ``load``). A
        task that already holds the lock for writing gets it again (a recovery run under its caller's lock),
        without a new grant. ``trylock`` (down_write_trylock): a lock held by another task is not waited for:
        ABORTED at once."""
        again = next((h for h in held() if (h.name, h.mapping) == (name, mapping)), None)
        if again is not None and again.mode == WRITE:
            grant = Grant(again, reentered=True)
            inode_key = keys.mapping(mapping, "inode")
            if step is not None:
                grant.step = await step[0].alone(self.redis, inode=inode_key, **step[1])
            if load:
                grant.inode = await self.redis.hgetall(inode_key)
            yield grant
            return
        from mmsim.allocator import lockdep  # noqa: PLC0415 - lockdep reads this module's ORDER

        report = lockdep.check_order(held(), name, mapping, mode)
        if report:
            _log.warning("lockdep", report=report, held_locks=[h.encode() for h in held()])
            _event("lockdep", report=report)
            tracing.annotate(lockdep=report)
        grant = await self._down(name, mapping, mode, load, recovering, trylock, step)
        try:
            with scope.holding(grant.lock.encode()):
                yield grant
        finally:
            if not grant.released:
                await self._up(grant.lock)

    @contextlib.asynccontextmanager
    async def hold_all(self, mappings: list[str], names: tuple[str, ...] = ORDER, mode: str = WRITE,
                       load: bool = False, recovering: bool = False):
        """Several locks in the lock order: every class outermost first, mappings by id within a class
        (lock_two_nondirectories + filemap_invalidate_lock_two). Yields {mapping: inode fields} when ``load``."""
        async with contextlib.AsyncExitStack() as stack:
            inodes: dict[str, dict] = {}
            ordered = sorted(names, key=ORDER.index)
            for name in ordered:
                last = load and name == ordered[-1]   # the inodes are read with the innermost grants
                for m in sorted(set(mappings)):
                    grant = await stack.enter_async_context(self.hold(name, m, mode, last, recovering))
                    if last:
                        inodes[m] = grant.inode
            yield inodes

    async def _down(self, name: str, mapping: str, mode: str, load: bool, recovering: bool,
                    trylock: bool = False, step: tuple[Step, dict] | None = None) -> Grant:
        acquire, step_values = _ACQUIRE, {}
        if step is not None:
            if not load:
                raise TypeError("a step under a lock needs load=True (it is given the inode's fields)")
            acquire, step_values = step[0].granted, step[1]
        waiter = f"{task_id()}/{secrets.token_hex(4)}"
        started = time.monotonic()
        deadline = started + self.wait_s
        recoveries = 0
        contended = False
        try:
            while True:
                r = await acquire(self.redis, lock=lock_key(name, mapping), intent=intent_key(mapping),
                                  inode=keys.mapping(mapping, "inode"), mode=mode, task=task_id(), waiter=waiter,
                                  lease_ms=self.lease_ms, waitreg_ms=2 * WAIT_SLICE_MS, recovering=int(recovering),
                                  load=int(load), must_exist=int(load or self.of_inodes), **step_values)
                if r.kind == "NOENT":
                    raise NotFound(f"no such file {mapping}")
                if r.kind == "OK":
                    lock = HeldLock(name, mapping, mode, r.token)
                    waited = (time.monotonic() - started) * 1000
                    _event("lock.acquire", lock=name, mapping=mapping, mode=mode, token=lock.token,
                           waited_ms=round(waited, 3), contended=contended)
                    return Grant(lock, dict(zip(r.inode[::2], r.inode[1::2])), waited,
                                 step[0].spec.decode(r.step) if step is not None else None)
                if r.kind == "INTENT":
                    recoveries += 1
                    if self.on_intent is None or recoveries > MAX_RECOVERIES:
                        raise FailedPrecondition(f"{mapping}: an interrupted {r.op} is still to be "
                                                 "finished (its intent stays); retry once recovery has run")
                    _event("lock.recover", lock=name, mapping=mapping, operation=r.op)
                    await self.on_intent(mapping)
                    continue
                holder, left = r.holder, r.left
                if trylock:
                    raise Aborted(f"{name} of {mapping} is held by {holder or 'another task'} (trylock: not waiting)")
                remaining = deadline - time.monotonic()
                if not contended:
                    _event("lock.contended", lock=name, mapping=mapping, mode=mode, holder=holder, holder_lease_ms=left)
                    contended = True
                if remaining <= 0:
                    raise Unavailable(f"{name} of {mapping}: still held by {holder or 'another task'} after "
                                      f"{self.wait_s:g} s (lease {left} ms left); retry later")
                # sleep until a release wakes us, the holder's lease runs out, or our registration needs renewing
                timeout_ms = max(10, min(left + 1, WAIT_SLICE_MS, int(remaining * 1000)))
                await self.redis.blpop([wake_key(name, mapping)], timeout=timeout_ms / 1000)
        except BaseException:   # gave up (bound reached, cancelled): stop keeping readers out at once
            with contextlib.suppress(Exception):
                await self.redis.hdel(lock_key(name, mapping), f"ww:{waiter}", f"rw:{waiter}")
            raise

    async def _up(self, lock: HeldLock) -> None:
        r = await _RELEASE(self.redis, lock=lock_key(lock.name, lock.mapping), wake=wake_key(lock.name, lock.mapping),
                           mode=lock.mode, token=lock.token)
        released(lock, bool(r.held), r.woken)


def released(lock: HeldLock, still: bool, woken: int) -> None:
    """The lock.release span event (and the lease-expired warning) of a release, made here or by a fenced step
    that released the lock in the same script as its work (lk_release)."""
    _event("lock.release", lock=lock.name, mapping=lock.mapping, mode=lock.mode, token=lock.token,
           lease_expired=not still, woken=woken)
    if not still:
        _log.warning("lock.lease_expired", lock=lock.encode())


async def verify(redis, claims: list[HeldLock]) -> list[HeldLock]:
    """The claims that are real grants in Redis right now (one round trip for all of them)."""
    if not claims:
        return []
    pipe = redis.pipeline(transaction=False)
    for h in claims:
        pipe.hget(lock_key(h.name, h.mapping), "w" if h.mode == WRITE else f"r:{h.token}")
    found = await pipe.execute()
    return [h for h, v in zip(claims, found) if v is not None and (h.mode == READ or int(v) == h.token)]
