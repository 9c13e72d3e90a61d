"""Running composed Lua scripts: one EVALSHA, errors raised inside Lua turned into mmsim errors.

The Lua libraries raise ``error('XAERR <errno> <message>')`` (the XArray library: EINVAL, EBUSY, ENOENT,
EEXIST, ENOMEM) or ``error('MMSIM <ErrorClass> <message>')`` (the vmemmap/buddy libraries and the
service scripts: a class name from mmsim.runtime.errors). Redis does not roll back a script's writes on
error, so every library checks before it writes.
"""

from __future__ import annotations

import re

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
    return cls(message.strip())


class Script:
    """A registered script; ``await script(keys, args)`` runs it once (EVALSHA, EVAL on NOSCRIPT)."""

    def __init__(self, client: Redis, source: str):
        self._script: AsyncScript = client.register_script(source)

    async def __call__(self, keys: list[str], args: list) -> object:
        try:
            return await self._script(keys=keys, args=args)
        except ResponseError as exc:
            err = translate(exc)
            if err is None:
                raise
            raise err from None
