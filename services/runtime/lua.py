"""Running composed Lua scripts: one EVALSHA, errors raised inside Lua turned into mmsim errors.

The Lua libraries raise ``error('XAERR <errno> <message>')`` (the XArray library: EINVAL, EBUSY, ENOENT,
EEXIST, ENOMEM; the errno stays on the raised error as ``.errno``, its class gives the gRPC status) or ``error('MMSIM <ErrorClass> <message>')`` (the vmemmap/buddy libraries and the
service scripts: a class name from mmsim.runtime.errors). Redis does not roll back a script's writes on
error, so every library checks before it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio.client import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from mmsim.runtime import errors

_PATTERN = re.compile(r"(XAERR|MMSIM) (\w+) (.*)", re.S)
_ERRNO = {
    "EINVAL": errors.InvalidArgument,
    "EBUSY": errors.AlreadyExists,
    "EEXIST": errors.AlreadyExists,
    "ENOENT": errors.NotFound,
    "ENOMEM": errors.ResourceExhausted,
    "ERANGE": errors.OutOfRange,
}


def translate(exc: ResponseError) -> errors.MMError | None:
    """The mmsim error a Lua ``error()`` stands for, or None for a genuine Redis error."""
    found = _PATTERN.search(str(exc))
    if not found:
        return None
    kind, code, message = found.groups()
    cls = _ERRNO.get(code) if kind == "XAERR" else getattr(errors, code, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, errors.MMError)):
        return None
    return cls(message.strip(), code if kind == "XAERR" else None)


LOCKS_LUA = Path(__file__).with_name("locks.lua").read_text()
"""The sleeping-lock library (lk_now, lk_purge, lk_fence, lk_wake): mmsim.runtime.locks runs it."""

_FENCE_PROLOGUE = LOCKS_LUA + "\nlk_fence(table.remove(KEYS), table.remove(ARGV))\n"


@dataclass(frozen=True)
class Fence:
    """What a fenced script checks first: the lock's hash key and 'r:TOKEN' / 'w:TOKEN' ('' = no lock held)."""

    key: str
    spec: str = ""


class Script:
    """A registered script; ``await script(keys, args)`` runs it once (EVALSHA, EVAL on NOSCRIPT).

    A ``fenced`` script first checks the caller's fencing token (``fence=``, mmsim.runtime.locks.fence_for)
    and refuses with ABORTED (ESTALE) before any write when that lock's lease is gone: a holder that
    stalled past its lease cannot act on state another holder now owns. The fence's key and spec ride as
    the last KEY and ARGV and are popped before the script's own body sees KEYS/ARGV."""

    _registered: dict[tuple[int, str, bool], Script] = {}

    def __init__(self, client: Redis, source: str, fenced: bool = False):
        self.fenced = fenced
        self._script: AsyncScript = client.register_script(_FENCE_PROLOGUE + source if fenced else source)

    @classmethod
    def on(cls, client: Redis, source: str, fenced: bool = False) -> Script:
        """The script registered once per client (for modules that get their Redis client per call)."""
        key = (id(client), source, fenced)
        script = cls._registered.get(key)
        if script is None:
            script = cls._registered[key] = cls(client, source, fenced)
        return script

    async def __call__(self, keys: list[str], args: list, fence: Fence | None = None) -> object:
        if self.fenced:
            if fence is None:
                raise TypeError("a fenced script needs fence= (mmsim.runtime.locks.fence_for)")
            keys, args = [*keys, fence.key], [*args, fence.spec]
        try:
            return await self._script(keys=keys, args=args)
        except ResponseError as exc:
            err = translate(exc)
            if err is None:
                raise
            raise err from None
