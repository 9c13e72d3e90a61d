"""Running composed Lua scripts: one EVALSHA, errors raised inside Lua turned into mmsim errors.

The Lua libraries raise ``error('XAERR <errno> <message>')`` (the XArray library: EINVAL, EBUSY, ENOENT,
EEXIST, ENOMEM; the errno stays on the raised error as ``.errno``, its class gives the gRPC status) or ``error('MMSIM <ErrorClass> <message>')`` (the vmemmap/buddy libraries and the
service scripts: a class name from mmsim.runtime.errors). Redis does not roll back a script's writes on
error, so every library checks before it writes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from redis.exceptions import NoScriptError, ResponseError

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

@dataclass(frozen=True)
class Fence:
    """What a fenced script checks first: the lock's hash key and 'r:TOKEN' / 'w:TOKEN' ('' = no lock held)."""

    key: str
    spec: str = ""


_DECLARED: dict[str, str] = {}
"""Every script's text by SHA1, as the modules declared them (each ShaScript and SpecScript, declared at
import): ``preload`` loads them at a service's start-up."""


def declare(text: str) -> str:
    """Remember a script's full text for ``preload``; returns its SHA1."""
    sha = hashlib.sha1(text.encode()).hexdigest()
    _DECLARED.setdefault(sha, text)
    return sha


@dataclass(frozen=True)
class Named:
    """A declared SpecScript as ``mmsim bench scripts`` reports it: its ``.lua`` file's name and the
    libraries its every call defines again before the body runs (the fence's lock library included)."""

    name: str
    libraries: str


_NAMED: dict[str, Named] = {}
"""The SpecScripts by SHA1 (filled at import, as _DECLARED)."""


def named(sha: str) -> Named | None:
    """The SpecScript of that SHA1, if this process has imported the module that declares it."""
    return _NAMED.get(sha)


async def preload(redis) -> int:
    """SCRIPT LOAD of every declared script, one pipeline at start-up (before the service serves), so that no
    call's first use costs a NOSCRIPT and an EVAL. A Redis that loses its script cache later (restarted) is
    still served: each call falls back to EVAL once on NOSCRIPT. Returns the number of scripts loaded."""
    texts = list(_DECLARED.values())
    pipe = redis.pipeline(transaction=False)
    for text in texts:
        pipe.script_load(text)
    await pipe.execute()
    return len(texts)


def _fence_args(fenced: bool, keys: list, args: list, fence: Fence | None) -> tuple[list, list]:
    """KEYS and ARGV of a call, with a fenced script's fence key and spec appended (the prologue pops them)."""
    if not fenced:
        return keys, args
    if fence is None:
        raise TypeError("a fenced script needs fence= (mmsim.runtime.locks.fence_for)")
    return [*keys, fence.key], [*args, fence.spec]


def raise_from_redis(exc: ResponseError) -> None:
    """Re-raise a script's ``mm_fail`` / ``error('XAERR ...')`` as the mmsim error it names; others unchanged."""
    err = translate(exc)
    if err is None:
        raise exc
    raise err from None


def source(module_file: str, *names: str) -> str:
    """The text of the ``.lua`` files ``names`` beside ``module_file`` (a module's ``__file__``), joined in order:
    every script and library lives in a file beside the module that runs it."""
    here = Path(module_file).parent
    return "\n".join((here / f"{name}.lua").read_text() for name in names)


class ShaScript:
    """EVALSHA of a fixed source, EVAL on NOSCRIPT, MMSIM errors mapped (one round trip once cached). The
    Redis client is passed per call (``await script(redis, keys, args)``), for modules that hold none."""

    def __init__(self, text: str):
        self.source = text
        self.sha = declare(text)

    async def __call__(self, redis, keys: list, args: list):
        try:
            try:
                return await redis.evalsha(self.sha, len(keys), *keys, *args)
            except NoScriptError:
                return await redis.eval(self.source, len(keys), *keys, *args)
        except ResponseError as exc:
            raise_from_redis(exc)


def _text(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


@dataclass(frozen=True)
class Reply:
    """A script's reply decoded by its Spec: ``kind`` (the reply's first element) and its named fields
    (``reply.reason``, ``reply["freed"]``); ints where the spec says ``name:int``, lists for ``*name``."""

    kind: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def __getattr__(self, name: str):
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(f"reply {self.kind!r} has no field {name!r}") from None

    def __getitem__(self, name: str):
        return self.fields[name]


def _int(x) -> int:
    return int(_text(x))


_DECODERS = {"": _text, "int": _int, "bytes": lambda x: x}


def _field(spec: str):
    """'name', 'name:int', 'name:bytes', '*name...' -> (name, its decoder, takes the rest of the reply)."""
    name, _, kind = spec.lstrip("*").partition(":")
    return name, _DECODERS[kind], spec.startswith("*")


@dataclass(frozen=True)
class Spec:
    """A script's interface, declared once: its ``.lua`` file, KEYS and ARGV by name, its replies by kind.

    ``keys``/``args`` name KEYS[1..] and ARGV[1..]; an arg written ``*name`` takes a list, flattened at the end
    of ARGV. The script body reads them by name, ``KEY.mm`` and ``ARG.pid`` (a prologue built here binds
    them, ``ARG.name`` of a ``*name`` arg being a Lua array), so neither side counts positions. ``replies``
    maps a reply's first element to the names of the elements after it (``'n:int'`` decoded as an int,
    ``'*freed'`` the rest as a list, ``'data:bytes'`` left as bytes); an undeclared kind is a bug and
    raises."""

    file: str
    keys: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    replies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = list(self.keys) + [a.lstrip("*") for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.file}: KEYS and ARGV names must be distinct, got {names}")
        if any(a.startswith("*") for a in self.args[:-1]):
            raise ValueError(f"{self.file}: only the last arg may be a list (*name)")
        if {"fence", "redis"} & set(names):
            raise ValueError(f"{self.file}: 'fence' and 'redis' are SpecScript's own parameters, not names")
        clash = {_field(f)[0] for f in (f for fs in self.replies.values() for f in fs)} & {"kind", "fields"}
        if clash:
            raise ValueError(f"{self.file}: reply fields may not be named {sorted(clash)} (Reply's own attributes)")

    def prologue(self, fenced: bool = False) -> str:
        """Lua binding the names: ``local KEY = {mm = KEYS[1], ...}`` and ``local ARG = {...}``; ``fenced``: the
        fence's key and spec, the last KEY and ARGV, are popped into ``KEY.fence`` and ``ARG.fence`` (no local
        of their own: the largest composed scripts are near Lua's 200 locals)."""
        keys = [f"{k} = KEYS[{i}]" for i, k in enumerate(self.keys, 1)]
        args = [f"{a} = ARGV[{i}]" for i, a in enumerate(self.args, 1) if not a.startswith("*")]
        if fenced:
            keys, args = ["fence = table.remove(KEYS)", *keys], ["fence = table.remove(ARGV)", *args]
        lines = [f"local KEY = {{{', '.join(keys)}}}", f"local ARG = {{{', '.join(args)}}}"]
        if self.args and self.args[-1].startswith("*"):
            name, n = self.args[-1][1:], len(self.args)
            lines.append(f"ARG.{name} = {{}}\nfor i = {n}, #ARGV do ARG.{name}[i - {n - 1}] = ARGV[i] end")
        return "\n".join(lines) + "\n"

    def build(self, values: Mapping[str, object]) -> tuple[list, list]:
        """KEYS and ARGV from named values (every declared name, nothing else)."""
        wanted = set(self.keys) | {a.lstrip("*") for a in self.args}
        if set(values) != wanted:
            raise TypeError(f"{self.file}: missing {sorted(wanted - set(values))}, unknown {sorted(set(values) - wanted)}")
        argv: list = []
        for a in self.args:
            argv += list(values[a[1:]]) if a.startswith("*") else [values[a]]
        return [values[k] for k in self.keys], argv

    def decode(self, reply) -> Reply:
        kind = _text(reply[0])
        if kind not in self.replies:
            raise RuntimeError(f"{self.file}: undeclared reply {kind!r}")
        out: dict[str, object] = {}
        for i, f in enumerate(self.replies[kind], 1):
            name, dec, rest = _field(f)
            if rest:
                out[name] = [dec(x) for x in reply[i:]]
            else:
                # a shorter reply of the same kind (an early return) leaves its trailing text fields empty
                out[name] = dec(reply[i]) if i < len(reply) else (None if dec is _int else dec(b""))
        return Reply(kind, out)


class SpecScript:
    """A Spec bound to its source (the libraries it needs, the prologue, the body from its ``.lua`` file, or
    ``body`` for a script composed of several files: mmsim.runtime.locks.Step):
    ``reply = await script(redis, mm=..., pid=...)``, one EVALSHA (declared at import: ``preload`` loads it).

    ``fenced``: the script checks the caller's fencing token first
    (``await script(redis, fence=locks.fence_for(mapping), ...)``) and refuses with ABORTED (ESTALE) before
    any write when that lock's lease is gone: a holder that stalled past its lease cannot act on state another
    holder now owns. The fence's key and spec ride as the last KEY and ARGV; the body may read them as
    ``KEY.fence`` and ``ARG.fence`` (e.g. to release that lock in the same step: lk_release)."""

    def __init__(self, spec: Spec, module_file: str = "", libraries: str = "", fenced: bool = False,
                 body: str | None = None):
        self.spec = spec
        self.fenced = fenced
        body = source(module_file, spec.file) if body is None else body
        fence = (LOCKS_LUA + "\n", "lk_fence(KEY.fence, ARG.fence)\n") if fenced else ("", "")
        self._script = ShaScript(fence[0] + spec.prologue(fenced) + fence[1] + libraries + "\n" + body)
        _NAMED.setdefault(self._script.sha, Named(spec.file, fence[0] + libraries))

    async def __call__(self, redis, fence: Fence | None = None, **values) -> Reply:
        keys, args = _fence_args(self.fenced, *self.spec.build(values), fence)
        return self.spec.decode(await self._script(redis, keys, args))
