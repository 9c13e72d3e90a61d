"""A faithful model of the kernel XArray (lib/xarray.c) kept in Redis.

Every operation is ONE atomic round trip: an EVALSHA of a script made of the Lua library in
``xarray.lua`` plus its operation's few lines (``xarray_<op>.lua``, a SpecScript: its arguments and
replies named once below).  Iteration (``for_each``) fetches up to
``batch`` entries per round trip and, when this process changed the array meanwhile, resumes with
``xa_find_after`` from the last index it yielded (as xa_for_each would see the change).

Errors carry the kernel's errno as ``.errno`` (EINVAL, EBUSY, ENOMEM); the error's class is the gRPC
status the service edge answers with (EINVAL -> INVALID_ARGUMENT, EBUSY -> ALREADY_EXISTS, ENOMEM ->
RESOURCE_EXHAUSTED), and the errno travels as the ``mmsim-errno`` trailing metadata.

Allocating arrays (``flags=XA_FLAGS_ALLOC`` or ``XA_FLAGS_ALLOC1``, xa_init_flags): mark 0 is
XA_FREE_MARK, set on free slots; ``alloc``/``alloc_cyclic`` hand out the lowest free u32 ID; a NULL
stored there reserves the ID until ``erase``.  ALLOC1 keeps index 0 busy (IDs start at 1).

Node allocation failure (fault injection): ``fail_after=n`` (per array) or ``with xa.failing(n):``
(per call) lets n xa_node allocations succeed and fails the next with ENOMEM; the failing operation
leaves the array unchanged.  In Lua set ``xa.fail_after = n`` after ``xa_open``.

Python entries
    ``bytes`` is an object entry (a pointer in the kernel) and always reads back as ``bytes``;
    ``Value(n)`` is ``xa_mk_value(n)`` with 0 <= n <= LONG_MAX; ``None`` is NULL; ``ZERO`` is
    ``XA_ZERO_ENTRY`` (only accepted by ``store``/``insert``/``cmpxchg``, reads back as None except
    in ``cmpxchg`` comparisons and ``dump``).  Indices are ints in 0..ULONG_MAX (2**64-1).

Redis keys (all below the caller's prefix, which must carry a hash tag such as
``mmsim:{m:xfs0/12}:xa``)
    ``<prefix>:r``              hash: ``h`` head entry, ``r`` root level, ``cs`` chunk shift,
                                ``N`` node count, ``m0..m2`` = "1" when the mark is set anywhere
                                (xa_flags); absent when the array is empty.
    ``<prefix>:n<L>:<path>``    hash per xa_node at level L (shift = L*cs); path = one character
                                per slot digit above L (alphabet 0-9a-zA-Z-_); fields: slot
                                offset -> entry, ``c`` count, ``v`` nr_values, ``m0..m2`` hex bitmaps.

Lua calling convention (for scripts that compose XArray updates with other keys of the same
hash tag; build them with ``build_script(body)``)
    * An index is a 16-digit lowercase hex string (``index_hex(i)``); orders and marks are
      plain numbers.  Lua never turns an index into a number.
    * An entry is a string: ``''`` NULL, ``'z'`` XA_ZERO_ENTRY, ``'v<decimal>'`` value,
      ``'p<bytes>'`` object (``encode_entry``/``decode_entry``).
    * ``local xa = xa_open(prefix, chunk_shift_or_nil, flags_or_nil)`` reads the root; then call
      ``xa_load(xa, hex)``, ``xa_store(xa, hex, order, entry)`` -> old (the index rounded down to
      the order), ``xa_erase(xa, hex)`` -> old,
      ``xa_insert(xa, hex, entry)``, ``xa_cmpxchg(xa, hex, old, entry)`` -> current,
      ``xa_reserve(xa, hex)``, ``xa_release(xa, hex)``, ``xa_set_mark/xa_clear_mark(xa, hex, m)``,
      ``xa_get_mark(xa, hex, m)`` -> bool, ``xa_get_order(xa, hex)`` -> int,
      ``xa_find/xa_find_after(xa, hex, maxhex, m_or_nil)`` -> hex, entry (or nil),
      ``xa_split(xa, hex, new_order, entry_or_nil)``, ``xa_try_split(xa, hex, new_order,
      entry_or_nil)`` (nil keeps the old entry), ``xa_marked(xa, m)`` -> bool,
      ``xa_alloc(xa, entry, minhex, maxhex)`` -> hex, ``xa_alloc_cyclic(xa, entry, minhex, maxhex,
      nexthex)`` -> hex, 0|1, nexthex, ``xa_store_range(xa, entry, create, chunks)`` (plan from
      ``range_plan``), ``xa_destroy(xa)``.
    * Finish with ``xa_commit(xa)``: nothing is written before it, so a script that raises
      (``xa_fail``: ``error('XAERR EINVAL|EBUSY|ENOMEM message')``) leaves the array untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from mmsim.runtime import errors
from mmsim.runtime.lua import Reply, Spec, SpecScript

ULONG_MAX = 2**64 - 1
LONG_MAX = 2**63 - 1
UINT_MAX = 2**32 - 1
XA_MARK_0, XA_MARK_1, XA_MARK_2 = 0, 1, 2
XA_FREE_MARK = XA_MARK_0
XA_FLAGS_TRACK_FREE, XA_FLAGS_ZERO_BUSY = 4, 8
XA_FLAGS_ALLOC = XA_FLAGS_TRACK_FREE                          # IDs from 0
XA_FLAGS_ALLOC1 = XA_FLAGS_TRACK_FREE | XA_FLAGS_ZERO_BUSY    # IDs from 1

XA_LUA_LIB = Path(__file__).with_name("xarray.lua").read_text()


def require(condition: bool, message: str) -> None:
    """An argument check that fails as the kernel does: -EINVAL."""
    errors.require(condition, message, errno="EINVAL")


def build_script(body: str) -> str:
    """Lua source of a script: the XArray library followed by ``body`` (KEYS/ARGV as you wish)."""
    return XA_LUA_LIB + "\n" + body


class Value(int):
    """A value entry, ``xa_mk_value(n)`` (include/linux/xarray.h), 0 <= n <= LONG_MAX."""

    def __new__(cls, n: int) -> Value:
        require(isinstance(n, int) and 0 <= n <= LONG_MAX, f"value must be 0..LONG_MAX, not {n!r}")
        return super().__new__(cls, n)

    def __repr__(self) -> str:
        return f"Value({int(self)})"


class _Zero:
    """``XA_ZERO_ENTRY``: occupies a slot but loads as NULL."""

    def __repr__(self) -> str:
        return "ZERO"


ZERO = _Zero()
Entry = bytes | Value | None


def index_hex(index: int) -> str:
    require(isinstance(index, int) and 0 <= index <= ULONG_MAX, f"index must be 0..ULONG_MAX, not {index!r}")
    return f"{index:016x}"


def encode_entry(entry) -> bytes:
    if entry is None:
        return b""
    if entry is ZERO:
        return b"z"
    if isinstance(entry, Value):
        return b"v%d" % int(entry)
    if isinstance(entry, bytes):
        return b"p" + entry
    raise errors.InvalidArgument(f"an entry is bytes, Value, ZERO or None, not {type(entry).__name__}", "EINVAL")


def decode_entry(raw: bytes | None):
    if not raw:
        return None
    kind, body = raw[:1], raw[1:]
    if kind == b"v":
        return Value(int(body))
    if kind == b"p":
        return body
    if kind == b"z":
        return ZERO
    if kind == b"s":
        return Sibling(int(body))
    if kind == b"n":
        return NODE
    raise ValueError(f"corrupt entry {raw!r}")


@dataclass(frozen=True)
class Sibling:
    """A sibling entry (``xa_mk_sibling``) pointing at the canonical slot ``offset``; dump only."""

    offset: int


NODE = "node"


def _set_range(first: int, last: int, cs: int) -> tuple[int, int]:
    """models lib/xarray.c: xas_set_range -> (level, sibs) of the next chunk starting at first."""
    mask = (1 << cs) - 1
    shift, sibs, offset = 0, last - first, mask
    while first & mask == 0:
        if sibs < mask or (sibs == mask and offset < mask):
            break
        shift += cs
        if offset == mask:
            offset = sibs & mask
        sibs >>= cs
        first >>= cs
    offset = first & mask
    if offset + sibs > mask:
        sibs = mask - offset
    if ((((first + sibs + 1) << shift) - 1) & ULONG_MAX) > last:
        sibs -= 1
    return shift // cs, sibs


def range_plan(first: int, last: int, cs: int) -> tuple[tuple[str, int, int] | None, list[tuple[str, int, int]]]:
    """The stores xa_store_range makes: (xas_create of ``last``, chunks), each (hex, level, sibs)."""
    create = None
    if last < ULONG_MAX:
        order = ((last + 1) & -(last + 1)).bit_length() - 1
        create = (index_hex((last >> order) << order), order // cs, (1 << (order % cs)) - 1)
    chunks = []
    while first <= last:
        level, sibs = _set_range(first, last, cs)
        chunks.append((index_hex(first), level, sibs))
        first += (sibs + 1) << (level * cs)
    return create, chunks


_OPEN = build_script("local xa = xa_open(KEY.xa, ARG.chunk_shift, ARG.flags)\nxa.fail_after = tonumber(ARG.fail_after)\n")
"""What every XArray script does first, after the library: open the array ``xa`` (KEY xa: the prefix; ARG
chunk_shift, flags: xa_init_flags'; fail_after: node allocations allowed before ENOMEM, '' = never)."""
_ARRAY = ("chunk_shift", "flags", "fail_after")


def _script(name: str, args: tuple[str, ...], replies: dict[str, tuple[str, ...]]) -> SpecScript:
    """xarray_<name>.lua: KEY xa, ARG the array's (_ARRAY) and then ``args``, its replies."""
    return SpecScript(Spec(f"xarray_{name}", keys=("xa",), args=(*_ARRAY, *args), replies=replies), __file__, _OPEN)


# One script per operation (xarray_*.lua); indices and bounds travel as index_hex strings, entries as
# encode_entry bytes ('' = NULL). Replies name what they return: an entry (decode_entry), an ID (hex).
LOAD = _script("load", ("index",), {"loaded": ("entry:bytes",)})
STORE = _script("store", ("index", "order", "entry"), {"stored": ("old:bytes",)})
ERASE = _script("erase", ("index",), {"erased": ("old:bytes",)})
INSERT = _script("insert", ("index", "entry"), {"inserted": ()})
CMPXCHG = _script("cmpxchg", ("index", "old", "entry"), {"compared": ("cur:bytes",)})
RESERVE = _script("reserve", ("index",), {"reserved": ()})
RELEASE = _script("release", ("index",), {"released": ()})
SET_MARK = _script("set_mark", ("index", "mark"), {"set": ()})
CLEAR_MARK = _script("clear_mark", ("index", "mark"), {"cleared": ()})
GET_MARK = _script("get_mark", ("index", "mark"), {"mark": ("set:int",)})
MARKED = _script("marked", ("mark",), {"marked": ("marked:int",)})
GET_ORDER = _script("get_order", ("index",), {"order": ("order:int",)})
SPLIT = _script("split", ("index", "order", "entry"), {"split": ()})          # entry '' keeps the old entry
TRY_SPLIT = _script("try_split", ("index", "order", "entry"), {"split": ()})  # likewise
ALLOC = _script("alloc", ("entry", "min", "max"), {"allocated": ("id",)})
ALLOC_CYCLIC = _script("alloc_cyclic", ("entry", "min", "max", "next"),
                       {"allocated": ("id", "wrapped:int", "next")})
DESTROY = _script("destroy", (), {"destroyed": ()})
STORE_RANGE = _script("store_range", ("entry", "create_index", "create_level", "create_sibs", "*chunks"),
                      {"stored": ()})   # range_plan's create ('' = none) and chunks, (index, level, sibs) each
FIND = _script("find", ("start", "max", "mark", "how", "limit"), {"found": ("*found:bytes",)})
"""how: 'find' (xa_find from start) or 'after' (xa_find_after); mark '' = XA_PRESENT. found: (index, entry)
per entry, at most limit."""
INFO = _script("info", (), {"info": ("head:bytes", "rlevel:int", "nnodes:int")})
KEYS = _script("keys", (), {"keys": ("*keys",)})
DUMP = _script("dump", (), {"dump": ("head:bytes", "rlevel:int", "nnodes:int", "cs:int", "marks", "*nodes:bytes")})
"""marks: '1'/'0' per xa_flags mark; nodes: one record per node, parents first (level, first index, count,
nr_values, the marks' hex bitmaps, then offset, entry per occupied slot)."""


@dataclass
class DumpNode:
    """One xa_node as ``dump`` reports it (index = first index the node covers)."""

    shift: int
    index: int
    offset: int
    count: int
    nr_values: int
    marks: tuple[frozenset[int], frozenset[int], frozenset[int]]
    slots: dict[int, object] = field(default_factory=dict)


@dataclass
class Dump:
    """``xa_dump`` as data: head entry, root shift, flags marks and every node, parents first."""

    chunk_shift: int
    head: object
    root_shift: int | None
    marks: tuple[bool, bool, bool]
    nodes: list[DumpNode]
    node_count: int = 0   # the array's count of xa_nodes (as ``nodes()``)


def _bits(hexmap: bytes) -> frozenset[int]:
    out = set()
    for i, ch in enumerate(hexmap.decode()):
        v = int(ch, 16)
        out.update(i * 4 + b for b in range(4) if v >> b & 1)
    return frozenset(out)


_KEEP = object()   # split/try_split: every new entry keeps the old entry (the page cache's use)

# per Redis client and prefix: bumped by every change this process makes through an XArray, so that
# for_each notices a change made while it walks (xa_for_each sees it; a prefetched batch would not)
_generation: dict[tuple[int, str], int] = {}


@dataclass(frozen=True)
class CyclicId:
    """What xa_alloc_cyclic gives back: the ID, whether the search wrapped (its return value 1), next."""

    id: int
    wrapped: bool
    next: int


class XArray:
    """An XArray in Redis under ``prefix`` (models struct xarray + lib/xarray.c; async).

    ``flags`` are xa_init_flags' (0, XA_FLAGS_ALLOC or XA_FLAGS_ALLOC1); ``fail_after`` makes node
    allocation fail after that many successful allocations per operation (None: never).
    """

    def __init__(self, client: aioredis.Redis, prefix: str, chunk_shift: int = 6, flags: int = 0,
                 fail_after: int | None = None):
        require(isinstance(chunk_shift, int) and 2 <= chunk_shift <= 6, "chunk_shift must be 2..6")
        require("{" in prefix and "}" in prefix, "prefix must carry a Redis Cluster hash tag")
        require(flags in (0, XA_FLAGS_ALLOC, XA_FLAGS_ALLOC1), "flags must be 0, XA_FLAGS_ALLOC or XA_FLAGS_ALLOC1")
        self.client, self.prefix, self.chunk_shift, self.flags = client, prefix, chunk_shift, flags
        self.fail_after = self._budget(fail_after)
        self._gen_key = (id(client), prefix)

    @staticmethod
    def _budget(fail_after):
        require(fail_after is None or (isinstance(fail_after, int) and fail_after >= 0),
                "fail_after must be None or a count >= 0")
        return fail_after

    @contextmanager
    def failing(self, after: int = 0) -> Iterator[XArray]:
        """Node allocation fails (ENOMEM) after ``after`` allocations in the calls made inside."""
        saved, self.fail_after = self.fail_after, self._budget(after)
        try:
            yield self
        finally:
            self.fail_after = saved

    async def _run(self, script: SpecScript, **values) -> Reply:
        budget = "" if self.fail_after is None else self.fail_after
        return await script(self.client, xa=self.prefix, chunk_shift=self.chunk_shift, flags=self.flags,
                            fail_after=budget, **values)

    async def _change(self, script: SpecScript, **values) -> Reply:
        try:
            return await self._run(script, **values)
        finally:
            _generation[self._gen_key] = _generation.get(self._gen_key, 0) + 1

    @staticmethod
    def _mark(mark: int) -> int:
        require(mark in (0, 1, 2), f"mark must be 0, 1 or 2, not {mark!r}")
        return mark

    async def load(self, index: int) -> Entry:
        """models lib/xarray.c: xa_load."""
        return decode_entry((await self._run(LOAD, index=index_hex(index))).entry)

    async def store(self, index: int, entry) -> Entry:
        """models lib/xarray.c: xa_store (order 0); returns the old entry.

        In an allocating array NULL is stored as XA_ZERO_ENTRY: the ID stays in use until ``erase``.
        """
        return await self.store_order(index, 0, entry)

    async def store_order(self, index: int, order: int, entry) -> Entry:
        """models lib/test_xarray.c: xa_store_order (XA_STATE_ORDER + lib/xarray.c: xas_store).

        Like XA_STATE_ORDER the index is rounded down to a multiple of 2**order.
        """
        require(isinstance(order, int) and 0 <= order <= 63, "order must be 0..63")
        r = await self._change(STORE, index=index_hex(index), order=order, entry=encode_entry(entry))
        return decode_entry(r.old)

    async def erase(self, index: int) -> Entry:
        """models lib/xarray.c: xa_erase (the whole multi-index entry goes; an ID is freed)."""
        return decode_entry((await self._change(ERASE, index=index_hex(index))).old)

    async def insert(self, index: int, entry) -> None:
        """models lib/xarray.c: __xa_insert; EBUSY (AlreadyExists) when occupied (reserved included)."""
        await self._change(INSERT, index=index_hex(index), entry=encode_entry(entry))

    async def cmpxchg(self, index: int, old, entry) -> Entry:
        """models lib/xarray.c: __xa_cmpxchg; returns the entry that was there (ZERO -> None)."""
        r = await self._change(CMPXCHG, index=index_hex(index), old=encode_entry(old), entry=encode_entry(entry))
        return decode_entry(r.cur)

    async def reserve(self, index: int) -> None:
        """models include/linux/xarray.h: xa_reserve."""
        await self._change(RESERVE, index=index_hex(index))

    async def release(self, index: int) -> None:
        """models include/linux/xarray.h: xa_release (only a reserved slot is freed)."""
        await self._change(RELEASE, index=index_hex(index))

    @staticmethod
    def _u32(name: str, value: int) -> str:
        require(isinstance(value, int) and 0 <= value <= UINT_MAX, f"{name} must be a u32 (0..{UINT_MAX}), not {value!r}")
        return index_hex(value)

    async def alloc(self, entry, min: int = 0, max: int = UINT_MAX) -> int:
        """models lib/xarray.c: __xa_alloc -> the lowest free ID in min..max (EBUSY when none is).

        The array needs XA_FLAGS_ALLOC or XA_FLAGS_ALLOC1 (else EINVAL); a NULL entry reserves the ID.
        """
        r = await self._change(ALLOC, entry=encode_entry(entry), min=self._u32("min", min), max=self._u32("max", max))
        return int(r.id, 16)

    async def alloc_cyclic(self, entry, next: int, min: int = 0, max: int = UINT_MAX) -> CyclicId:
        """models lib/xarray.c: __xa_alloc_cyclic: the lowest free ID from ``next``, wrapping to ``min``.

        ``wrapped`` is the kernel's return value 1: the search wrapped, or ``next`` passed UINT_MAX
        (XA_FLAGS_ALLOC_WRAPPED) since the last allocation. The caller keeps ``next``, as it keeps
        the kernel's ``u32 *next``.
        """
        r = await self._change(ALLOC_CYCLIC, entry=encode_entry(entry), min=self._u32("min", min),
                               max=self._u32("max", max), next=self._u32("next", next))
        return CyclicId(int(r.id, 16), r.wrapped == 1, int(r.next, 16))

    async def store_range(self, first: int, last: int, entry) -> None:
        """models lib/xarray.c: xa_store_range (xas_set_range chunks, planned by ``range_plan``).

        The whole index space (0..ULONG_MAX) is refused: the kernel's chunk size overflows there.
        """
        index_hex(first), index_hex(last)
        require(last >= first, "last < first")
        require(not (first == 0 and last == ULONG_MAX), "cannot store over the whole index space")
        require(entry is not ZERO, "cannot store an internal entry over a range")
        create, chunks = range_plan(first, last, self.chunk_shift)
        create_index, create_level, create_sibs = create or ("", 0, 0)
        await self._change(STORE_RANGE, entry=encode_entry(entry), create_index=create_index, create_level=create_level,
                           create_sibs=create_sibs, chunks=[x for chunk in chunks for x in chunk])

    async def _find(self, how: str, index: int, max: int, mark: int | None, limit: int):
        require(mark is None or mark in (0, 1, 2), f"mark must be 0, 1 or 2, not {mark!r}")
        mark_arg = "" if mark is None else mark
        raw = (await self._run(FIND, start=index_hex(index), max=index_hex(max), mark=mark_arg, how=how,
                               limit=limit)).found
        return [(int(raw[i], 16), decode_entry(raw[i + 1])) for i in range(0, len(raw), 2)]

    async def find(self, start: int, max: int = ULONG_MAX, mark: int | None = None):
        """models lib/xarray.c: xa_find -> (index, entry) or None (mark None = XA_PRESENT)."""
        found = await self._find("find", start, max, mark, 1)
        return found[0] if found else None

    async def find_after(self, index: int, max: int = ULONG_MAX, mark: int | None = None):
        """models lib/xarray.c: xa_find_after -> (index, entry) or None."""
        found = await self._find("after", index, max, mark, 1)
        return found[0] if found else None

    async def for_each(
        self, start: int = 0, max: int = ULONG_MAX, mark: int | None = None, batch: int = 256
    ) -> AsyncIterator[tuple[int, Entry]]:
        """models include/linux/xarray.h: xa_for_each_range / xa_for_each_marked.

        Like the kernel (xa_find then xa_find_after): a multi-index entry is yielded once, at
        ``start`` if ``start`` lies inside it, otherwise at its first index. Safe against changes:
        when the loop body (or anything in this process) changes the array, the rest of the batch
        is dropped and the walk resumes with xa_find_after from the last index yielded, so an
        entry erased meanwhile is not yielded and one stored beyond the cursor is.
        """
        require(isinstance(batch, int) and batch >= 1, "batch must be >= 1")
        how, cursor = "find", start
        while True:
            gen = _generation.get(self._gen_key, 0)
            found = await self._find(how, cursor, max, mark, batch)
            for i, item in enumerate(found):
                if i and _generation.get(self._gen_key, 0) != gen:
                    break
                yield item
                how, cursor = "after", item[0]
            else:
                if len(found) < batch and _generation.get(self._gen_key, 0) == gen:
                    return

    async def set_mark(self, index: int, mark: int) -> None:
        """models lib/xarray.c: xa_set_mark (no effect on NULL)."""
        await self._change(SET_MARK, index=index_hex(index), mark=self._mark(mark))

    async def clear_mark(self, index: int, mark: int) -> None:
        """models lib/xarray.c: xa_clear_mark."""
        await self._change(CLEAR_MARK, index=index_hex(index), mark=self._mark(mark))

    async def get_mark(self, index: int, mark: int) -> bool:
        """models lib/xarray.c: xa_get_mark."""
        return bool((await self._run(GET_MARK, index=index_hex(index), mark=self._mark(mark))).set)

    async def marked(self, mark: int) -> bool:
        """models include/linux/xarray.h: xa_marked (is any entry marked; the free mark of an
        allocating array: is any ID free below the tree's top)."""
        return bool((await self._run(MARKED, mark=self._mark(mark))).marked)

    async def get_order(self, index: int) -> int:
        """models lib/xarray.c: xa_get_order."""
        return (await self._run(GET_ORDER, index=index_hex(index))).order

    @staticmethod
    def _split_args(index: int, new_order: int, entry) -> dict:
        require(isinstance(new_order, int) and 0 <= new_order <= 63, "new_order must be 0..63")
        require(entry is not None, "a split stores an entry, not NULL")
        return {"index": index_hex(index), "order": new_order, "entry": b"" if entry is _KEEP else encode_entry(entry)}

    async def split(self, index: int, new_order: int, entry=_KEEP) -> None:
        """models lib/xarray.c: xas_split_alloc + xas_split: the entry at ``index`` becomes entries
        of ``new_order`` holding ``entry`` (default: the old entry), each with the old marks.

        Like xas_split_alloc, splits at most one tree level down (order < new level + 2 chunks):
        a deeper split fails with ENOMEM (ResourceExhausted) and changes nothing.
        """
        await self._change(SPLIT, **self._split_args(index, new_order, entry))

    async def try_split(self, index: int, new_order: int, entry=_KEEP) -> None:
        """models lib/xarray.c: xas_try_split (mm/huge_memory.c: __split_unmapped_folio's non-uniform
        split): within the entry's node any smaller order; to the level below only from an entry of
        one whole slot (order a multiple of the chunk shift), else EINVAL. Its one new node may fail
        to allocate (ENOMEM, see ``failing``)."""
        await self._change(TRY_SPLIT, **self._split_args(index, new_order, entry))

    async def destroy(self) -> None:
        """models lib/xarray.c: xa_destroy."""
        await self._change(DESTROY)

    async def empty(self) -> bool:
        """models include/linux/xarray.h: xa_empty (a reserved entry makes it non-empty)."""
        return (await self._run(INFO)).head == b""

    async def nodes(self) -> int:
        """Number of xa_nodes in the tree."""
        return (await self._run(INFO)).nnodes

    async def height(self) -> int:
        """Levels of xa_nodes from the head down: the root node's shift / XA_CHUNK_SHIFT + 1, 0 when
        the head holds the only entry or nothing. (lib/xarray.c has no xa_height; this is the depth
        of an xas_load walk, the radix-tree test suite's tree height.)"""
        return (await self._run(INFO)).rlevel + 1

    async def memory_bytes(self) -> int:
        """Redis MEMORY USAGE summed over the array's keys."""
        keys = (await self._run(KEYS)).keys
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.memory_usage(key)
            sizes = await pipe.execute()
        return sum(size or 0 for size in sizes)

    async def dump(self) -> Dump:
        """models lib/xarray.c: xa_dump, as a structure a caller can draw."""
        r = await self._run(DUMP)
        cs, rlevel = r.cs, r.rlevel
        out = []
        for rec in r.nodes:
            level, index = int(rec[0]), int(rec[1], 16)
            offset = (index >> ((level + 1) * cs)) & ((1 << cs) - 1) if level != rlevel else 0
            slots = {int(rec[i]): decode_entry(rec[i + 1]) for i in range(7, len(rec), 2)}
            out.append(DumpNode(level * cs, index, offset, int(rec[2]), int(rec[3]),
                                (_bits(rec[4]), _bits(rec[5]), _bits(rec[6])), slots))
        return Dump(cs, decode_entry(r.head), rlevel * cs if rlevel >= 0 else None,
                    tuple(ch == "1" for ch in r.marks), out, r.nnodes)
